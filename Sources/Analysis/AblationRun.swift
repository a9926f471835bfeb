import Foundation
import Probe

/// An ablation from capture files to one file: finds the captures (files, or folders of them), takes this
/// shard's share, checks them against each other and the model before the long work, runs every variant on
/// each, writes `out` (complete or not at all), and returns what the command prints.
public struct AblationRun {
    /// Capture files, or folders holding them.
    public var captures: [String]
    public var out: String
    public var options: AblationOptions
    public var shard: Shard = .whole
    /// Replace an existing `out`.
    public var force = false
    /// Catalogue name or GGUF path; nil: the captures' `model_path` when it exists, else the catalogue's default.
    public var model: String?
    /// The arithmetic asked for; nil: the captures' (an ablation must reproduce their keys, so another one is refused).
    public var numerics: Numerics?
    public var threads = 2
    /// The KV cache storage; nil: the numerics' default (`LanguageModel.kvType`).
    public var kvType: KVType?
    /// The command line recorded in the file.
    public var commandLine = ""

    public init(captures: [String], out: String, options: AblationOptions) {
        self.captures = captures
        self.out = out
        self.options = options
    }

    /// What a run reports while it works.
    public enum Event: Sendable {
        /// A remark about the inputs (e.g. captures without an answer span).
        case note(String)
        /// Progress inside a prompt.
        case progress(AblationProgress)
        /// Prompt `index` of `count` is being written.
        case writing(index: Int, count: Int)
        /// Prompt `index` is done and written.
        case finished(PromptReport)
        /// The last prompt is done; the file's summaries are being written.
        case writingFile
    }

    /// One finished prompt, as the command reports it.
    public struct PromptReport: Sendable {
        public let index: Int
        public let capturePath: String
        public let promptLength: Int
        public let steps: Int
        public let variants: Int
        public let seconds: Double
        public let prefillSeconds: Double

        /// The line `ablate` prints.
        public var line: String {
            "\(capturePath): n = \(promptLength), \(steps) decoding steps, \(variants) variants in "
                + String(format: "%.1f s (prefill %.1f s)", seconds, prefillSeconds)
        }

        /// The same as a JSON object (`ablate --json`, `"record": "prompt"`).
        public var jsonObject: [String: Any] {
            ["record": "prompt", "index": index, "capture": capturePath, "prompt_length": promptLength, "steps": steps,
             "variants": variants, "seconds": seconds, "prefill_seconds": prefillSeconds]
        }
    }

    /// What a finished run returns.
    public struct Outcome {
        /// The summary table's rows (per prompt and `all`), as written to the file.
        public let rows: [SummaryRow]
        public let table: AblationTable
        public let retrievalHeads: RetrievalHeads
        public let prompts: Int
        public let seconds: Double
        public let bytes: Int

        /// The closing line `ablate` prints.
        public func line(out: String) -> String {
            "\(out): \(prompts) prompt\(prompts == 1 ? "" : "s"), " + String(format: "%.1f s, %.1f MB", seconds, Double(bytes) / 1e6)
        }
    }

    /// Runs the ablation; `events` sees its progress.
    public func execute(events: (Event) -> Void = { _ in }) throws -> Outcome {
        try options.check()
        let allPaths = try Self.capturePaths(captures)
        let paths = shard.share(of: allPaths)
        guard !paths.isEmpty else { throw ProbeError("--shard \(shard): no captures fall to this shard (\(allPaths.count) in all)") }
        let headers = try paths.map(CaptureFile.header)
        if let other = headers.first(where: { $0.modelSHA256 != headers[0].modelSHA256 }) {
            throw ProbeError("\(other.path): made with another model than \(headers[0].path) (model_sha256 differs); ablate captures of one model together")
        }
        if let other = headers.first(where: { $0.numerics != headers[0].numerics }) {
            throw ProbeError("\(other.path): made with numerics \(other.numerics ?? "unknown"), \(headers[0].path) with "
                             + "\(headers[0].numerics ?? "unknown"); ablate captures of one arithmetic together")
        }
        let recorded = headers[0].numerics.flatMap(Numerics.init(rawValue:))
        if let numerics, let recorded, numerics != recorded {
            throw ProbeError("--numerics \(numerics.rawValue): \(headers[0].path) was captured with \(recorded.rawValue), and an "
                             + "ablation must reproduce its keys (leave --numerics out)")
        }
        // Check the output before the long work.
        let output = try AtomicOutputFile(path: out, overwrite: force)
        InterruptCleanup.install(for: output)
        defer { InterruptCleanup.uninstall() }

        ComputeThreads.set(threads)
        try SIMDTier.applyEnvironment()
        let modelPath: String
        if let model {
            modelPath = try ModelCatalogue.resolve(model)
        } else if FileManager.default.fileExists(atPath: headers[0].modelPath) {
            modelPath = headers[0].modelPath
        } else {
            modelPath = try ModelCatalogue.resolve(nil)
        }
        let languageModel: LanguageModel
        let writer: AblationWriter
        let ablation: Ablation
        do {
            languageModel = try LanguageModel(path: modelPath)
            // The captures' arithmetic, so their keys can be reproduced (and the file records it).
            if let arithmetic = recorded ?? numerics { languageModel.numerics = arithmetic }
            if let kvType { try kvType.check(for: languageModel.numerics) }
            languageModel.kvType = kvType
            ablation = try Ablation(model: languageModel, modelPath: modelPath, options: options)
            for header in headers { try ablation.check(header) }
            let metadata = try AblationMetadata(model: languageModel, modelPath: modelPath, threads: threads, commandLine: commandLine)
            writer = try AblationWriter(output: output, metadata: metadata, options: options, config: languageModel.config,
                                        headers: headers, seed: options.seed, shard: shard.description, allCaptures: allPaths)
        } catch {
            output.discard()
            throw error
        }
        let withoutSpan = headers.filter { !$0.hasAnswerSpan }
        if !withoutSpan.isEmpty {
            events(.note("\(withoutSpan.count) of \(headers.count) captures have no prompt/answer_span (made without --answer-span "
                         + "or --needle, or before capture schema 2): span metrics are left out for them"))
        }
        var summaries: [PromptMetrics] = []
        let start = Date()
        do {
            for (i, path) in paths.enumerated() {
                let capture = try CaptureFile(path: path)
                let result = try withoutActuallyEscaping(events) { events in
                    try ablation.run(capture: capture, index: i, count: paths.count) { events(.progress($0)) }
                }
                events(.writing(index: i, count: paths.count))
                try writer.write(result, index: i)
                summaries.append(PromptMetrics(result))
                events(.finished(PromptReport(index: i, capturePath: path, promptLength: result.promptLength, steps: result.steps,
                                              variants: result.variants.count, seconds: result.totalSeconds,
                                              prefillSeconds: result.prefillSeconds)))
            }
            events(.writingFile)
            try writer.finish(summaries)
        } catch {
            writer.discard()
            throw error
        }
        let rows = AblationSummary.rows(summaries, retrievalKVHeads: writer.retrievalHeads.kvHeads)
        let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        return Outcome(rows: rows, table: AblationTable(rows: rows, contents: options.contents, positions: options.positions),
                       retrievalHeads: writer.retrievalHeads, prompts: paths.count, seconds: Date().timeIntervalSince(start), bytes: size)
    }

    /// The capture files named by `arguments`: files as given, folders as their complete captures (`*.h5`, by name).
    public static func capturePaths(_ arguments: [String]) throws -> [String] {
        var paths: [String] = []
        for argument in arguments {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                throw ProbeError("\(argument): no such file or folder")
            }
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: argument)
                    .filter { $0.hasSuffix(".h5") && !$0.hasPrefix(".") }.sorted()
                let found = names.map { URL(fileURLWithPath: argument).appendingPathComponent($0).path }.filter(CaptureFile.isCapture)
                guard !found.isEmpty else { throw ProbeError("\(argument): no complete capture files (*.h5) in this folder") }
                paths += found
            } else {
                paths.append(argument)
            }
        }
        guard !paths.isEmpty else { throw ProbeError("no capture given") }
        return paths
    }
}
