import Foundation
import Probe

/// Settings of an ablation run (docs/metrics.md); the defaults are the documented ones.
public struct AblationOptions: Sendable {
    /// Pseudo tokens per variant, and the observation window of the `window` reference and of SnapKV, `w`.
    public var pseudoCount = 32
    public var contents: [PseudoContent] = PseudoContent.allCases
    public var positions: [PseudoPosition] = PseudoPosition.allCases
    /// Δ of the `far` position.
    public var farOffset = 1024
    /// `a` of `prefix+suffix`.
    public var prefixCount = 4
    /// Budgets `k` of the metrics (each clipped to the prompt length).
    public var kValues = [16, 32, 64, 128, 256]
    /// Seed of the `random` content.
    public var seed: UInt64 = 0
    /// The token `repeat` repeats; nil: the last prompt token.
    public var repeatToken: Int?
    /// LAQ: the SnapKV budget of the compressed cache (nil: the largest `k`), greedy steps, and the last
    /// prompt queries added to the lookahead queries.
    public var lookaheadBudget: Int?
    public var lookaheadSteps = 8
    public var lookaheadPromptQueries = 8
    /// A KV head is a retrieval head when one of its query heads' pooled retrieval score is above this.
    public var retrievalThreshold = RetrievalHeads.defaultThreshold
    /// Max-pooling kernel of SnapKV's scores.
    public var poolKernel = 7
    /// The largest accepted difference between recomputed and captured prompt keys (0: they must be equal).
    public var keyTolerance: Float = 0
    /// The headline budget: the `k` nearest this fraction of `n`.
    public var headlineFraction = 0.03

    public init() {}

    /// The variants run, in table order: the grid (content outer), then `window`, `lookahead`, `truth`.
    public var variants: [AblationVariant] { AblationVariant.grid(contents: contents, positions: positions) }

    /// Refuses settings that cannot work for any prompt.
    public func check() throws {
        guard pseudoCount >= 1 else { throw ProbeError("--pseudo-count must be at least 1") }
        guard !kValues.isEmpty, kValues.allSatisfy({ $0 >= 1 }) else { throw ProbeError("--k needs positive budgets") }
        guard Set(kValues).count == kValues.count else { throw ProbeError("--k lists a budget twice") }
        guard farOffset >= 0 else { throw ProbeError("--far-offset must not be negative") }
        guard lookaheadSteps >= 1, lookaheadPromptQueries >= 0 else { throw ProbeError("the lookahead needs at least one step") }
        guard poolKernel >= 1, poolKernel % 2 == 1 else { throw ProbeError("the pooling kernel must be odd, got \(poolKernel)") }
        if let b = lookaheadBudget, b < 1 { throw ProbeError("--laq-budget must be at least 1") }
        guard retrievalThreshold >= 0, retrievalThreshold < 1 else { throw ProbeError("--retrieval-threshold must be in [0, 1)") }
        guard keyTolerance >= 0 else { throw ProbeError("the key tolerance must not be negative") }
    }
}

/// Where a running ablation is, for a progress display.
public enum AblationProgress: Sendable {
    /// Re-prefilling prompt `prompt` (0-based) of `prompts`, `tokens` long.
    case prefill(prompt: Int, prompts: Int, tokens: Int)
    /// About to run variant `index` of `count` (named `name`) of prompt `prompt`.
    case variant(prompt: Int, prompts: Int, name: String, index: Int, count: Int)
}

/// One variant's outcome on one prompt.
public struct VariantResult: Sendable {
    public let variant: AblationVariant
    /// The query set (nil for `truth`, whose queries are the capture's `decode/rot_q`).
    public let queries: QuerySet?
    /// `[L, G, n]`: the importance the variant's queries give the prompt keys (`P`).
    public let importance: [Float]
    public let metrics: VariantMetrics
    /// Seconds to run the variant's tokens through the model and score them.
    public let seconds: Double
}

/// The ablation of one capture.
public struct PromptAblation: Sendable {
    public let capturePath: String
    public let promptLength: Int
    public let steps: Int
    /// Index into `kValues` of the headline budget (nearest `headlineFraction · n`).
    public let headlineIndex: Int
    public let kValues: [Int]
    public let variants: [VariantResult]
    /// Largest |recomputed − captured| over the prompt keys, and over the window queries both hold.
    public let promptKeyMaxDifference: Float
    public let windowQueryMaxDifference: Float
    /// Largest |truth importance recomputed here − the capture's decode/importance| (0: bit for bit).
    public let truthImportanceMaxDifference: Float
    /// The oracle content's tokens (the answer, continued greedily to `w`), the repeat token, LAQ's tokens.
    public let oracleTokens: [Int]
    public let repeatToken: Int
    public let lookaheadTokens: [Int]
    public let lookaheadBudget: Int
    public let prefillSeconds: Double
    public let totalSeconds: Double

    public func result(_ variant: AblationVariant) -> VariantResult? { variants.first { $0.variant == variant } }
}

/// The ablation runner: rebuild a capture's prompt cache, run every variant's pseudo tokens through it, score
/// the prompt keys with each query set, and compare with the capture's true decoding importance.
public final class Ablation {
    public let model: LanguageModel
    public let modelPath: String
    public let options: AblationOptions
    private lazy var modelSHA256: String? = try? SHA256.hex(ofFileAt: modelPath)

    public init(model: LanguageModel, modelPath: String, options: AblationOptions) throws {
        try options.check()
        self.model = model
        self.modelPath = modelPath
        self.options = options
    }

    /// Checks that `capture` can be ablated with this model and these options before any long work.
    public func check(_ capture: CaptureFile.Header) throws {
        let c = model.config
        guard (capture.nLayers, capture.nHeads, capture.nKVHeads, capture.dHead) == (c.nLayers, c.nHeads, c.nKVHeads, c.dHead) else {
            throw ProbeError("\(capture.path): made with a model of \(capture.nLayers) layers, \(capture.nHeads) heads, "
                             + "\(capture.nKVHeads) KV heads, head size \(capture.dHead); \(modelPath) has \(c.nLayers), \(c.nHeads), "
                             + "\(c.nKVHeads), \(c.dHead) (give the capture's model with --model)")
        }
        try contentBuilder.check(promptLength: capture.promptLength)
        guard capture.promptLength >= options.lookaheadPromptQueries else {
            throw ProbeError("\(capture.path): the prompt (\(capture.promptLength) tokens) is shorter than the \(options.lookaheadPromptQueries) prompt queries the lookahead reference adds")
        }
    }

    private var contentBuilder: PseudoContentBuilder {
        PseudoContentBuilder(model: model, count: options.pseudoCount, prefixCount: options.prefixCount, seed: options.seed,
                             repeatToken: options.repeatToken)
    }

    /// Runs every variant on `capture` (prompt `index` of `count`, for progress only).
    public func run(capture: CaptureFile, index: Int = 0, count: Int = 1,
                    progress: ((AblationProgress) -> Void)? = nil) throws -> PromptAblation {
        let start = Date()
        let c = model.config, L = c.nLayers, G = c.nKVHeads, d = c.dHead
        let n = capture.promptLength, S = capture.steps, W = options.pseudoCount
        try check(CaptureFile.Header(path: capture.path, modelPath: capture.modelPath, modelSHA256: capture.modelSHA256,
                                     nLayers: capture.nLayers, nHeads: capture.nHeads, nKVHeads: capture.nKVHeads,
                                     dHead: capture.dHead, promptLength: n, steps: S))
        // Recompute with the capture's arithmetic (llama-cpp or float32), so its keys can be reproduced.
        if let recorded = capture.numerics {
            guard let numerics = Numerics(rawValue: recorded) else {
                throw ProbeError("\(capture.path): unknown numerics '\(recorded)' (known: \(Numerics.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            model.numerics = numerics
        }
        try model.cacheType.check(for: model.numerics)
        let builder = contentBuilder
        let promptQueryRows = min(n, max(W, options.lookaheadPromptQueries))
        let extra = max(W, S) + options.lookaheadSteps + 2
        let cache = model.makeCache(capacity: n + extra)

        // 1. Re-prefill, keeping the last prompt queries; the prompt keys must be the capture's.
        progress?(.prefill(prompt: index, prompts: count, tokens: n))
        let prefillStart = Date()
        let prefillRecorder = QueryRecorder(config: c) { $0 >= n - promptQueryRows }
        let prefillLogits = prefillRecorder.observe(model, tokens: capture.promptTokens, positions: Array(0..<n), cache: cache,
                                                    logits: .last)
        let prefillSeconds = Date().timeIntervalSince(prefillStart)
        let keyDifference = promptKeyDifference(cache: cache, capture: capture)
        if !(keyDifference.value <= options.keyTolerance) {
            var hashNote = ""
            if let sha = modelSHA256, sha != capture.modelSHA256 {
                hashNote = "; the capture's model_sha256 is \(capture.modelSHA256.prefix(12))…, this model's \(sha.prefix(12))…"
            }
            throw ProbeError("\(capture.path): the recomputed prompt keys differ from the capture's by up to \(keyDifference.value) "
                             + "(layer \(keyDifference.layer), KV head \(keyDifference.head), position \(keyDifference.position)), "
                             + "more than the tolerance \(options.keyTolerance): the capture was made with another model, "
                             + "numerics or thread count (model \(modelPath)\(hashNote))")
        }
        let promptQueries = prefillRecorder.querySet(.insidePrompt)
        let windowQueryDifference = windowDifference(promptQueries, capture: capture)
        let promptLengths = cache.lengths

        let scorer = ImportanceScorer(promptKeys: capture.promptKeys, nLayers: L, nHeads: c.nHeads, nKVHeads: G, dHead: d,
                                      promptLength: n, extraCapacity: max(W, S, options.lookaheadSteps + options.lookaheadPromptQueries))
        let truthRankings = VariantMetrics.rankings(capture.importance, rows: L * G, promptLength: n)
        let truthQueries = capture.truthQuerySet

        // 2. The oracle content: the answer, continued greedily past its end to w tokens.
        var oracle = capture.generatedTokens
        if options.contents.contains(.oracle) && oracle.count < W {
            oracle += greedyContinuation(of: capture.generatedTokens, promptLength: n, count: W - oracle.count, cache: cache)
            cache.truncate(to: promptLengths)
        }

        var results: [VariantResult] = []
        let variants = options.variants
        var windowImportance: Importance?
        var lookahead: LookaheadQueries.Result?
        let lookaheadBudget = min(n, options.lookaheadBudget ?? options.kValues.max()!)
        for (vi, variant) in variants.enumerated() {
            progress?(.variant(prompt: index, prompts: count, name: variant.name, index: vi, count: variants.count))
            let variantStart = Date()
            let set: QuerySet
            let cosineRows: Int
            switch variant {
            case .pseudo(let content, let position):
                let tokens = try builder.tokens(content, prompt: capture.promptTokens, oracle: oracle)
                let positions = position.positions(promptLength: n, count: W, farOffset: options.farOffset)
                let recorder = QueryRecorder(config: c)
                recorder.observe(model, tokens: tokens, positions: positions, cache: cache, logits: .none)
                cache.truncate(to: promptLengths)
                set = recorder.querySet(.afterPrompt(promptLength: n))
                cosineRows = min(W, S)
            case .window:
                set = promptQueries.rows((promptQueries.rows - W)..<promptQueries.rows)
                cosineRows = min(W, S)
            case .lookahead:
                let windowSet = promptQueries.rows((promptQueries.rows - W)..<promptQueries.rows)
                let wi = windowImportance ?? scorer.importance(of: windowSet)
                let laq = LookaheadQueries(budget: lookaheadBudget, window: W, kernel: options.poolKernel,
                                           steps: options.lookaheadSteps)
                let result = laq.run(model: model, cache: cache, promptLength: n,
                                     firstToken: GreedyDecoder.argmax(prefillLogits), windowImportance: wi)
                lookahead = result
                let r = promptQueries.rows, p = min(options.lookaheadPromptQueries, r)
                set = result.queries.appending(promptQueries.rows((r - p)..<r))
                cosineRows = min(options.lookaheadSteps, S)
            case .truth:
                set = truthQueries
                cosineRows = S
            }
            let importance = scorer.importance(of: set)
            if variant == .window { windowImportance = importance }
            let values = importance.values
            let metrics = VariantMetrics(truth: capture.importance, truthRankings: truthRankings, pseudo: values, promptLength: n,
                                         kValues: options.kValues, queries: set, truthQueries: truthQueries, cosineRows: cosineRows,
                                         answerSpan: capture.answerSpan)
            results.append(VariantResult(variant: variant, queries: variant == .truth ? nil : set, importance: values,
                                         metrics: metrics, seconds: Date().timeIntervalSince(variantStart)))
        }
        var truthDifference: Float = 0
        if let truth = results.first(where: { $0.variant == .truth }) {
            for (a, b) in zip(truth.importance, capture.importance) { truthDifference = max(truthDifference, abs(a - b)) }
        }
        return PromptAblation(
            capturePath: capture.path, promptLength: n, steps: S,
            headlineIndex: SelectionMetrics.headlineIndex(kValues: options.kValues, promptLength: n, fraction: options.headlineFraction),
            kValues: options.kValues, variants: results, promptKeyMaxDifference: keyDifference.value,
            windowQueryMaxDifference: windowQueryDifference, truthImportanceMaxDifference: truthDifference,
            oracleTokens: Array(oracle.prefix(W)), repeatToken: options.repeatToken ?? capture.promptTokens[n - 1],
            lookaheadTokens: lookahead?.tokens ?? [], lookaheadBudget: lookaheadBudget,
            prefillSeconds: prefillSeconds, totalSeconds: Date().timeIntervalSince(start))
    }

    /// Greedy tokens after `generated` (fed at `n, n+1, …` onto the prompt cache); the cache keeps them.
    private func greedyContinuation(of generated: [Int], promptLength n: Int, count: Int, cache: KVCache) -> [Int] {
        guard count > 0 else { return [] }
        let logits = model.forward(tokens: generated, positions: Array(n..<(n + generated.count)), cache: cache, logits: .last)
        return GreedyLoop(feedsLastToken: false).run(after: logits) { $0.count < count } feed: { token, index, _ in
            model.forward(tokens: [token], positions: [n + generated.count + index], cache: cache, logits: .last)
        }.tokens
    }

    /// The largest |cache key − captured key| over the prompt, and where it is (NaN counts as infinite).
    private func promptKeyDifference(cache: KVCache, capture: CaptureFile) -> (value: Float, layer: Int, head: Int, position: Int) {
        let c = model.config, n = capture.promptLength, d = c.dHead
        var worst: (value: Float, layer: Int, head: Int, position: Int) = (0, 0, 0, 0)
        for l in 0..<c.nLayers {
            for g in 0..<c.nKVHeads {
                let keys = cache.keys(layer: l, head: g, rows: 0..<n)
                let base = (l * c.nKVHeads + g) * n * d
                for i in 0..<(n * d) {
                    var diff = abs(keys[i] - capture.promptKeys[base + i])
                    if diff.isNaN { diff = .infinity }
                    if diff > worst.value { worst = (diff, l, g, i / d) }
                }
            }
        }
        return worst
    }

    /// The largest |recomputed − captured| over the prompt queries both hold (the capture's window rows).
    private func windowDifference(_ queries: QuerySet, capture: CaptureFile) -> Float {
        let c = model.config, H = c.nHeads, d = c.dHead, wc = capture.windowPositions.count
        var worst: Float = 0
        for (r, p) in queries.positions.enumerated() {
            guard let cr = capture.windowPositions.firstIndex(of: p) else { continue }
            for l in 0..<c.nLayers {
                for h in 0..<H {
                    for i in 0..<d {
                        let a = queries.queries[l][(r * H + h) * d + i]
                        let b = capture.windowQueries[((l * H + h) * wc + cr) * d + i]
                        var diff = abs(a - b)
                        if diff.isNaN { diff = .infinity }
                        worst = max(worst, diff)
                    }
                }
            }
        }
        return worst
    }
}
