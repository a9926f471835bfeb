import Analysis
import Compression
import ArgumentParser
import Foundation
import Probe

struct AblateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablate",
        abstract: "Position versus content: score a capture's prompt keys with pseudo queries and compare with the true decoding queries.",
        discussion: """
            Re-prefills each capture's prompt (its keys must equal the capture's), runs each variant's w pseudo tokens \
            (content × position) through every layer against the prompt cache, and compares the importance their queries \
            give the prompt keys with the capture's true decoding importance: top-k recall, attention-mass recall, overlap, \
            query cosine, per layer, KV head and budget k. References: window (the last w prompt queries), lookahead (LAQ) \
            and truth. Several captures (files or folders of them) are aggregated with means and 95% intervals.
            """)

    @Argument(help: "Capture files (dapq-probe capture), or folders holding them.")
    var captures: [String]

    @Option(help: "The HDF5 file to write.")
    var out: String

    @Option(help: "Pseudo tokens per variant (w), also the observation window of the window and lookahead references.")
    var window: Int = 32

    @Option(help: "Contents, comma-separated: \(PseudoContent.allCases.map(\.name).joined(separator: ",")) or all.")
    var content: String = "all"

    @Option(help: "Positions, comma-separated: \(PseudoPosition.allCases.map(\.name).joined(separator: ",")) or all.")
    var position: String = "all"

    @Option(help: "Δ of the far position: pseudo tokens at n+Δ …")
    var farOffset: Int = 1024

    @Option(help: "Prompt tokens copied from the beginning by prefix+suffix (a).")
    var prefixCount: Int = 4

    @Option(help: "Budgets k of the metrics, comma-separated (each clipped to the prompt length).")
    var k: String = "16,32,64,128,256"

    @Option(help: "Entries the lookahead reference's SnapKV cache keeps per (layer, KV head) (default: the largest k).")
    var laqBudget: Int?

    @Option(help: "The token id the repeat content repeats (default: the last prompt token).")
    var repeatToken: Int?

    @Option(help: "Catalogue name or path of the GGUF model (default: the captures' model_path).")
    var model: String?

    @Option(help: "Seed of the random content.")
    var seed: UInt64 = 0

    @Option(help: "Threads for the numeric kernels.")
    var threads: Int = 2

    @OptionGroup var cacheOptions: CacheOptions

    @Option(help: "Largest accepted |recomputed − captured| prompt key (0: they must be equal).")
    var keyTolerance: Float = 0

    @Option(help: "A KV head counts as a retrieval head (span_recall_retrieval) when one of its query heads' retrieval score, pooled over the captures, is above this.")
    var retrievalThreshold: Double = RetrievalHeads.defaultThreshold

    @Flag(help: "Replace an existing output file.")
    var force = false

    @Option(help: "Ablate only shard I of N (I/N) of the captures (every N-th of the sorted list, starting at the I-th).")
    var shard: String = "1/1"

    @Option(help: "Progress on stderr: auto (on a terminal only), always, never.")
    var progress: ProgressMode = .auto

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard window >= 1 else { throw ValidationError("--window must be at least 1") }
    }

    func run() throws {
        var options = AblationOptions()
        options.window = window
        options.contents = try PseudoContent.parseList(content)
        options.positions = try PseudoPosition.parseList(position)
        options.farOffset = farOffset
        options.prefixCount = prefixCount
        options.kValues = try k.split(separator: ",").map {
            guard let value = Int($0.trimmingCharacters(in: .whitespaces)) else { throw ProbeError("--k: '\($0)' is not a number") }
            return value
        }
        options.lookaheadBudget = laqBudget
        options.repeatToken = repeatToken
        options.seed = seed
        options.keyTolerance = keyTolerance
        options.retrievalThreshold = retrievalThreshold
        try options.check()

        let allPaths = try Self.capturePaths(captures)
        let shardSpec = try Shard(parsing: shard)
        let paths = shardSpec.share(of: allPaths)
        guard !paths.isEmpty else { throw ProbeError("--shard \(shard): no captures fall to this shard (\(allPaths.count) in all)") }
        let headers = try paths.map(CaptureFile.header)
        if let other = headers.first(where: { $0.modelSHA256 != headers[0].modelSHA256 }) {
            throw ProbeError("\(other.path): made with another model than \(headers[0].path) (model_sha256 differs); ablate captures of one model together")
        }
        // Check the output before the long work.
        let output = try AtomicOutputFile(path: out, overwrite: force)
        InterruptCleanup.install(for: output)
        defer { InterruptCleanup.uninstall() }

        ComputeThreads.set(threads)
        let modelPath: String
        if let model {
            modelPath = try ModelCatalogue.resolve(model)
        } else if FileManager.default.fileExists(atPath: headers[0].modelPath) {
            modelPath = headers[0].modelPath
        } else {
            modelPath = try ModelCatalogue.resolve(nil)
        }
        let languageModel = try LanguageModel(path: modelPath)
        // The captures' arithmetic, so their keys can be reproduced (and the file records it).
        if let other = headers.first(where: { $0.numerics != headers[0].numerics }) {
            throw ProbeError("\(other.path): made with numerics \(other.numerics ?? "unknown"), \(headers[0].path) with "
                             + "\(headers[0].numerics ?? "unknown"); ablate captures of one arithmetic together")
        }
        if let recorded = headers[0].numerics, let numerics = Numerics(rawValue: recorded) { languageModel.numerics = numerics }
        try cacheOptions.apply(to: languageModel)
        let ablation = try Ablation(model: languageModel, modelPath: modelPath, options: options)
        for header in headers { try ablation.check(header) }

        let metadata = try AblationMetadata(model: languageModel, modelPath: modelPath, threads: threads,
                                            commandLine: ModelProvenance.shellQuoted(CommandLine.arguments))
        let writer = try AblationWriter(output: output, metadata: metadata, options: options, config: languageModel.config,
                                        headers: headers, seed: seed, shard: shardSpec.description, allCaptures: allPaths)
        let withoutSpan = headers.filter { !$0.hasAnswerSpan }
        if !withoutSpan.isEmpty {
            Self.emit("note: \(withoutSpan.count) of \(headers.count) captures have no prompt/answer_span (made without --answer-span "
                      + "or --needle, or before capture schema 2): span metrics are left out for them")
        }
        let display = ProgressDisplay(mode: progress)
        defer { display.finish() }
        var summaries: [PromptMetrics] = []
        let start = Date()
        do {
            for (i, path) in paths.enumerated() {
                let capture = try CaptureFile(path: path)
                let result = try ablation.run(capture: capture, index: i, count: paths.count) { event in
                    switch event {
                    case let .prefill(prompt, prompts, tokens):
                        display.status("prompt \(prompt + 1)/\(prompts): prefill \(tokens) tokens")
                    case let .variant(prompt, prompts, name, index, count):
                        display.status("prompt \(prompt + 1)/\(prompts): variant \(index + 1)/\(count) \(name)")
                    }
                }
                display.status("prompt \(i + 1)/\(paths.count): writing")
                try writer.write(result, index: i)
                summaries.append(PromptMetrics(result))
                display.finish()
                Self.emit("\(path): n = \(result.promptLength), \(result.steps) decoding steps, \(result.variants.count) variants in "
                          + String(format: "%.1f s (prefill %.1f s)", result.totalSeconds, result.prefillSeconds))
            }
            display.status("writing \(out)")
            try writer.finish(summaries)
        } catch {
            writer.discard()
            throw error
        }
        display.finish()
        let rows = AblationSummary.rows(summaries, retrievalKVHeads: writer.retrievalHeads.kvHeads)
        Self.emit(AblationTable(rows: rows, contents: options.contents, positions: options.positions).text)
        Self.emit(writer.retrievalHeads.description)
        let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        Self.emit("\(out): \(paths.count) prompt\(paths.count == 1 ? "" : "s"), "
                  + String(format: "%.1f s, %.1f MB", Date().timeIntervalSince(start), Double(size) / 1e6))
    }

    /// Writes a line to stdout at once (unbuffered), so each prompt's line shows as it finishes, also in a log.
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// The capture files named by `arguments`: files as given, folders as their complete captures (`*.h5`, by name).
    static func capturePaths(_ arguments: [String]) throws -> [String] {
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
