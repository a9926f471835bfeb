import ArgumentParser
import Probe

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "Token ids of a text.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "The text to tokenize (special tokens such as <|im_start|> are recognised).")
    var text: String

    @Flag(help: "Print a JSON list of {id, piece}.")
    var json = false

    func run() throws {
        let model = try modelOptions.load()
        let ids = model.tokenizer.encode(text)
        if json {
            print(try JSONOutput.line(ids.map { ["id": $0, "piece": model.tokenizer.piece($0)] as [String: Any] }))
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}
