import Analysis
import Foundation
import Probe

/// What the policies may look at, gathered once per prompt: the full prompt cache after prefill, the last
/// prompt queries, the attention every prompt key received during prefill, the statistics of the prompt's
/// queries, the greedy token after the prompt, and (for `oracle`) the true decoding queries of a full-cache run.
/// One prefill serves every policy and budget.
///
/// The "prompt" here is what compression sees: the whole prompt when the question is inside it, the context
/// alone when the question is outside (`question` then holds the tokens appended after eviction; the full-cache
/// run that gives the truth prefills them on the full context cache, at positions n … n+q−1).
public final class PromptEvidence {
    public let model: LanguageModel
    public let prompt: [Int]
    public var promptLength: Int { prompt.count }
    /// Tokens appended after eviction (the question placed outside); empty when the question is inside the prompt.
    public let question: [Int]
    /// The prompt cache (exactly n entries per (layer, KV head)); policies must leave it as it is.
    public let cache: KVCache
    /// The last prompt queries (as many as the policies need), each seeing the prompt causally.
    public let promptQueries: QuerySet
    /// `[L, H, n]`: Σ over every prompt query of its attention on each prompt key (H2O's accumulated attention).
    public let attentionSums: [Float]?
    /// Pre-RoPE query mean and covariance of the prompt (Expected Attention).
    public let queryStatistics: QueryStatistics?
    /// The full-cache greedy choice after the prompt: with the question inside, every policy decodes from it;
    /// with the question outside, it is what follows the context (LAQ's lookahead starts there).
    public let firstToken: Int
    public let prefillSeconds: Double
    /// The decoding queries of the full-cache greedy answer (rows see the prompt, the question and the answer
    /// causally).
    public private(set) var truth: QuerySet?
    /// The full-cache greedy answer that `truth` belongs to.
    public private(set) var truthTokens: [Int] = []
    /// The full-cache answer continued greedily past its end (end-of-generation token included, as an ordinary
    /// token) to the length `recordTruth` was asked for: DapQ's `oracle` content.
    public private(set) var oracleContent: [Int] = []
    /// Scores the truth against the prompt and question keys of the full-cache run (nil: `scorer`, no question).
    private var truthScorer: ImportanceScorer?

    /// Scores query sets against the prompt keys (float64, docs/metrics.md's importance); built on first use.
    public private(set) lazy var scorer: ImportanceScorer = makeScorer(keysOfFirst: promptLength)

    /// A scorer over the first `n` entries of `cache` as its prompt keys.
    private func makeScorer(keysOfFirst n: Int) -> ImportanceScorer {
        let c = model.config, d = c.dHead
        var keys = [Float](repeating: 0, count: c.nLayers * c.nKVHeads * n * d)
        for l in 0..<c.nLayers {
            for g in 0..<c.nKVHeads {
                let source = cache.keys(layer: l, head: g, rows: 0..<n)
                for i in 0..<(n * d) { keys[(l * c.nKVHeads + g) * n * d + i] = source[i] }
            }
        }
        return ImportanceScorer(promptKeys: keys, nLayers: c.nLayers, nHeads: c.nHeads, nKVHeads: c.nKVHeads, dHead: d,
                                promptLength: n, extraCapacity: 64)
    }

    /// What a prefill must record for a set of policies.
    public struct Needs: Sendable {
        /// How many of the last prompt queries to keep.
        public var promptQueries = 0
        public var attentionSums = false
        /// Record query statistics from this position on (nil: none).
        public var queryStatisticsFrom: Int?
        /// Tokens of the full-cache answer continued past its end as pseudo content (`dapq` with `oracle` content).
        public var oracleContent = 0
        /// Tokens decoded on the full cache at n, n+1, … before eviction (`lookahead-full`'s cap).
        public var lookaheadSteps = 0
        public init(promptQueries: Int = 0, attentionSums: Bool = false, queryStatisticsFrom: Int? = nil,
                    oracleContent: Int = 0, lookaheadSteps: Int = 0) {
            self.promptQueries = promptQueries
            self.attentionSums = attentionSums
            self.queryStatisticsFrom = queryStatisticsFrom
            self.oracleContent = oracleContent
            self.lookaheadSteps = lookaheadSteps
        }

        /// What both `self` and `other` need.
        public func union(_ other: Needs) -> Needs {
            Needs(promptQueries: max(promptQueries, other.promptQueries), attentionSums: attentionSums || other.attentionSums,
                  queryStatisticsFrom: [queryStatisticsFrom, other.queryStatisticsFrom].compactMap { $0 }.min(),
                  oracleContent: max(oracleContent, other.oracleContent), lookaheadSteps: max(lookaheadSteps, other.lookaheadSteps))
        }
    }

    /// Prefills `prompt` into a fresh cache with room for `question` and `extraCapacity` more entries,
    /// recording `needs`.
    public init(model: LanguageModel, prompt: [Int], question: [Int] = [], needs: Needs, extraCapacity: Int) {
        self.model = model
        self.prompt = prompt
        self.question = question
        let n = prompt.count
        cache = model.makeCache(capacity: n + question.count + extraCapacity)
        let observer = PrefillObserver(model: model, promptLength: n, needs: needs)
        let start = Date()
        let logits = observer.recorder.observe(model, tokens: prompt, positions: Array(0..<n), cache: cache, logits: .last,
                                               via: observer)
        prefillSeconds = Date().timeIntervalSince(start)
        firstToken = GreedyDecoder.argmax(logits)
        promptQueries = observer.recorder.querySet(.insidePrompt)
        attentionSums = observer.attentionSums
        queryStatistics = observer.statistics
    }

    /// Decodes the full-cache greedy answer (up to `maxTokens`, stopping at end of generation; the question,
    /// when outside, prefilled first) and keeps its decoding queries as `truth`; continues the answer greedily to
    /// `oracleLength` tokens for `oracleContent`. The prompt cache is left as it was.
    @discardableResult
    public func recordTruth(maxTokens: Int, oracleLength: Int = 0) -> [Int] {
        let n = promptLength, start = n + question.count
        let lengths = cache.lengths
        defer { cache.truncate(to: lengths) }
        var next = firstToken
        if !question.isEmpty {
            next = GreedyDecoder.argmax(model.forward(tokens: question, positions: Array(n..<start), cache: cache, logits: .last))
        }
        let recorder = QueryRecorder(config: model.config)
        var answer = GreedyLoop.Outcome(tokens: [], stopped: false, following: next)
        if maxTokens > 0 {
            // Logits after the answer's last token too when the oracle content goes on past it.
            answer = GreedyLoop(stops: model.tokenizer.endOfGenerationIDs).run(first: next) { $0.count < maxTokens } feed: { token, index, more in
                recorder.observe(model, tokens: [token], positions: [start + index], cache: cache,
                                 logits: more || index + 1 < oracleLength ? .last : .none)
            }
        }
        let tokens = answer.tokens
        truth = recorder.querySet(.afterPrompt(promptLength: start))
        truthTokens = tokens
        if !question.isEmpty { truthScorer = makeScorer(keysOfFirst: start) }
        // The oracle content: past the answer's end the greedy choice (the end token first) is fed as any other.
        var content = tokens
        if content.count < oracleLength, let following = answer.following {
            content += GreedyLoop(feedsLastToken: false).run(first: following) { tokens.count + $0.count < oracleLength } feed: { token, index, _ in
                model.forward(tokens: [token], positions: [start + tokens.count + index], cache: cache, logits: .last)
            }.tokens
        }
        oracleContent = content
        return tokens
    }

    /// The importance the truth gives the prompt keys (the softmax over everything its rows saw, the question's
    /// keys included, restricted to the prompt), combined over each KV head's query heads.
    public func truthScores(aggregation: GroupAggregation) -> KeyScores? {
        guard let truth else { return nil }
        guard let truthScorer else { return scores(of: truth, aggregation: aggregation) }
        return KeyScores(importance: truthScorer.importance(of: truth, perQueryHead: true), nHeads: model.config.nHeads,
                         rows: truth.rows, aggregation: aggregation).prefix(promptLength)
    }
}

/// The prefill's observer: keeps the last prompt queries, adds up attention per key, and accumulates
/// query statistics, each only when asked for.
final class PrefillObserver: ForwardObserver {
    let recorder: QueryRecorder
    let statistics: QueryStatistics?
    /// `[L, H, n]`, added to by the forward pass from its worker threads.
    private let sums: FloatBuffer?
    private let model: LanguageModel
    private let promptLength: Int

    init(model: LanguageModel, promptLength n: Int, needs: PromptEvidence.Needs) {
        self.model = model
        promptLength = n
        let rows = min(n, needs.promptQueries)
        recorder = QueryRecorder(config: model.config) { $0 >= n - rows }
        statistics = needs.queryStatisticsFrom.map { QueryStatistics(config: model.config, firstPosition: $0) }
        sums = needs.attentionSums ? FloatBuffer(count: model.config.nLayers * model.config.nHeads * n) : nil
    }

    /// The accumulated attention, once the prefill is over.
    var attentionSums: [Float]? { sums?.array }

    func didProject(layer: Int, positions: [Int], queries: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                    values: UnsafePointer<Float>) {
        recorder.didProject(layer: layer, positions: positions, queries: queries, keys: keys, values: values)
        statistics?.add(layer: layer, positions: positions, queries: queries, model: model)
    }

    func attentionSums(layer: Int, head: Int) -> UnsafeMutablePointer<Float>? {
        sums.map { $0.pointer + (layer * model.config.nHeads + head) * promptLength }
    }
}

extension PromptEvidence {
    /// The last `count` prompt queries (the prefill must have recorded at least that many).
    public func lastPromptQueries(_ count: Int) -> QuerySet {
        precondition(count <= promptQueries.rows, "the prefill kept \(promptQueries.rows) prompt queries, \(count) asked for")
        return promptQueries.rows((promptQueries.rows - count)..<promptQueries.rows)
    }

    /// The importance `set` gives the prompt keys (docs/metrics.md), combined over each KV head's query heads.
    public func scores(of set: QuerySet, aggregation: GroupAggregation) -> KeyScores {
        KeyScores(importance: scorer.importance(of: set, perQueryHead: true), nHeads: model.config.nHeads, rows: set.rows,
                  aggregation: aggregation)
    }
}
