/// `h2o` (Heavy-Hitter Oracle): the attention each prompt key accumulated from every prompt query during
/// prefill picks the heavy hitters; a share of the budget keeps the most recent entries.
public struct H2OPolicy: EvictionPolicy {
    public let name = "h2o"
    public let settings: CompressionSettings
    public init(settings: CompressionSettings) { self.settings = settings }

    public var needs: PromptEvidence.Needs { PromptEvidence.Needs(attentionSums: true) }

    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? {
        guard let sums = evidence.attentionSums else { preconditionFailure("h2o needs the prefill's attention sums") }
        let c = evidence.model.config
        return KeyScores(perQueryHead: sums.map(Double.init), nLayers: c.nLayers, nHeads: c.nHeads, nKVHeads: c.nKVHeads,
                         promptLength: evidence.promptLength, aggregation: settings.aggregation)
    }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        keepTop(scores, budget: budget, recent: Int((Double(budget) * settings.h2oRecentFraction).rounded(.down)),
                adaptiveFloor: settings.headFloor, evidence: evidence)
    }
}
