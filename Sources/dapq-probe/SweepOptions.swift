import ArgumentParser
import Compression
import Foundation
import Probe

/// What `niah` and `ruler` share: lengths, policies, budgets, the output, resuming and sharding.
struct SweepOptions: ParsableArguments {
    @Option(help: "Prompt lengths in tokens, comma-separated.")
    var lengths: String = "1000,2000,4000"

    @Option(help: "Policies, comma-separated, or all; a DapQ cell as dapq[content=suffix,position=far].")
    var policies: String = "all"

    @Option(help: "Budgets (entries per layer and KV head), comma-separated.")
    var budgets: String = "32,64,128,256"

    @Option(help: "The essays (a folder of .txt files, or one file); default: the cached Paul Graham essays.")
    var haystack: String?

    @Option(help: "The HDF5 file to write; the CSV goes beside it (same name, .csv).")
    var out: String

    @Flag(help: "Continue an interrupted sweep from its journal (OUT.journal.jsonl), keeping the finished cells.")
    var resume = false

    @Flag(help: "Replace existing output files and any unfinished journal.")
    var force = false

    @Option(help: "Run only shard I of N (I/N): every N-th prompt of the grid, starting at the I-th.")
    var shard: String = "1/1"

    @Option(help: "Write each prompt of this shard into this folder first (<unit>.txt, the text for capture --prompt-file; <unit>.json, its ids).")
    var savePrompts: String?

    @Option(help: "Answers decoded together per batch.")
    var batchSize: Int = BatchedGreedyDecoder.exactBatchLimit

    @Option(help: "Progress on stderr: auto (on a terminal only), always, never.")
    var progress: ProgressMode = .auto

    func lengthList() throws -> [Int] {
        try lengths.split(separator: ",").map {
            guard let n = Int($0.trimmingCharacters(in: .whitespaces)), n > 0 else { throw ProbeError("--lengths '\(lengths)': positive integers, comma-separated") }
            return n
        }
    }

    func budgetList() throws -> [Int] {
        try parseBudgets(budgets).map {
            guard case .entries(let n) = $0 else { throw ProbeError("--budgets '\(budgets)': sweeps take entry counts, not percentages") }
            return n
        }
    }

    /// Runs the sweep of `grid` and prints the summary.
    func run(grid: EvaluationGrid, model: LanguageModel, modelOptions: ModelOptions, settings: CompressionSettings,
             wordListPath: String = RulerWordList.defaultPath) throws {
        let provenance = try ModelProvenance(model: model, modelPath: try ModelCatalogue.resolve(modelOptions.model),
                                             threads: modelOptions.threads, commandLine: ModelProvenance.shellQuoted(CommandLine.arguments))
        var run = SweepRun(out: out)
        run.shard = try Shard(parsing: shard)
        run.resume = resume
        run.force = force
        run.haystackPath = haystack
        run.wordListPath = wordListPath
        run.savePrompts = savePrompts
        let compressor = try Compressor(model: model, settings: settings, batchSize: batchSize)
        let display = ProgressDisplay(mode: progress)
        let start = Date()
        let rows: [EvaluationRow]
        do {
            defer { display.finish() }
            rows = try run.execute(compressor: compressor, grid: grid, provenance: provenance) { event in
                switch event {
                case let .unit(name, index, count, skipped, elapsed):
                    let eta = index > 0 ? String(format: "  ETA %.0f s", elapsed / Double(index) * Double(count - index)) : ""
                    let resumed = skipped > 0 ? "  (\(skipped) done before)" : ""
                    display.status("prompt \(index + 1)/\(count)  \(name)\(resumed)\(eta)")
                case .compression: break
                }
            }
        }
        print("\(out): \(rows.count) cells (shard \(run.shard)) in " + String(format: "%.1f s", Date().timeIntervalSince(start))
              + "; CSV \(EvaluationFile.csvPath(for: out))")
        print(EvaluationSummary.table(rows))
    }
}

/// The policies of `--policies`.
func policyList(_ text: String) throws -> [PolicySpec] { try PolicySpec.parseList(text) }
