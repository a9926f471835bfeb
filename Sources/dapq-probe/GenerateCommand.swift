import ArgumentParser
import Foundation
import Probe

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Greedy continuation of a prompt.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var promptOptions: PromptOptions

    @Option(help: "Most tokens to generate.")
    var maxTokens: Int = 64

    @Flag(help: "Print {\"ids\": [...], \"text\": \"...\"} of the generated tokens only.")
    var json = false

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must not be negative") }
    }

    func run() throws {
        let model = try modelOptions.load()
        let prompt = try promptOptions.tokens(for: model)
        var streamed = [UInt8]()
        let result = try GreedyDecoder(model: model).generate(prompt: prompt, maxTokens: maxTokens) { id in
            guard !json else { return }
            streamed += model.tokenizer.pieceBytes(id)
            // Print whole UTF-8 characters as they complete.
            if let s = String(validating: streamed, as: UTF8.self) {
                FileHandle.standardOutput.write(Data(s.utf8))
                streamed.removeAll()
            }
        }
        let text = model.tokenizer.decode(result.ids)
        if json {
            print(try JSONOutput.line(["ids": result.ids, "text": text]))
        } else {
            if !streamed.isEmpty { FileHandle.standardOutput.write(Data(String(decoding: streamed, as: UTF8.self).utf8)) }
            print("")
        }
    }
}
