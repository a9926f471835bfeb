import Analysis

/// `lookahead-full`: a short greedy lookahead on the *full* prompt cache (the first `s` tokens of the answer the
/// uncompressed model gives); their queries, with the last few real prompt queries, score the prompt keys; pooled,
/// recent window kept. Unlike `laq`, whose lookahead decodes on a SnapKV-compressed cache (and so starts from
/// whatever SnapKV kept), nothing is evicted before the lookahead reads the prompt. Its cost is `s` decoding steps
/// on the full cache, once per prompt (every budget shares it), counted in the scoring time.
public struct FullLookaheadPolicy: EvictionPolicy {
    public let name = "lookahead-full"
    public let settings: CompressionSettings
    public init(settings: CompressionSettings) { self.settings = settings }

    public func check(promptLength n: Int) throws {
        try WindowCheck.check(name, window: settings.recentKept, promptLength: n)
        try WindowCheck.check(name, window: settings.lookaheadPromptQueries, promptLength: n, option: "--lookahead-prompt-queries")
    }

    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? {
        let lookahead = LookaheadQueries(budget: evidence.promptLength, window: settings.window, kernel: settings.poolKernel,
                                         steps: settings.fullLookaheadSteps)
            .runOnFullCache(model: evidence.model, cache: evidence.cache, promptLength: evidence.promptLength,
                            firstToken: evidence.firstToken)
        var queries = lookahead.queries
        if settings.lookaheadPromptQueries > 0 {
            queries = queries.appending(evidence.lastPromptQueries(settings.lookaheadPromptQueries))
        }
        return evidence.scores(of: queries, aggregation: settings.aggregation)
            .pooled(kernel: settings.poolKernel, pooling: settings.pooling, protectedTail: settings.recentKept)
    }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        keepTop(scores, budget: budget, recent: settings.recentKept, evidence: evidence)
    }
}
