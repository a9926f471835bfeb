import Analysis
import Probe

/// `random`: each (layer, KV head) keeps a seeded uniform sample of the prompt, a floor for every other policy.
public struct RandomPolicy: EvictionPolicy {
    public let name = "random"
    public let seed: UInt64
    public init(seed: UInt64) { self.seed = seed }

    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? {
        let c = evidence.model.config
        var generator = SplitMix64(seed: seed)
        let values = (0..<(c.nLayers * c.nKVHeads * evidence.promptLength)).map { _ in Double(generator.next() >> 11) }
        return KeyScores(nLayers: c.nLayers, nKVHeads: c.nKVHeads, promptLength: evidence.promptLength, values: values)
    }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        keepTop(scores, budget: budget, recent: 0, evidence: evidence)
    }
}
