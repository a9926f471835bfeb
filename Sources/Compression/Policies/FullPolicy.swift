/// `full`: no eviction, the uncompressed reference.
public struct FullPolicy: EvictionPolicy {
    public let name = "full"
    public init() {}
    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? { nil }
    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        let c = evidence.model.config, all = Array(0..<evidence.promptLength)
        return Array(repeating: Array(repeating: all, count: c.nKVHeads), count: c.nLayers)
    }
}
