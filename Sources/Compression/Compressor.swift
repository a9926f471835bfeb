import Analysis
import Foundation
import Probe

/// One policy at one budget on one prompt: what it kept and what the model answered from it.
public struct CompressionCell: Sendable {
    public let policy: String
    /// The budget as given (`64`, `3%`), and the entries per (layer, KV head) it means for this prompt.
    public let budget: Budget
    public let entries: Int
    /// Prompt positions the cache holds when decoding starts, per (layer, KV head): the kept ones, and with the
    /// question outside also the question's (appended after eviction).
    public let kept: KeptEntries
    /// Bytes of keys and values the compressed cache holds when decoding starts (right after eviction, and
    /// after the appended question when it is outside), and after decoding.
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
    /// Prompt tokens, the question included wherever it is placed.
    public let promptLength: Int
    public let prefillSeconds: Double
    /// The full-cache greedy answer (decoded one token at a time on the uncompressed cache).
    public let fullTokens: [Int]
    public let fullText: String
    /// Seconds of decoding all cells (batched or one by one; with the question outside, its prefill on each
    /// compressed cache included), and how many sequences one step carried.
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
    public let policy: PolicySpec
    public let budget: Budget
    /// Entries per (layer, KV head) the budget means for this prompt (question included when it is outside).
    public let entries: Int
    /// Kept prompt entries (of the context alone when the question is outside).
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
/// cache greedily (batched): the compressed-cache experiment of docs/policies.md.
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
    public func needs(_ policies: [PolicySpec]) -> PromptEvidence.Needs {
        policies.reduce(PromptEvidence.Needs()) { $0.union($1.make(settings).needs) }
    }

    /// Refuses, before any model work, what cannot run on a prompt of `promptLength` tokens followed by
    /// `questionLength` appended ones.
    public func check(promptLength n: Int, questionLength q: Int = 0, policies: [PolicySpec], maxTokens: Int) throws {
        // A full-cache lookahead decodes at positions n, n+1, … before eviction.
        let lookahead = needs(policies).lookaheadSteps
        try GreedyDecoder(model: model).checkFits(promptLength: n + q, newTokens: max(maxTokens + settings.pseudoCount, lookahead))
        for spec in policies { try spec.make(settings).check(promptLength: n) }
    }

    /// Prefills `prompt` and records what `policies` need, plus the full-cache answer (and its queries), the
    /// `question` (empty: none) prefilled after the prompt for it.
    public func evidence(prompt: [Int], question: [Int] = [], policies: [PolicySpec], maxTokens: Int,
                         progress: ((CompressionProgress) -> Void)? = nil) throws -> PromptEvidence {
        try check(promptLength: prompt.count, questionLength: question.count, policies: policies, maxTokens: maxTokens)
        progress?(.prefill(tokens: prompt.count))
        let needs = needs(policies)
        let evidence = PromptEvidence(model: model, prompt: prompt, question: question, needs: needs,
                                      extraCapacity: max(maxTokens, settings.pseudoCount) + 1)
        progress?(.reference(maxTokens: maxTokens))
        evidence.recordTruth(maxTokens: maxTokens, oracleLength: needs.oracleContent)
        return evidence
    }

    /// The kept entries of every policy × budget, with the seconds each took. A budget counts every entry held
    /// when decoding starts: with the question outside, the q appended question entries are part of it and the
    /// context keeps B − q (an error when that leaves none), so both placements decode from caches of B entries.
    public func select(_ evidence: PromptEvidence, policies: [PolicySpec], budgets: [Budget],
                       progress: ((CompressionProgress) -> Void)? = nil) throws -> [PolicySelection] {
        let n = evidence.promptLength, q = evidence.question.count
        var selections: [PolicySelection] = []
        for (index, spec) in policies.enumerated() {
            progress?(.scoring(policy: spec.description, index: index, count: policies.count))
            let policy = spec.make(settings)
            try policy.check(promptLength: n)
            // `full` keeps everything whatever the budget: one cell, budget 100%.
            let policyBudgets = spec.name == .full ? [Budget.fraction(1)] : budgets
            let contextBudgets = try policyBudgets.map { budget -> Int in
                let entries = budget.entries(promptLength: n + q)
                guard entries > q else {
                    throw ProbeError("budget \(budget) leaves no entry for the context: the question placed outside takes \(q) of its \(entries) entries")
                }
                return entries - q
            }
            let needsScores = spec.name != .full && contextBudgets.contains { $0 < n }
            let scoreStart = Date()
            let scores = needsScores ? try policy.scores(evidence) : nil
            let scoreSeconds = Date().timeIntervalSince(scoreStart)
            for (budget, contextEntries) in zip(policyBudgets, contextBudgets) {
                let keepStart = Date()
                let kept = contextEntries < n ? try policy.keep(scores, budget: contextEntries, evidence: evidence)
                                              : try FullPolicy().keep(nil, budget: n, evidence: evidence)
                let seconds = contextEntries < n ? scoreSeconds + Date().timeIntervalSince(keepStart) : 0
                selections.append(PolicySelection(policy: spec, budget: budget, entries: min(contextEntries, n) + q, kept: kept,
                                                  seconds: seconds))
            }
        }
        return selections
    }

    /// The whole experiment on one prompt: `question` (empty: none) is appended after eviction, prefilled on
    /// every compressed cache at the positions after the prompt, before greedy decoding.
    public func run(prompt: [Int], question: [Int] = [], policies: [PolicySpec], budgets: [Budget], maxTokens: Int,
                    progress: ((CompressionProgress) -> Void)? = nil) throws -> CompressionResult {
        let evidence = try evidence(prompt: prompt, question: question, policies: policies, maxTokens: maxTokens, progress: progress)
        let selections = try select(evidence, policies: policies, budgets: budgets, progress: progress)
        let n = evidence.promptLength, start = n + question.count
        let caches = selections.map { evidence.cache.keeping($0.kept, extraCapacity: question.count + maxTokens + 1) }
        let decodeStart = Date()
        let firstTokens = question.isEmpty ? Array(repeating: evidence.firstToken, count: caches.count) : caches.map {
            GreedyDecoder.argmax(model.forward(tokens: question, positions: Array(n..<start), cache: $0, logits: .last))
        }
        let heldBytes = caches.map(\.bytesHeld)
        let answers = BatchedGreedyDecoder(model: model, batchSize: batchSize)
            .decode(caches: caches, firstTokens: firstTokens, promptLength: start, maxTokens: maxTokens) {
                progress?(.decoding(running: $0, cells: caches.count))
            }
        let decodeSeconds = Date().timeIntervalSince(decodeStart)
        let full = evidence.truthTokens
        let cells = selections.indices.map { i in
            let s = selections[i]
            let held = s.kept.map { layer in layer.map { $0 + Array(n..<start) } }
            return CompressionCell(policy: s.policy.description, budget: s.budget, entries: s.entries, kept: held,
                                   cacheBytes: heldBytes[i], finalCacheBytes: caches[i].bytesHeld, scoreSeconds: s.seconds,
                                   tokens: answers[i], text: model.tokenizer.decode(answers[i]),
                                   agreement: CompressionResult.tokenAgreement(full, answers[i]))
        }
        return CompressionResult(promptLength: start, prefillSeconds: evidence.prefillSeconds, fullTokens: full,
                                 fullText: model.tokenizer.decode(full), decodeSeconds: decodeSeconds, batchSize: batchSize,
                                 cells: cells)
    }
}
