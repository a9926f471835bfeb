import Foundation
import Probe

/// The eval file (`schema = "dapq-probe/eval"`, version 3; version 2 had no `span_*` columns, version 1 stored
/// `budget` and `entries` as int32 and had no `compression_ratio`) and the CSV beside it (same name, `.csv`).
///
/// Root attributes: the common header (`ModelProvenance`), `grid` (the grid as canonical JSON), `shard`
/// (`I/N`; `1/1` for a whole or merged run), `units` (how many units of the grid this file holds), `seed`,
/// `n_prompt` and `n_decode` (the largest prompt and answer limit), `complete`. Group `cells/` holds 1-D
/// datasets over dimension `cell`, one row per cell in grid order: `task`, `policy`, `placement` (`inside` or
/// `outside`), `answer`, `reference` (strings); `length`, `sample` (−1 for NIAH), `prompt_tokens`, `generated_tokens`
/// (int32); `budget` (0: full cache), `entries` (int64, entries per layer and KV head, as every file's budgets);
/// `depth` (NaN for RULER), `needle_depth`, `score`, `prefill_ms`, `score_ms`, `decode_ms`, `compression_ratio`
/// (NaN unless the sweep gave `--compression-ratio`), `span_recall`, `span_recall_layer_min` (NaN without a span)
/// (float64); `cache_bytes`, `span_start`, `span_end` (−1 without a span) (int64); and beside the table, the
/// root dataset `span_recall_heads` [cell, layer, kv_head] (float64, NaN without a span; not in the CSV). The CSV writes answers and
/// references on one line (`OneLineText`).
public enum EvaluationFile {
    public static let schema = "dapq-probe/eval"
    public static let schemaVersion = 3

    /// The CSV's header, in column order.
    public static let csvColumns = ["task", "length", "depth", "sample", "policy", "placement", "budget", "score", "answer", "cache_bytes",
                                    "prefill_ms", "score_ms", "decode_ms", "entries", "reference", "needle_depth",
                                    "prompt_tokens", "generated_tokens", "compression_ratio", "span_start", "span_end",
                                    "span_recall", "span_recall_layer_min"]

    /// What a file holds besides its rows.
    public struct Contents {
        public var grid: EvaluationGrid
        public var gridJSON: String
        public var shard: Shard
        /// The model, shapes, numerics, threads and command line the file recorded.
        public var provenance: ModelProvenance
        public var toolVersion: String
        public var rows: [EvaluationRow]
    }

    /// Writes `rows` to `output` (HDF5) and `csv`, each under a temporary name until complete.
    public static func write(rows: [EvaluationRow], grid: EvaluationGrid, shard: Shard, units: Int, metadata: ModelProvenance,
                             to output: AtomicOutputFile, csv: AtomicOutputFile) throws {
        do {
            try output.writeHDF5("the evaluation", commit: false) { file in
                try writeContents(file, rows: rows, grid: grid, shard: shard, units: units, metadata: metadata)
            }
            try csv.write(Array(csvText(rows).utf8))
            try output.commit()
            try csv.commit()
        } catch {
            output.discard()
            csv.discard()
            throw error
        }
    }

    private static func writeContents(_ f: HDF5File, rows: [EvaluationRow], grid: EvaluationGrid, shard: Shard, units: Int,
                                      metadata: ModelProvenance) throws {
        try metadata.writeHeader(to: f, schema: schema, schemaVersion: schemaVersion)
        try f.setAttribute("grid", grid.json)
        try f.setAttribute("shard", shard.description)
        try f.setAttribute("units", units)
        try f.setAttribute("seed", Int(bitPattern: UInt(grid.seed)))
        try f.setAttribute("n_prompt", rows.map(\.promptTokens).max() ?? 0)
        try f.setAttribute("n_decode", rows.map(\.generatedTokens).max() ?? 0)
        try f.makeDimensionScale(name: "cell", values: Array(0..<rows.count), description: "one policy × budget on one prompt")
        let columns = HDF5Columns(file: f, group: "cells", dimension: "cell", rows: rows.count)
        let (strings, ints, int64s, doubles) = (columns.strings, columns.int32s, columns.int64s, columns.doubles)
        try strings("task", rows.map(\.task), "niah, niah_single_1, niah_single_2 or niah_single_3")
        try strings("policy", rows.map(\.policy), "eviction policy (a dapq cell as dapq[content=…,position=…])")
        try strings("placement", rows.map(\.placement), "inside: the question compressed with the context; outside: appended after eviction")
        try strings("answer", rows.map(\.answer), "the greedy answer (after the answer prefix)")
        try strings("reference", rows.map(\.reference), "reference answers, joined by ' | '")
        try ints("length", rows.map(\.length), "prompt length asked for, in tokens")
        try ints("sample", rows.map(\.sample), "RULER sample index (-1 for NIAH)")
        try int64s("budget", rows.map(\.budget), "entries per (layer, KV head) asked for (0: the full cache)")
        try int64s("entries", rows.map(\.entries), "entries kept per (layer, KV head) (the mean for pyramidkv)")
        try ints("prompt_tokens", rows.map(\.promptTokens), "prompt tokens")
        try ints("generated_tokens", rows.map(\.generatedTokens), "answer tokens")
        try doubles("depth", rows.map { $0.depth ?? .nan }, "NIAH needle depth in percent (NaN for RULER)")
        try doubles("needle_depth", rows.map(\.needleDepth), "where the needle sits, in percent of the haystack")
        try doubles("score", rows.map(\.score), "NIAH: fraction of the reference's words present; RULER: string_match_all")
        try doubles("prefill_ms", rows.map(\.prefillMs), "milliseconds of the prompt's prefill (shared by its cells)")
        try doubles("score_ms", rows.map(\.scoreMs), "milliseconds of the policy's scoring and selection")
        try doubles("decode_ms", rows.map(\.decodeMs), "this answer's share of the batched decoding, by tokens")
        try doubles("compression_ratio", rows.map { $0.compressionRatio ?? .nan },
                    "kvpress compression ratio the budget came from (NaN: budget given in entries, or the full cache)")
        try int64s("cache_bytes", rows.map(\.cacheBytes), "bytes of keys and values held after eviction")
        try int64s("span_start", rows.map { $0.spanStart ?? -1 }, "first prompt token of the answer's span (NIAH: the needle; RULER: its value); -1: unknown")
        try int64s("span_end", rows.map { $0.spanEnd ?? -1 }, "one past the span's last prompt token; -1: unknown")
        try doubles("span_recall", rows.map { $0.spanRecall ?? .nan },
                    "fraction of the span's tokens the cache held when decoding started, mean over (layer, KV head); NaN: no span")
        try doubles("span_recall_layer_min", rows.map { $0.spanRecallLayerMin ?? .nan },
                    "the same, minimum over each layer's KV heads, mean over layers; NaN: no span")
        // Per (layer, KV head): which heads of the cut cache still hold the answer (NaN rows without a span).
        let (L, G) = (metadata.nLayers, metadata.nKVHeads)
        try f.makeDimensionScale(name: "layer", values: Array(0..<L), description: "transformer layer index")
        try f.makeDimensionScale(name: "kv_head", values: Array(0..<G), description: "key/value head index")
        var perHead = [Double](repeating: .nan, count: rows.count * L * G)
        for (i, row) in rows.enumerated() {
            guard let heads = row.spanRecallHeads else { continue }
            guard heads.count == L * G else {
                throw ProbeError("span recall per head: rows of another shape than \(L) layers x \(G) KV heads")
            }
            perHead.replaceSubrange((i * L * G)..<((i + 1) * L * G), with: heads)
        }
        let dataset = try f.createDataset("span_recall_heads", values: perHead, shape: [rows.count, L, G],
                                          description: "fraction of the answer's span each (layer, KV head) of the cut cache held when decoding started; NaN: no span")
        try dataset.attachScales(["cell", "layer", "kv_head"])
        dataset.close()
    }

    /// The rows as CSV (RFC 4180 quoting, answers and references on one line), header first.
    public static func csvText(_ rows: [EvaluationRow]) -> String {
        func number(_ x: Double) -> String { String(format: "%.6g", x) }
        let field = OneLineText.csvField
        var lines = [csvColumns.joined(separator: ",")]
        for r in rows {
            let fields = [r.task, String(r.length), r.depth.map { EvaluationGrid.format($0) } ?? "", String(r.sample), field(r.policy),
                          r.placement, String(r.budget), String(r.score), field(r.answer), String(r.cacheBytes), number(r.prefillMs),
                          number(r.scoreMs), number(r.decodeMs), String(r.entries), field(r.reference),
                          String(r.needleDepth), String(r.promptTokens), String(r.generatedTokens),
                          r.compressionRatio.map { EvaluationGrid.format($0) } ?? ""]
            let span: [String] = [r.spanStart.map { String($0) } ?? "", r.spanEnd.map { String($0) } ?? "",
                                  r.spanRecall.map(number) ?? "", r.spanRecallLayerMin.map(number) ?? ""]
            lines.append((fields + span).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The CSV path beside an eval file: `x.h5` → `x.csv`.
    public static func csvPath(for out: String) -> String {
        let url = URL(fileURLWithPath: out)
        return url.pathExtension.isEmpty ? out + ".csv" : url.deletingPathExtension().path + ".csv"
    }

    /// Reads an eval file back (a complete one only), every dataset checked first: all `cells/` columns are 1-D
    /// with one entry per cell, of the right kind; errors are one line naming the file.
    public static func read(_ path: String) throws -> Contents {
        let input = try HDF5InputFile(path: path, schema: schema, kind: "dapq-probe eval file")
        defer { input.close() }
        let f = input.file
        let gridJSON = try input.stringAttribute("grid")
        let cells = try input.shape(of: "cells/task", holding: .strings)
        guard cells.count == 1 else { throw ProbeError("\(path): dataset 'cells/task' has shape \(cells), expected one axis (cell)") }
        func strings(_ n: String) throws -> [String] { try input.readStrings("cells/\(n)", count: cells[0]) }
        // Integers as int64 (version 1 stored some as int32; HDF5 converts on reading).
        func ints(_ n: String) throws -> [Int] { try input.read("cells/\(n)", as: Int64.self, shape: cells).map(Int.init) }
        func doubles(_ n: String) throws -> [Double] { try input.read("cells/\(n)", as: Double.self, shape: cells) }
        let task = try strings("task"), policy = try strings("policy"), answer = try strings("answer"), reference = try strings("reference")
        // Files written before the placement existed had the question inside.
        let placement = f.exists("cells/placement") ? try strings("placement") : Array(repeating: QuestionPlacement.inside.rawValue, count: task.count)
        let length = try ints("length"), sample = try ints("sample"), budget = try ints("budget"), entries = try ints("entries")
        let promptTokens = try ints("prompt_tokens"), generated = try ints("generated_tokens")
        let depth = try doubles("depth"), needleDepth = try doubles("needle_depth"), score = try doubles("score")
        let prefill = try doubles("prefill_ms"), scoreMs = try doubles("score_ms"), decode = try doubles("decode_ms")
        let bytes = try ints("cache_bytes")
        // Version 1 files had no compression ratios.
        let ratios = f.exists("cells/compression_ratio") ? try doubles("compression_ratio") : Array(repeating: .nan, count: task.count)
        // Files written before the answer spans had none.
        let hasSpans = f.exists("cells/span_recall")
        let spanStart = hasSpans ? try ints("span_start") : [], spanEnd = hasSpans ? try ints("span_end") : []
        let spanRecall = hasSpans ? try doubles("span_recall") : [], spanMin = hasSpans ? try doubles("span_recall_layer_min") : []
        let L = Int(try input.attribute("n_layers", as: Int64.self)), G = Int(try input.attribute("n_kv_heads", as: Int64.self))
        let perHead = f.exists("span_recall_heads")
            ? try input.read("span_recall_heads", as: Double.self, shape: [cells[0], L, G]) : []
        let rows = task.indices.map { i in
            var row = EvaluationRow(task: task[i], length: length[i], depth: depth[i].isNaN ? nil : depth[i], sample: sample[i], policy: policy[i],
                          placement: placement[i], budget: budget[i], entries: entries[i], score: score[i], answer: answer[i], reference: reference[i],
                          needleDepth: needleDepth[i], promptTokens: promptTokens[i], generatedTokens: generated[i],
                          cacheBytes: bytes[i], prefillMs: prefill[i], scoreMs: scoreMs[i], decodeMs: decode[i],
                          compressionRatio: ratios[i].isNaN ? nil : ratios[i])
            if hasSpans {
                row.spanStart = spanStart[i] < 0 ? nil : spanStart[i]
                row.spanEnd = spanEnd[i] < 0 ? nil : spanEnd[i]
                row.spanRecall = spanRecall[i].isNaN ? nil : spanRecall[i]
                row.spanRecallLayerMin = spanMin[i].isNaN ? nil : spanMin[i]
                let heads = perHead.isEmpty ? [] : Array(perHead[(i * L * G)..<((i + 1) * L * G)])
                row.spanRecallHeads = heads.isEmpty || heads.contains(where: \.isNaN) ? nil : heads
            }
            return row
        }
        do {
            return Contents(grid: try EvaluationGrid(json: gridJSON), gridJSON: gridJSON,
                            shard: try Shard(parsing: try input.stringAttribute("shard")),
                            provenance: try ModelProvenance(recordedIn: f, commandLine: try input.stringAttribute("command_line")),
                            toolVersion: try input.stringAttribute("tool_version"), rows: rows)
        } catch let error as ProbeError where error.description.hasPrefix(path) { throw error } catch {
            throw ProbeError("\(path): \(error)")
        }
    }
}
