import Analysis
import Foundation
import Probe

/// One policy at one budget on one prompt: what it kept and what the model answered from it.
public struct CompressionCell: Sendable {
    public let policy: String
    /// The budget as given (`64`, `3%`), and the entries per (layer, KV head) it means for this prompt.
    public let budget: Budget
    public let entries: Int
    /// Kept prompt positions per (layer, KV head).
    public let kept: KeptEntries
    /// Bytes of keys and values the compressed cache holds right after eviction, and after decoding.
    public let cacheBytes: Int
    public let finalCacheBytes: Int
    /// Seconds the policy's scoring and selection took (budget-independent scoring included in every cell).
    public let scoreSeconds: Double
    /// The greedy answer's ids and text.
    public let tokens: [Int]
    public let text: String
    /// Agreement with the full-cache answer (`CompressionResult.tokenAgreement`).
    public let agreement: Double
}

/// A prompt compressed by every policy × budget.
public struct CompressionResult: Sendable {
    public let promptLength: Int
    public let prefillSeconds: Double
    /// The full-cache greedy answer (decoded one token at a time on the uncompressed cache).
    public let fullTokens: [Int]
    public let fullText: String
    /// Seconds of decoding all cells (batched or one by one), and how many sequences one step carried.
    public let decodeSeconds: Double
    public let batchSize: Int
    /// Cells in policy order, budgets in the order given (`full` once, at 100%).
    public let cells: [CompressionCell]

    /// Token overlap of two greedy answers: positions where both have the same token, over the longer length
    /// (1 when both are empty).
    public static func tokenAgreement(_ a: [Int], _ b: [Int]) -> Double {
        let longest = max(a.count, b.count)
        guard longest > 0 else { return 1 }
        return Double(zip(a, b).filter { $0 == $1 }.count) / Double(longest)
    }
}

/// One policy's choice at one budget, before decoding.
public struct PolicySelection: Sendable {
    public let policy: PolicyName
    public let budget: Budget
    /// Entries per (layer, KV head) the budget means for this prompt.
    public let entries: Int
    public let kept: KeptEntries
    /// Seconds of scoring (budget-independent part included) and selection.
    public let seconds: Double
}

/// Where a running compression is, for a progress display.
public enum CompressionProgress: Sendable {
    case prefill(tokens: Int)
    case reference(maxTokens: Int)
    case scoring(policy: String, index: Int, count: Int)
    case decoding(running: Int, cells: Int)
}

/// Prefills a prompt once, lets each policy choose its entries at each budget, and decodes every resulting
/// cache greedily (batched): the compressed-cache experiment of DESIGN.md ("Compression policies").
public struct Compressor {
    public let model: LanguageModel
    public let settings: CompressionSettings
    /// Sequences decoded together (1: one by one).
    public var batchSize: Int

    public init(model: LanguageModel, settings: CompressionSettings = CompressionSettings(),
                batchSize: Int = BatchedGreedyDecoder.exactBatchLimit) throws {
        try settings.check()
        self.model = model
        self.settings = settings
        self.batchSize = batchSize
    }

    /// What a prefill must record so that `policies` can score.
    public func needs(_ policies: [PolicyName]) -> PromptEvidence.Needs {
        var needs = PromptEvidence.Needs()
        for policy in policies {
            switch policy {
            case .snapkv, .pyramidkv: needs.promptQueries = max(needs.promptQueries, settings.window)
            case .laq: needs.promptQueries = max(needs.promptQueries, settings.window, settings.lookaheadPromptQueries)
            case .lookaheadFull: needs.promptQueries = max(needs.promptQueries, settings.lookaheadPromptQueries)
            case .tova: needs.promptQueries = max(needs.promptQueries, 1)
            case .dapq: needs.promptQueries = max(needs.promptQueries, settings.pseudoPromptQueries)
            case .h2o: needs.attentionSums = true
            case .expected: needs.queryStatisticsFrom = settings.expectedSinks
            case .full, .random, .streaming, .oracle: break
            }
        }
        return needs
    }

    /// Refuses, before any model work, what cannot run on a prompt of `promptLength` tokens.
    public func check(promptLength n: Int, policies: [PolicyName], maxTokens: Int) throws {
        try GreedyDecoder(model: model).checkFits(promptLength: n, newTokens: maxTokens + max(settings.pseudoCount, settings.fullLookaheadSteps))
        for policy in policies { try policy.make(settings).check(promptLength: n) }
    }

    /// Prefills `prompt` and records what `policies` need, plus the full-cache answer (and its queries).
    public func evidence(prompt: [Int], policies: [PolicyName], maxTokens: Int,
                         progress: ((CompressionProgress) -> Void)? = nil) throws -> PromptEvidence {
        try check(promptLength: prompt.count, policies: policies, maxTokens: maxTokens)
        progress?(.prefill(tokens: prompt.count))
        let evidence = PromptEvidence(model: model, prompt: prompt, needs: needs(policies),
                                      extraCapacity: max(maxTokens, settings.pseudoCount) + 1)
        progress?(.reference(maxTokens: maxTokens))
        evidence.recordTruth(maxTokens: maxTokens)
        return evidence
    }

    /// The kept entries of every policy × budget, with the seconds each took.
    public func select(_ evidence: PromptEvidence, policies: [PolicyName], budgets: [Budget],
                       progress: ((CompressionProgress) -> Void)? = nil) throws -> [PolicySelection] {
        let n = evidence.promptLength
        var selections: [PolicySelection] = []
        for (index, name) in policies.enumerated() {
            progress?(.scoring(policy: name.rawValue, index: index, count: policies.count))
            let policy = name.make(settings)
            try policy.check(promptLength: n)
            // `full` keeps everything whatever the budget: one cell, budget 100%.
            let policyBudgets = name == .full ? [Budget.fraction(1)] : budgets
            let needsScores = name != .full && policyBudgets.contains { $0.entries(promptLength: n) < n }
            let scoreStart = Date()
            let scores = needsScores ? try policy.scores(evidence) : nil
            let scoreSeconds = Date().timeIntervalSince(scoreStart)
            for budget in policyBudgets {
                let entries = budget.entries(promptLength: n)
                let keepStart = Date()
                let kept = entries < n ? try policy.keep(scores, budget: entries, evidence: evidence)
                                       : try FullPolicy().keep(nil, budget: entries, evidence: evidence)
                let seconds = entries < n ? scoreSeconds + Date().timeIntervalSince(keepStart) : 0
                selections.append(PolicySelection(policy: name, budget: budget, entries: entries, kept: kept, seconds: seconds))
            }
        }
        return selections
    }

    /// The whole experiment on one prompt.
    public func run(prompt: [Int], policies: [PolicyName], budgets: [Budget], maxTokens: Int,
                    progress: ((CompressionProgress) -> Void)? = nil) throws -> CompressionResult {
        let evidence = try evidence(prompt: prompt, policies: policies, maxTokens: maxTokens, progress: progress)
        let selections = try select(evidence, policies: policies, budgets: budgets, progress: progress)
        let caches = selections.map { evidence.cache.keeping($0.kept, extraCapacity: maxTokens + 1) }
        let evictedBytes = caches.map(\.bytesHeld)
        let decodeStart = Date()
        let answers = BatchedGreedyDecoder(model: model, batchSize: batchSize)
            .decode(caches: caches, firstToken: evidence.firstToken, promptLength: evidence.promptLength, maxTokens: maxTokens) {
                progress?(.decoding(running: $0, cells: caches.count))
            }
        let decodeSeconds = Date().timeIntervalSince(decodeStart)
        let full = evidence.truthTokens
        let cells = selections.indices.map { i in
            let s = selections[i]
            return CompressionCell(policy: s.policy.rawValue, budget: s.budget, entries: s.entries, kept: s.kept,
                                   cacheBytes: evictedBytes[i], finalCacheBytes: caches[i].bytesHeld, scoreSeconds: s.seconds,
                                   tokens: answers[i], text: model.tokenizer.decode(answers[i]),
                                   agreement: CompressionResult.tokenAgreement(full, answers[i]))
        }
        return CompressionResult(promptLength: evidence.promptLength, prefillSeconds: evidence.prefillSeconds, fullTokens: full,
                                 fullText: model.tokenizer.decode(full), decodeSeconds: decodeSeconds, batchSize: batchSize,
                                 cells: cells)
    }
}
