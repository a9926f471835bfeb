/// `pyramidkv`: SnapKV's scores, with budgets that fall linearly with depth (lower layers attend broadly and
/// keep more, upper layers keep less), the same mean as the uniform budget.
public struct PyramidKVPolicy: EvictionPolicy {
    public let name = "pyramidkv"
    public let settings: CompressionSettings
    public init(settings: CompressionSettings) { self.settings = settings }

    public var needs: PromptEvidence.Needs { PromptEvidence.Needs(promptQueries: settings.window) }

    public func check(promptLength n: Int) throws { try WindowCheck.check(name, window: settings.window, promptLength: n) }

    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? {
        try SnapKVPolicy(settings: settings).scores(evidence)
    }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        guard let scores else { preconditionFailure("pyramidkv keeps by scores") }
        let budgets = KeySelection.pyramid(budget, window: settings.recentKept, beta: settings.pyramidBeta,
                                           layers: scores.nLayers, promptLength: evidence.promptLength)
        return KeySelection.keep(scores, budgets: budgets, recent: settings.recentKept, adaptiveFloor: settings.headFloor)
    }
}
