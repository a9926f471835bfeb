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
            Re-prefills each capture's prompt (its keys must equal the capture's), runs each variant's w pseudo tokens (--pseudo-count) \
            (content × position) through every layer against the prompt cache, and compares the importance their queries \
            give the prompt keys with the capture's true decoding importance: top-k recall, attention-mass recall, overlap, \
            query cosine, per layer, KV head and budget k. References: window (the last w prompt queries), lookahead (LAQ) \
            and truth. Several captures (files or folders of them) are aggregated with means and 95% intervals. \
            --model defaults to the captures' model_path and --numerics to their arithmetic.
            """)

    @Argument(help: "Capture files (dapq-probe capture), or folders holding them.")
    var captures: [String]

    @Option(help: "The HDF5 file to write.")
    var out: String

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var seedOptions: SeedOptions

    @Option(help: "Pseudo tokens per variant (w); also the observation window of the window and lookahead references.")
    var pseudoCount: Int = 32

    @Option(help: "Contents, comma-separated: \(PseudoContent.allCases.map(\.name).joined(separator: ",")) or all.")
    var content: String = "all"

    @Option(help: "Positions, comma-separated: \(PseudoPosition.allCases.map(\.name).joined(separator: ",")) or all.")
    var position: String = "all"

    @Option(help: "Δ of the far position: pseudo tokens at n+Δ …")
    var farOffset: Int = 1024

    @Option(help: "Prompt tokens copied from the beginning by prefix+suffix (a).")
    var prefixCount: Int = 4

    @Option(help: "Budgets k of the metrics, entries per KV head, comma-separated (each clipped to the prompt length).")
    var budgets: String = "16,32,64,128,256"

    @Option(help: "Entries the lookahead reference's SnapKV cache keeps per (layer, KV head) (default: the largest budget).")
    var laqBudget: Int?

    @Option(help: "The token id the repeat content repeats (default: the last prompt token).")
    var repeatToken: Int?

    @Option(help: "Largest accepted |recomputed − captured| prompt key (0: they must be equal).")
    var keyTolerance: Float = 0

    @Option(help: "A KV head counts as a retrieval head (span_recall_retrieval) when one of its query heads' retrieval score, pooled over the captures, is above this.")
    var retrievalThreshold: Double = RetrievalHeads.defaultThreshold

    @Flag(help: "Replace an existing output file.")
    var force = false

    @Option(help: "Ablate only shard I of N (I/N) of the captures (every N-th of the sorted list, starting at the I-th).")
    var shard: String = "1/1"

    @Option(help: ArgumentHelp(ProgressDisplay.help))
    var progress: ProgressMode = .auto

    @Flag(help: "One JSON object per line on stdout instead of the text: a prompt object as each prompt finishes, then one per summary row, then the file (fields in docs/output.md).")
    var json = false

    func validate() throws {
        guard pseudoCount >= 1 else { throw ValidationError("--pseudo-count must be at least 1") }
    }

    func run() throws {
        var options = AblationOptions()
        options.pseudoCount = pseudoCount
        options.contents = try PseudoContent.parseList(content)
        options.positions = try PseudoPosition.parseList(position)
        options.farOffset = farOffset
        options.prefixCount = prefixCount
        options.kValues = try budgets.split(separator: ",").map {
            guard let value = Int($0.trimmingCharacters(in: .whitespaces)) else { throw ProbeError("--budgets: '\($0)' is not a number") }
            return value
        }
        options.lookaheadBudget = laqBudget
        options.repeatToken = repeatToken
        options.seed = seedOptions.seed
        options.keyTolerance = keyTolerance
        options.retrievalThreshold = retrievalThreshold

        var ablation = AblationRun(captures: captures, out: out, options: options)
        ablation.shard = try Shard(parsing: shard)
        ablation.force = force
        ablation.model = modelOptions.model
        ablation.numerics = modelOptions.numerics
        ablation.threads = modelOptions.threads
        ablation.kvType = modelOptions.cacheOptions.kvType
        ablation.commandLine = ModelProvenance.shellQuoted(CommandLine.arguments)

        let display = ProgressDisplay(mode: progress)
        defer { display.finish() }
        let outcome = try ablation.execute { event in
            switch event {
            case .note(let text):
                emit(json ? (try? JSONOutput.line(["record": "note", "text": text])) ?? "" : "note: \(text)")
            case let .progress(.prefill(prompt, prompts, tokens)):
                display.status("prompt \(prompt + 1)/\(prompts): prefill \(tokens) tokens")
            case let .progress(.variant(prompt, prompts, name, index, count)):
                display.status("prompt \(prompt + 1)/\(prompts): variant \(index + 1)/\(count) \(name)")
            case let .writing(index, count):
                display.status("prompt \(index + 1)/\(count): writing")
            case .finished(let report):
                display.finish()
                emit(json ? (try? JSONOutput.line(report.jsonObject)) ?? "" : report.line)
            case .writingFile:
                display.status("writing \(out)")
            }
        }
        display.finish()
        if json {
            for row in outcome.rows { emit(try JSONOutput.line(row.jsonObject)) }
            emit(try JSONOutput.line([
                "record": "file", "out": out, "prompts": outcome.prompts, "seconds": outcome.seconds, "bytes": outcome.bytes,
                "retrieval_threshold": outcome.retrievalHeads.threshold, "retrieval_kv_heads": outcome.retrievalHeads.count,
                "retrieval_heads": outcome.retrievalHeads.strongest.map { ["layer": $0.layer, "head": $0.head, "score": $0.score] },
            ] as [String: Any]))
            return
        }
        emit(outcome.table.text)
        emit(outcome.retrievalHeads.description)
        emit(outcome.line(out: out))
    }

    /// Writes a line to stdout at once (unbuffered), so each prompt's line shows as it finishes, also in a log.
    private func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
