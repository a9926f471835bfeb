import Analysis

/// `laq` (lookahead queries): compress the cache the SnapKV way (or DapQ's, `--laq-first-stage dapq`), greedily
/// decode a few tokens on it, and let their queries, with the last few real prompt queries, score the full prompt;
/// pooled, window kept.
public struct LookaheadPolicy: EvictionPolicy {
    public let name = "laq"
    public let settings: CompressionSettings
    public init(settings: CompressionSettings) { self.settings = settings }

    /// The policy whose cache the lookahead decodes on.
    private var firstStage: EvictionPolicy {
        switch settings.lookaheadFirstStage {
        case .snapkv: return SnapKVPolicy(settings: settings)
        case .dapq: return DapQPolicy(settings: settings)
        }
    }

    public var needs: PromptEvidence.Needs {
        firstStage.needs.union(PromptEvidence.Needs(promptQueries: max(settings.window, settings.lookaheadPromptQueries)))
    }

    /// Its own windows first (the message names `laq`), then what its first stage needs.
    public func check(promptLength n: Int) throws {
        try WindowCheck.check(name, window: settings.window, promptLength: n)
        try WindowCheck.check(name, window: settings.lookaheadPromptQueries, promptLength: n, option: "--lookahead-prompt-queries")
        try firstStage.check(promptLength: n)
    }

    /// The first stage's scores: the lookahead decodes on the cache they compress, whose size depends on the budget.
    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? {
        try firstStage.scores(evidence)
    }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        let firstKept = try firstStage.keep(scores, budget: budget, evidence: evidence)
        let lookahead = LookaheadQueries(budget: budget, window: settings.window, kernel: settings.poolKernel,
                                         steps: settings.lookaheadSteps)
            .run(model: evidence.model, cache: evidence.cache, promptLength: evidence.promptLength,
                 firstToken: evidence.firstToken, kept: firstKept)
        var queries = lookahead.queries
        if settings.lookaheadPromptQueries > 0 {
            queries = queries.appending(evidence.lastPromptQueries(settings.lookaheadPromptQueries))
        }
        let lookaheadScores = evidence.scores(of: queries, aggregation: settings.aggregation)
            .pooled(kernel: settings.poolKernel, pooling: settings.pooling, protectedTail: settings.recentKept)
        return keepTop(lookaheadScores, budget: budget, recent: settings.recentKept, adaptiveFloor: settings.headFloor, evidence: evidence)
    }
}
