/// `streaming` (StreamingLLM): the first `sinks` entries (attention sinks) and the most recent ones.
public struct StreamingPolicy: EvictionPolicy {
    public let name = "streaming"
    public let sinks: Int
    public init(sinks: Int) { self.sinks = sinks }

    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? { nil }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        let c = evidence.model.config, n = evidence.promptLength
        let head = min(sinks, budget)
        let kept = Array(0..<head) + Array((n - (budget - head))..<n)
        return Array(repeating: Array(repeating: kept, count: c.nKVHeads), count: c.nLayers)
    }
}
