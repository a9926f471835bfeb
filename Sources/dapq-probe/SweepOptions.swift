import ArgumentParser
import Compression
import Foundation
import Probe

/// What `niah` and `ruler` share: lengths, policies, budgets, the output, resuming and sharding.
struct SweepOptions: ParsableArguments {
    @Option(help: "Prompt lengths in tokens, comma-separated.")
    var lengths: String = "1000,2000,4000"

    @Option(help: "Policies, comma-separated, or all; a DapQ cell as dapq[content=suffix,position=far], a design as lookahead-full[heads=adaptive,aggregation=max].")
    var policies: String = "all"

    @Option(help: "Budgets (entries per layer and KV head), comma-separated (default: \(Self.defaultBudgets)).")
    var budgets: String?

    @Option(help: "Instead of --budgets: kvpress compression ratios R, comma-separated (0.5: keep half of each prompt's entries, n·(1−R) rounded).")
    var compressionRatio: String?

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

    @Option(help: ArgumentHelp(ProgressDisplay.help))
    var progress: ProgressMode = .auto

    @Flag(help: "JSON lines on stdout instead of the table: one object per cell as its prompt finishes, then a summary object (fields: docs/output.md).")
    var json = false

    func lengthList() throws -> [Int] {
        try lengths.split(separator: ",").map {
            guard let n = Int($0.trimmingCharacters(in: .whitespaces)), n > 0 else { throw ProbeError("--lengths '\(lengths)': positive integers, comma-separated") }
            return n
        }
    }

    static let defaultBudgets = "32,64,128,256"

    /// The budgets of `--budgets` or `--compression-ratio`.
    func budgetList() throws -> BudgetList {
        try BudgetList(budgets: budgets, ratios: compressionRatio, budgetOption: "--budgets", fallback: Self.defaultBudgets)
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
            var current = "", done = 0, total = 0
            rows = try run.execute(compressor: compressor, grid: grid, provenance: provenance) { event in
                let elapsed = Date().timeIntervalSince(start)
                switch event {
                case let .unit(name, index, count, skipped, _):
                    (current, done, total) = (name + (skipped > 0 ? " (\(skipped) done before)" : ""), index, count)
                    display.update(done: done, total: total, unit: "prompts", elapsed: elapsed, detail: current)
                case let .compression(step):
                    display.update(done: done, total: total, unit: "prompts", elapsed: elapsed, detail: "\(current): \(step)")
                case let .unitFinished(_, index, count, unitRows, _):
                    display.update(done: index + 1, total: count, unit: "prompts", elapsed: elapsed)
                    if json { for row in unitRows { Self.emit(row.jsonObject) } }
                }
            }
        }
        let seconds = Date().timeIntervalSince(start), csv = EvaluationFile.csvPath(for: out)
        if json {
            return Self.emit([
                "record": "summary", "out": out, "csv": csv, "cells": rows.count, "shard": run.shard.description,
                "seconds": seconds, "means": EvaluationSummary.means(rows).map(\.jsonObject),
            ] as [String: Any])
        }
        print("\(out): \(rows.count) cells (shard \(run.shard)) in " + String(format: "%.1f s", seconds) + "; CSV \(csv)")
        print(EvaluationSummary.table(rows))
    }

    /// Writes `object` as a JSON line to stdout at once, so each cell shows as its prompt finishes (also in a pipe).
    private static func emit(_ object: [String: Any]) {
        do {
            FileHandle.standardOutput.write(Data((try JSONOutput.line(object) + "\n").utf8))
        } catch {
            FileHandle.standardError.write(Data("dapq-probe: a JSON line could not be written: \(error)\n".utf8))
        }
    }
}

/// The policies of `--policies`.
func policyList(_ text: String) throws -> [PolicySpec] { try PolicySpec.parseList(text) }
