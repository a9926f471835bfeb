import Analysis
import Foundation
import Probe

/// What the policies may look at, gathered once per prompt: the full prompt cache after prefill, the last
/// prompt queries, the attention every prompt key received during prefill, the statistics of the prompt's
/// queries, the first generated token, and (for `oracle`) the true decoding queries of a full-cache run.
/// One prefill serves every policy and budget.
public final class PromptEvidence {
    public let model: LanguageModel
    public let prompt: [Int]
    public var promptLength: Int { prompt.count }
    /// The prompt cache (exactly n entries per (layer, KV head)); policies must leave it as it is.
    public let cache: KVCache
    /// The last prompt queries (as many as the policies need), each seeing the prompt causally.
    public let promptQueries: QuerySet
    /// `[L, H, n]`: Σ over every prompt query of its attention on each prompt key (H2O's accumulated attention).
    public let attentionSums: [Float]?
    /// Pre-RoPE query mean and covariance of the prompt (Expected Attention).
    public let queryStatistics: QueryStatistics?
    /// The full-cache greedy choice after the prompt: every policy decodes from it.
    public let firstToken: Int
    public let prefillSeconds: Double
    /// The decoding queries of the full-cache greedy answer (rows see the prompt and the answer causally).
    public private(set) var truth: QuerySet?
    /// The full-cache greedy answer that `truth` belongs to.
    public private(set) var truthTokens: [Int] = []

    /// Scores query sets against the prompt keys (float64, DESIGN.md's importance); built on first use.
    public private(set) lazy var scorer: ImportanceScorer = {
        let c = model.config, n = promptLength, d = c.dHead
        var keys = [Float](repeating: 0, count: c.nLayers * c.nKVHeads * n * d)
        for l in 0..<c.nLayers {
            for g in 0..<c.nKVHeads {
                let source = cache.keys(layer: l, head: g)
                for i in 0..<(n * d) { keys[(l * c.nKVHeads + g) * n * d + i] = source[i] }
            }
        }
        return ImportanceScorer(promptKeys: keys, nLayers: c.nLayers, nHeads: c.nHeads, nKVHeads: c.nKVHeads, dHead: d,
                                promptLength: n, extraCapacity: 64)
    }()

    /// What a prefill must record for a set of policies.
    public struct Needs: Sendable {
        /// How many of the last prompt queries to keep.
        public var promptQueries = 0
        public var attentionSums = false
        /// Record query statistics from this position on (nil: none).
        public var queryStatisticsFrom: Int?
        public init() {}
    }

    /// Prefills `prompt` into a fresh cache with room for `extraCapacity` more entries, recording `needs`.
    public init(model: LanguageModel, prompt: [Int], needs: Needs, extraCapacity: Int) {
        self.model = model
        self.prompt = prompt
        let n = prompt.count
        cache = model.makeCache(capacity: n + extraCapacity)
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

    /// Decodes the full-cache greedy answer (up to `maxTokens`, stopping at end of generation) and keeps its
    /// decoding queries as `truth`; the prompt cache is left as it was.
    @discardableResult
    public func recordTruth(maxTokens: Int) -> [Int] {
        let n = promptLength
        let lengths = cache.lengths
        defer { cache.truncate(to: lengths) }
        let recorder = QueryRecorder(config: model.config)
        let stops = model.tokenizer.endOfGenerationIDs
        var tokens: [Int] = []
        var next = firstToken
        while tokens.count < maxTokens && !stops.contains(next) {
            tokens.append(next)
            let logits = recorder.observe(model, tokens: [next], positions: [n + tokens.count - 1], cache: cache,
                                          logits: tokens.count < maxTokens ? .last : .none)
            if tokens.count < maxTokens { next = GreedyDecoder.argmax(logits) }
        }
        truth = recorder.querySet(.afterPrompt(promptLength: n))
        truthTokens = tokens
        return tokens
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

    /// The importance `set` gives the prompt keys (DESIGN.md), combined over each KV head's query heads.
    public func scores(of set: QuerySet, aggregation: GroupAggregation) -> KeyScores {
        KeyScores(importance: scorer.importance(of: set, perQueryHead: true), nHeads: model.config.nHeads, rows: set.rows,
                  aggregation: aggregation)
    }
}
