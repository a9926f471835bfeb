import Foundation

/// One cell of a sweep: a policy at a budget on one unit, with its score and costs. The columns of the eval
/// file (`cells/<column>`) and of its CSV.
public struct EvaluationRow: Sendable, Codable, Equatable {
    public var task: String
    public var length: Int
    /// NIAH depth in percent (nil for RULER: NaN in the file, empty in the CSV).
    public var depth: Double?
    /// RULER sample index (−1 for NIAH).
    public var sample: Int
    public var policy: String
    /// `inside` (the question compressed with the context) or `outside` (appended after eviction).
    public var placement: String
    /// Entries per (layer, KV head) asked for (with `--compression-ratio`, the prompt's share rounded by
    /// `PromptFraction`); 0 for `full`.
    public var budget: Int
    /// Entries kept per (layer, KV head) (the prompt length for `full`, the mean for `pyramidkv`).
    public var entries: Int
    public var score: Double
    public var answer: String
    /// The reference answers, joined by ` | `.
    public var reference: String
    /// Where the needle sits in the prompt, in percent (RULER draws it).
    public var needleDepth: Double
    /// Prompt tokens (the unit's real length).
    public var promptTokens: Int
    public var generatedTokens: Int
    public var cacheBytes: Int
    /// The unit's prefill, this policy's scoring, and this answer's share of the batched decoding.
    public var prefillMs: Double
    public var scoreMs: Double
    public var decodeMs: Double
    /// kvpress's compression ratio the budget came from (`--compression-ratio`); nil for budgets given in entries and
    /// for `full`.
    public var compressionRatio: Double? = nil
    /// The answer's prompt tokens (`EvaluationSample.answerTokenRange`: the NIAH needle, the RULER value) as
    /// `start..<end`; nil where the tokenizer cannot place them.
    public var spanStart: Int? = nil
    public var spanEnd: Int? = nil
    /// Of those tokens, the fraction the cache held when decoding started (`SpanMetrics.keptSpanRecall`): the mean
    /// over (layer, KV head), and the mean over layers of each layer's worst KV head. Nil without a span.
    public var spanRecall: Double? = nil
    public var spanRecallLayerMin: Double? = nil
    /// The same per (layer, KV head), layer-major (the file's `span_recall_heads` [cell, layer, kv_head]); nil without a span.
    public var spanRecallHeads: [Double]? = nil

    /// The unit this row belongs to.
    public var unitName: String {
        EvaluationUnit(task: EvaluationTask(rawValue: task) ?? .niah, length: length, depth: depth,
                       sample: depth == nil ? sample : nil).name
    }

    /// The budget as the grid names it: the entries (`64`, `0` for `full`) or the compression ratio (`cr0.5`).
    public var budgetLabel: String { compressionRatio.map(EvaluationGrid.ratioLabel) ?? String(budget) }

    /// The row's identity within a grid: unit, policy, budget.
    public var cellName: String { "\(unitName)/\(policy)/\(budgetLabel)" }

    /// The row as one JSON object (`niah`/`ruler --json`): the CSV's columns under the same names, numbers as
    /// numbers, `depth` absent for RULER, `compression_ratio` only with `--compression-ratio`; `record` is `cell`.
    public var jsonObject: [String: Any] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var object = (try? JSONSerialization.jsonObject(with: try encoder.encode(self))) as? [String: Any] ?? [:]
        object["record"] = "cell"
        return object
    }

    /// Equal apart from the timings (what a merge promises against an unsharded run).
    public func sameResult(as other: EvaluationRow) -> Bool {
        var a = self, b = other
        (a.prefillMs, a.scoreMs, a.decodeMs) = (0, 0, 0)
        (b.prefillMs, b.scoreMs, b.decodeMs) = (0, 0, 0)
        return a == b
    }
}
