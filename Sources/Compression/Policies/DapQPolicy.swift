import Analysis
import Probe

/// `dapq`: `w` pseudo tokens of cheap content (default the prompt's first 4 and last w−4 tokens) placed at
/// the future decoding positions n … n+w−1 (or any other position of the ablation grid, `pseudoPosition`) run
/// through the model on the full prompt cache; their queries (optionally with the last r real prompt queries)
/// score the prompt keys; pooled as SnapKV, window kept. Their own keys and values are discarded. `oracle`
/// content is the full-cache answer continued greedily to w tokens (`PromptEvidence.oracleContent`), as the
/// ablation defines it.
public struct DapQPolicy: EvictionPolicy {
    public let name = "dapq"
    public let settings: CompressionSettings
    public init(settings: CompressionSettings) { self.settings = settings }

    public var needs: PromptEvidence.Needs { 
        PromptEvidence.Needs(promptQueries: settings.pseudoPromptQueries,
                             oracleContent: settings.pseudoContent == .oracle ? settings.pseudoCount : 0)
     }

    private func builder(_ model: LanguageModel) -> PseudoContentBuilder {
        PseudoContentBuilder(model: model, count: settings.pseudoCount, prefixCount: settings.pseudoPrefixCount,
                             seed: settings.seed)
    }

    public func check(promptLength n: Int) throws {
        try WindowCheck.check(name, window: settings.pseudoCount, promptLength: n, option: "--pseudo-count")
        try WindowCheck.check(name, window: settings.recentKept, promptLength: n)
        try WindowCheck.check(name, window: settings.pseudoPromptQueries, promptLength: n, option: "--pseudo-prompt-queries")
    }

    /// The pseudo tokens' token ids for this prompt.
    public func pseudoTokens(_ evidence: PromptEvidence) throws -> [Int] {
        try builder(evidence.model).tokens(settings.pseudoContent, prompt: evidence.prompt, oracle: evidence.oracleContent)
    }

    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? {
        let n = evidence.promptLength, cache = evidence.cache
        let tokens = try pseudoTokens(evidence)
        let lengths = cache.lengths
        let recorder = QueryRecorder(config: evidence.model.config)
        let positions = settings.pseudoPosition.positions(promptLength: n, count: tokens.count, farOffset: settings.pseudoFarOffset)
        recorder.observe(evidence.model, tokens: tokens, positions: positions, cache: cache, logits: .none)
        cache.truncate(to: lengths)
        var queries = recorder.querySet(.afterPrompt(promptLength: n))
        if settings.pseudoPromptQueries > 0 { queries = queries.appending(evidence.lastPromptQueries(settings.pseudoPromptQueries)) }
        return evidence.scores(of: queries, aggregation: settings.aggregation)
            .pooled(kernel: settings.poolKernel, pooling: settings.pooling, protectedTail: settings.recentKept)
    }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        keepTop(scores, budget: budget, recent: settings.recentKept, adaptiveFloor: settings.headFloor, evidence: evidence)
    }
}
