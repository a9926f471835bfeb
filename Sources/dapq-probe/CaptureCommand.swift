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

    @Flag(help: "Replace an existing output file.")
    var force = false

    @Option(help: "Progress on stderr: auto (on a terminal only), always, never.")
    var progress: ProgressMode = .auto

    func run() throws {
        // One-line errors (not ArgumentParser's usage text): these are values, not syntax.
        guard steps >= 1 else { throw ProbeError("--steps must be at least 1") }
        guard window >= 1 else { throw ProbeError("--window must be at least 1") }
        // Check the output before the long work: an existing file or an unwritable directory fails at once.
        let output = try AtomicOutputFile(path: out, overwrite: force)
        InterruptCleanup.install(for: output)
        defer { InterruptCleanup.uninstall() }
        let modelPath = try ModelCatalogue.resolve(modelOptions.model)
        let model = try modelOptions.load()
        let text = try promptOptions.text()
        let builder = PromptBuilder(model: model)
        let prompt = try builder.tokens(text: text, chat: promptOptions.chat)
        let display = ProgressDisplay(mode: progress)
        defer { display.finish() }
        let data = try Capture(model: model).run(
            prompt: prompt, options: CaptureOptions(steps: steps, window: window, recordValues: values, recordAttention: attention),
            progress: display.show)
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
    }
}
