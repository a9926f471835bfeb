import Analysis
import Probe

/// `lookahead-full`: a short greedy lookahead on the *full* prompt cache (the first `s` tokens of the answer the
/// uncompressed model gives, more while that answer is copying a run of the prompt, up to a cap); their queries,
/// with the last few real prompt queries, score the prompt keys; pooled, a few recent entries kept. Unlike `laq`, whose lookahead decodes on a SnapKV-compressed cache (and so starts from
/// whatever SnapKV kept), nothing is evicted before the lookahead reads the prompt. Its cost is those decoding steps
/// on the full cache, once per prompt (every budget shares it), counted in the scoring time.
public struct FullLookaheadPolicy: EvictionPolicy {
    public let name = "lookahead-full"
    public let settings: CompressionSettings
    public init(settings: CompressionSettings) { self.settings = settings }

    public var needs: PromptEvidence.Needs {
        // The probe's tokens come before the lookahead's: at most one a byte, and the template's end of turn.
        let probe = settings.lookaheadProbe.map { $0.utf8.count + 32 } ?? 0
        return PromptEvidence.Needs(promptQueries: settings.lookaheadPromptQueries, lookaheadSteps: settings.fullLookaheadMaxSteps + probe)
    }

    /// The probe's tokens: a blank line, the probe, then the chat template's end of the user turn and the assistant
    /// header (a newline without a template), as a question placed after the context would be.
    public static func probeTokens(_ probe: String, model: LanguageModel) throws -> [Int] {
        let format = try EvaluationPromptFormat(model: model, chat: model.gguf.metadata["tokenizer.chat_template"] != nil)
        let tail = format.chatTemplate == nil ? "\n" : format.frame(answerPrefix: "").tail
        return model.tokenizer.encode("\n\n" + probe + tail)
    }

    /// Recent prompt entries always kept when `--recent` is not given: 8, not the observation window's 32 —
    /// the lookahead's queries already see the end of the prompt, and at a budget of 64 a window of 32 would
    /// spend half the cache on it (NIAH on Qwen2.5-Coder-0.5B at 2000 tokens, B = 64: 0.68 with 32, 1.00 with 8).
    public static let defaultRecent = 8

    private var recent: Int { settings.recent ?? Self.defaultRecent }

    public func check(promptLength n: Int) throws {
        try WindowCheck.check(name, window: recent, promptLength: n, option: "--recent")
        try WindowCheck.check(name, window: settings.lookaheadPromptQueries, promptLength: n, option: "--lookahead-prompt-queries")
    }

    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? {
        let probe = try settings.lookaheadProbe.map { try Self.probeTokens($0, model: evidence.model) } ?? []
        let lookahead = LookaheadQueries.onFullCache(model: evidence.model, cache: evidence.cache, prompt: evidence.prompt,
                                                     firstToken: evidence.firstToken, minimumSteps: settings.fullLookaheadSteps,
                                                     maximumSteps: settings.fullLookaheadMaxSteps, probe: probe)
        var queries = lookahead.queries
        if settings.lookaheadPromptQueries > 0 {
            queries = queries.appending(evidence.lastPromptQueries(settings.lookaheadPromptQueries))
        }
        return evidence.scores(of: queries, aggregation: settings.aggregation)
            .pooled(kernel: settings.fullLookaheadPoolKernel, pooling: settings.pooling, protectedTail: recent)
    }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        keepTop(scores, budget: budget, recent: recent, adaptiveFloor: settings.headFloor, evidence: evidence)
    }
}
