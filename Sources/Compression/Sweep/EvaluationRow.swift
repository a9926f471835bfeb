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
    /// Entries per (layer, KV head) asked for; 0 for `full`.
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

    /// The unit this row belongs to.
    public var unitName: String {
        EvaluationUnit(task: EvaluationTask(rawValue: task) ?? .niah, length: length, depth: depth,
                       sample: depth == nil ? sample : nil).name
    }

    /// The row's identity within a grid: unit, policy, budget.
    public var cellName: String { "\(unitName)/\(policy)/\(budget)" }

    /// Equal apart from the timings (what a merge promises against an unsharded run).
    public func sameResult(as other: EvaluationRow) -> Bool {
        var a = self, b = other
        (a.prefillMs, a.scoreMs, a.decodeMs) = (0, 0, 0)
        (b.prefillMs, b.scoreMs, b.decodeMs) = (0, 0, 0)
        return a == b
    }
}
