import ArgumentParser
import Foundation
import Probe

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Prefill a prompt, decode greedily, and record the true decoding queries and the prompt keys into HDF5.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var promptOptions: PromptOptions

    @Option(help: "Decoding steps to record (fewer when the model ends its answer first).")
    var steps: Int = 32

    @Option(help: "How many of the last prompt queries to store (prompt/rot_q_window).")
    var window: Int = 32

    @Option(help: "The HDF5 file to write.")
    var out: String

    @Flag(help: "Also store the prompt values (prompt/v).")
    var values = false

    @Flag(help: "Also store each step's attention over the prompt (decode/attention).")
    var attention = false

    @Option(help: "The prompt tokens holding the answer's source, START:END (END exclusive), stored as prompt/answer_span.")
    var answerSpan: String?

    @Option(help: "The answer's source as text (e.g. the needle's value): prompt/answer_span covers the tokens of its last occurrence in the prompt.")
    var needle: String?

    @Flag(help: "Replace an existing output file.")
    var force = false

    @Option(help: ArgumentHelp(ProgressDisplay.help))
    var progress: ProgressMode = .auto

    func run() throws {
        // One-line errors (not ArgumentParser's usage text): these are values, not syntax.
        guard steps >= 1 else { throw ProbeError("--steps must be at least 1") }
        guard window >= 1 else { throw ProbeError("--window must be at least 1") }
        guard answerSpan == nil || needle == nil else { throw ProbeError("give at most one of --answer-span and --needle") }
        // Check the output before the long work: an existing file or an unwritable directory fails at once.
        let output = try AtomicOutputFile(path: out, overwrite: force)
        InterruptCleanup.install(for: output)
        defer { InterruptCleanup.uninstall() }
        let modelPath = try ModelCatalogue.resolve(modelOptions.model)
        let model = try modelOptions.load()
        let text = try promptOptions.text()
        let builder = PromptBuilder(model: model)
        let prompt = try builder.tokens(text: text, chat: promptOptions.chat)
        let span = try answerSpanOfPrompt(prompt, tokenizer: model.tokenizer)
        let display = ProgressDisplay(mode: progress)
        defer { display.finish() }
        var data = try Capture(model: model).run(
            prompt: prompt, options: CaptureOptions(steps: steps, window: window, recordValues: values, recordAttention: attention),
            progress: display.show)
        data.answerSpan = span
        display.status("writing \(out)")
        let metadata = try CaptureMetadata(
            model: model, modelPath: modelPath, promptText: try builder.promptText(text, chat: promptOptions.chat),
            chat: promptOptions.chat, generatedText: model.tokenizer.decode(data.generatedTokens),
            threads: modelOptions.threads, commandLine: ModelProvenance.shellQuoted(CommandLine.arguments))
        let writeStart = Date()
        try CaptureWriter.write(data, metadata: metadata, to: output)
        let writeSeconds = Date().timeIntervalSince(writeStart)
        let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        let stop = data.stoppedAtEndOfGeneration ? " (stopped at end of generation)" : ""
        print("\(out): \(data.promptLength) prompt tokens, \(data.steps) decoding steps\(stop), "
              + String(format: "prefill %.2f s, decoding %.2f s, writing %.2f s, %.1f MB",
                       data.prefillSeconds, data.decodeSeconds, writeSeconds, Double(size) / 1e6))
        print("answer: \(metadata.generatedText)")
        let spanText = span.map { ", answer span \($0.lowerBound):\($0.upperBound)" } ?? ""
        print("answer evidence: \(data.copyingSteps) of \(data.steps) generated tokens copy the prompt\(spanText)")
    }

    /// The span of `--answer-span` or `--needle` in `prompt`, or nil when neither is given.
    private func answerSpanOfPrompt(_ prompt: [Int], tokenizer: Tokenizer) throws -> Range<Int>? {
        if let answerSpan { return try AnswerSpan.parse(answerSpan, promptLength: prompt.count) }
        guard let needle else { return nil }
        guard let span = AnswerSpan.covering(needle, pieces: prompt.map(tokenizer.pieceBytes)) else {
            let source = promptOptions.promptFile ?? "the prompt"
            throw ProbeError("\(source): --needle '\(needle)' does not occur in the prompt")
        }
        return span
    }
}
