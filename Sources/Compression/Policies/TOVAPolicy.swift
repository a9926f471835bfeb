/// `tova` (Token Omission Via Attention): the last prompt query's attention, averaged over *all* query heads
/// (as TOVA and kvpress define it, so every KV head of a layer ranks the keys alike), ranks the keys; the last
/// prompt entry is always kept.
public struct TOVAPolicy: EvictionPolicy {
    public let name = "tova"
    public let settings: CompressionSettings
    public init(settings: CompressionSettings) { self.settings = settings }

    public var needs: PromptEvidence.Needs { PromptEvidence.Needs(promptQueries: 1) }

    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? {
        let c = evidence.model.config, n = evidence.promptLength
        let last = evidence.lastPromptQueries(1)
        guard let perHead = evidence.scorer.importance(of: last, perQueryHead: true).headSums else { return nil }
        // One "group" of every query head per layer, then the same row for each KV head.
        let layerMean = KeyScores(perQueryHead: perHead, nLayers: c.nLayers, nHeads: c.nHeads, nKVHeads: 1, promptLength: n,
                                  aggregation: .mean)
        var values: [Double] = []
        values.reserveCapacity(c.nLayers * c.nKVHeads * n)
        for l in 0..<c.nLayers { for _ in 0..<c.nKVHeads { values += layerMean.row(layer: l, head: 0) } }
        return KeyScores(nLayers: c.nLayers, nKVHeads: c.nKVHeads, promptLength: n, values: values)
    }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        keepTop(scores, budget: budget, recent: 1, adaptiveFloor: settings.headFloor, evidence: evidence)
    }
}
