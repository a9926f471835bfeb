import Probe

/// `oracle`: the true decoding queries of the full-cache answer rank the keys; the top B by that importance
/// are kept (with the question outside, the truth is the full-cache run with the question appended, and it ranks
/// the context's keys). An upper bound for query-based policies (it needs the answer it is meant to produce).
public struct OraclePolicy: EvictionPolicy {
    public let name = "oracle"
    public init() {}

    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? {
        guard let truth = evidence.truth else { preconditionFailure("oracle needs the full-cache decoding queries") }
        guard truth.rows > 0 else { throw ProbeError("oracle: the full-cache answer is empty, so there are no true decoding queries") }
        return evidence.truthScores(aggregation: .mean)
    }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        keepTop(scores, budget: budget, recent: 0, evidence: evidence)
    }
}
