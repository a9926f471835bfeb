/// `tova` (Token Omission Via Attention): the last prompt query's attention ranks the keys.
public struct TOVAPolicy: EvictionPolicy {
    public let name = "tova"
    public let settings: CompressionSettings
    public init(settings: CompressionSettings) { self.settings = settings }

    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? {
        evidence.scores(of: evidence.lastPromptQueries(1), aggregation: settings.aggregation)
    }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        keepTop(scores, budget: budget, recent: 0, evidence: evidence)
    }
}
