import Foundation
import Probe

/// Writes a `compress` run: `schema = "dapq-probe/compress"`, version 2 (version 1 stored `cells/budget` as the
/// text given and `cells/entries` as int32).
///
/// Root attributes: the common header (`ModelProvenance`), `n_prompt`, `max_tokens` (also as `n_decode`), `batch_size`,
/// `prefill_seconds`, `decode_seconds`, `question_tokens` (q, the prompt's last tokens appended after eviction;
/// 0 with the question inside) and every setting of `CompressionSettings.record` (`window`, `pool_kernel`,
/// `pseudo_position`, `expected_covariance`, `question_placement`, …; numbers as numbers, the rest as strings).
/// Datasets:
/// - `tokens/prompt` [position], `tokens/full` [full_step] int32, `text/full`: the prompt and the full-cache answer;
/// - `cells/…` [cell], one row per policy × budget: `policy`, `budget_spec` (as given: `64`, `3%`), `text` (strings);
///   `budget` (entries per layer and KV head the spec resolves to on this prompt), `entries` (kept per layer and KV
///   head), `cache_bytes`, `final_cache_bytes` int64, `score_ms`,
///   `agreement` float64, `n_generated` int32, `tokens` [cell, step] int32 (−1 past the answer);
/// - `kept/<policy>_<budget>` [layer, kv_head, entry] int32: the kept prompt positions in ascending order
///   (−1 padding where a layer keeps fewer, as `pyramidkv`'s upper layers do).
/// Dimension scales `layer`, `kv_head`, `position`, `cell`, `step`, `full_step`.
public enum CompressionWriter {
    public static let schema = "dapq-probe/compress"
    public static let schemaVersion = 2

    /// `prompt` is the whole prompt, question included; its last `questionTokens` were appended after eviction
    /// (0: the question was inside).
    public static func write(_ result: CompressionResult, prompt: [Int], questionTokens: Int = 0, settings: CompressionSettings,
                             maxTokens: Int, metadata: ModelProvenance, to output: AtomicOutputFile) throws {
        try output.writeHDF5("the compression results") { file in
            try writeContents(file, result: result, prompt: prompt, questionTokens: questionTokens, settings: settings,
                              maxTokens: maxTokens, metadata: metadata)
        }
    }

    private static func writeContents(_ f: HDF5File, result: CompressionResult, prompt: [Int], questionTokens: Int,
                                      settings s: CompressionSettings, maxTokens: Int, metadata: ModelProvenance) throws {
        try metadata.writeHeader(to: f, schema: schema, schemaVersion: schemaVersion)
        try f.setAttribute("n_prompt", result.promptLength)
        try f.setAttribute("max_tokens", maxTokens)
        try f.setAttribute("n_decode", maxTokens)
        try f.setAttribute("batch_size", result.batchSize)
        try f.setAttribute("prefill_seconds", result.prefillSeconds)
        try f.setAttribute("decode_seconds", result.decodeSeconds)
        try f.setAttribute("question_tokens", questionTokens)
        for (name, value) in s.record.sorted(by: { $0.key < $1.key }) {
            if let number = Int(value) { try f.setAttribute(name, number) }
            else if value.allSatisfy(\.isNumber) { try f.setAttribute(name, value) }  // an integer beyond Int (a seed)
            else if let number = Double(value) { try f.setAttribute(name, number) }
            else { try f.setAttribute(name, value) }
        }

        let cells = result.cells, L = metadata.nLayers, G = metadata.nKVHeads
        let widest = max(1, cells.map { $0.kept.flatMap { $0.map(\.count) }.max() ?? 0 }.max() ?? 1)
        try f.makeDimensionScale(name: "layer", values: Array(0..<L), description: "transformer layer index")
        try f.makeDimensionScale(name: "kv_head", values: Array(0..<G), description: "key/value head index")
        try f.makeDimensionScale(name: "position", values: Array(0..<result.promptLength), description: "absolute prompt position")
        try f.makeDimensionScale(name: "cell", values: Array(0..<cells.count), description: "policy × budget row of cells/")
        try f.makeDimensionScale(name: "step", values: Array(0..<maxTokens), description: "decoding step (position n + step)")
        try f.makeDimensionScale(name: "full_step", values: Array(0..<result.fullTokens.count),
                                 description: "decoding step of the full-cache answer")
        try f.makeDimensionScale(name: "entry", values: Array(0..<widest), description: "kept entry (ascending position)")

        try f.createDataset("tokens/prompt", values: prompt.map(Int32.init), shape: [prompt.count], description: "prompt token ids")
            .attachScales(["position"])
        try f.createDataset("tokens/full", values: result.fullTokens.map(Int32.init), shape: [result.fullTokens.count],
                            description: "the full-cache greedy answer's token ids").attachScales(["full_step"])
        try f.createStringDataset("text/full", value: result.fullText, description: "the full-cache greedy answer")

        try f.createStringDataset("cells/policy", values: cells.map(\.policy), description: "eviction policy").attachScales(["cell"])
        try f.createStringDataset("cells/budget_spec", values: cells.map(\.budget.description),
                                  description: "budget as given (entries, or a percentage of the prompt)").attachScales(["cell"])
        try f.createStringDataset("cells/text", values: cells.map(\.text), description: "greedy answer on the compressed cache")
            .attachScales(["cell"])
        let counts: [(String, [Int], String)] = [
            ("budget", cells.map { $0.budget.entries(promptLength: prompt.count) },
             "entries per (layer, KV head) the budget asks for on this prompt (a percentage rounded as docs/policies.md says)"),
            ("entries", cells.map(\.entries), "entries kept per (layer, KV head) (the mean for pyramidkv)"),
        ]
        for (name, values, description) in counts {
            try f.createDataset("cells/\(name)", values: values.map(Int64.init), shape: [cells.count], description: description)
                .attachScales(["cell"])
        }
        try f.createDataset("cells/n_generated", values: cells.map { Int32($0.tokens.count) }, shape: [cells.count],
                            description: "tokens generated before the end of generation or the limit").attachScales(["cell"])
        try f.createDataset("cells/cache_bytes", values: cells.map { Int64($0.cacheBytes) }, shape: [cells.count],
                            description: "bytes of keys and values held right after eviction").attachScales(["cell"])
        try f.createDataset("cells/final_cache_bytes", values: cells.map { Int64($0.finalCacheBytes) }, shape: [cells.count],
                            description: "bytes of keys and values held after decoding (generated tokens included)").attachScales(["cell"])
        try f.createDataset("cells/score_ms", values: cells.map { $0.scoreSeconds * 1000 }, shape: [cells.count],
                            description: "milliseconds of scoring and selection").attachScales(["cell"])
        try f.createDataset("cells/agreement", values: cells.map(\.agreement), shape: [cells.count],
                            description: "token overlap with the full-cache answer: equal tokens at equal steps over the longer answer")
            .attachScales(["cell"])
        var tokens = [Int32](repeating: -1, count: cells.count * maxTokens)
        for (i, cell) in cells.enumerated() { for (s, id) in cell.tokens.enumerated() { tokens[i * maxTokens + s] = Int32(id) } }
        try f.createDataset("cells/tokens", values: tokens, shape: [cells.count, maxTokens],
                            description: "answer token ids, -1 past the answer").attachScales(["cell", "step"])

        for cell in cells {
            var kept = [Int32](repeating: -1, count: L * G * widest)
            for l in 0..<L { for g in 0..<G { for (e, p) in cell.kept[l][g].enumerated() { kept[(l * G + g) * widest + e] = Int32(p) } } }
            try f.createDataset("kept/\(cell.policy)_\(cell.budget.description)", values: kept, shape: [L, G, widest],
                                description: "kept prompt positions per (layer, KV head), ascending, -1 padding")
                .attachScales(["layer", "kv_head", "entry"])
        }
    }
}
