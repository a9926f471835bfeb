import CBLAS
import Foundation

/// Which rows of the batch need logits. Computing only the last saves the large output projection in prefill.
public enum LogitsRequest: Sendable {
    case none, last, all
}

/// A decoder loaded from GGUF: configuration, weights, tokenizer, and the forward pass.
///
/// One instance runs one forward pass at a time (it owns its scratch space); it is not for concurrent use.
public final class LanguageModel: @unchecked Sendable {
    public let gguf: GGUFFile
    public let config: ModelConfig
    public let weights: ModelWeights
    public let tokenizer: Tokenizer
    private let rope: Rope
    /// Scratch buffers of the forward pass (also attention's, in Attention.swift).
    let workspace = Workspace()
    private let scratch = MatmulScratch()
    /// How the forward pass rounds; `.llamaCpp` unless changed.
    public var numerics: Numerics = .llamaCpp
    /// How caches from `makeCache` store keys and values; nil (the default) follows the numerics
    /// (`KVType.default(for:)`: f16 under llama-cpp numerics, f32 under float32).
    public var kvType: KVType?

    /// The storage `makeCache` gives caches now.
    public var cacheType: KVType { kvType ?? .default(for: numerics) }

    /// Loads and checks a GGUF model; errors are one line naming the file.
    public convenience init(path: String) throws {
        try self.init(gguf: try GGUFFile(path: path))
    }

    /// Checks the model in a parsed GGUF and loads its weights and tokenizer; errors are one line naming the file.
    public init(gguf: GGUFFile) throws {
        self.gguf = gguf
        config = try ModelConfig(gguf: gguf)
        weights = try ModelWeights(gguf: gguf, config: config)
        tokenizer = try Tokenizer(gguf: gguf)
        // Every id the tokenizer produces indexes a row of the embedding.
        guard tokenizer.vocabularySize <= config.vocabularySize else {
            throw GGUFError(path: gguf.path, "the tokenizer has \(tokenizer.vocabularySize) tokens, token_embd.weight only \(config.vocabularySize) rows")
        }
        rope = Rope(layout: config.architecture.ropeLayout, dims: config.ropeDims, base: config.ropeBase)
    }

    /// Applies this model's RoPE for `position` to `heads` consecutive heads of `dHead` values in place, or with
    /// `inverse` undoes it (a post-RoPE query or key back to its pre-RoPE form, up to float rounding).
    public func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, position: Int, inverse: Bool = false) {
        let half = config.ropeDims / 2
        var cos = [Float](repeating: 0, count: half), sin = [Float](repeating: 0, count: half)
        cos.withUnsafeMutableBufferPointer { c in
            sin.withUnsafeMutableBufferPointer { s in
                rope.angles(position: position, cos: c.baseAddress!, sin: s.baseAddress!)
                if inverse { for i in 0..<half { s[i] = -s[i] } }
                rope.apply(x, heads: heads, dHead: config.dHead, position: position, cos: c.baseAddress!, sin: s.baseAddress!)
            }
        }
    }

    /// An empty cache for this model, storing keys and values as `cacheType`.
    public func makeCache(capacity: Int) -> KVCache {
        KVCache(nLayers: config.nLayers, nKVHeads: config.nKVHeads, dHead: config.dHead, capacity: capacity, kvType: cacheType)
    }

    /// Runs `tokens` at absolute `positions` through every layer, appending their keys and values to `cache`.
    /// Each token attends to everything already in the cache and causally to the batch.
    /// Returns the logits of the requested rows, `[rows, vocabularySize]` row-major.
    @discardableResult
    public func forward(tokens: [Int], positions: [Int], cache: KVCache, logits: LogitsRequest = .last,
                        observer: ForwardObserver? = nil) -> [Float] {
        precondition(tokens.count == positions.count && !tokens.isEmpty)
        return run(tokens: tokens, positions: positions, segments: [(cache, 0..<tokens.count)], logits: logits,
                   observer: observer)
    }

    /// Batches of at most this many rows run the same per-row kernels as a single row, so each row's result is
    /// bit-identical to running it alone; wider batches run attention as matrix-matrix products (equal up to
    /// rounding; in llama-cpp numerics the products with quantized weights are bit-identical at any batch size).
    public static var exactBatchLimit: Int { WeightMatrix.integerBatchLimit }

    /// One decoding step of several independent sequences in one batch: row `i` feeds `tokens[i]` at
    /// `positions[i]` to `caches[i]` and attends only to that cache. The weights are read once for all rows
    /// (matrix-matrix products instead of one matrix-vector product per sequence). Returns every row's logits,
    /// `[rows, vocabularySize]`.
    public func forwardBatch(tokens: [Int], positions: [Int], caches: [KVCache]) -> [Float] {
        precondition(tokens.count == positions.count && tokens.count == caches.count && !tokens.isEmpty)
        precondition(Set(caches.map(ObjectIdentifier.init)).count == caches.count, "each row needs its own cache")
        return run(tokens: tokens, positions: positions, segments: caches.enumerated().map { ($1, $0..<($0 + 1)) },
                   logits: .all, observer: nil)
    }

    /// The forward pass over batch rows split into `segments`, each a run of consecutive rows that belong to
    /// one cache: the projections see all rows at once, attention each segment against its own cache.
    private func run(tokens: [Int], positions: [Int], segments: [(cache: KVCache, rows: Range<Int>)],
                     logits: LogitsRequest, observer: ForwardObserver?) -> [Float] {
        let c = config, T = tokens.count, d = c.dModel
        let qDim = c.nHeads * c.dHead, kvDim = c.nKVHeads * c.dHead
        let ws = workspace
        let x = ws.buffer("x", count: T * d)
        let h = ws.buffer("h", count: T * d)
        let qkvDim = qDim + 2 * kvDim
        let qkv = ws.buffer("qkv", count: T * qkvDim)
        let q = ws.buffer("q", count: T * qDim)
        let k = ws.buffer("k", count: T * kvDim)
        let v = ws.buffer("v", count: T * kvDim)
        let attended = ws.buffer("attended", count: T * qDim)
        let gateUp = ws.buffer("gateUp", count: T * 2 * c.dFF)
        let activated = ws.buffer("activated", count: T * c.dFF)
        let cosTable = ws.buffer("cos", count: T * c.ropeDims / 2)
        let sinTable = ws.buffer("sin", count: T * c.ropeDims / 2)

        for (t, token) in tokens.enumerated() {
            precondition(token >= 0 && token < c.vocabularySize, "token id \(token) out of range")
            weights.tokenEmbedding.row(token, into: x + t * d)
            rope.angles(position: positions[t], cos: cosTable + t * c.ropeDims / 2, sin: sinTable + t * c.ropeDims / 2)
        }
        for segment in segments {
            precondition(segment.cache.kvType.holdsExactly(numerics),
                         "a \(segment.cache.kvType.rawValue) cache cannot hold \(numerics.rawValue) numerics' keys and values")
            segment.cache.reserve(additional: segment.rows.count)
        }

        // Row-wise work (norms, splitting Q/K/V, biases, RoPE, rounding, SwiGLU) runs on the worker pool for a
        // prefill's many rows; a decoding step's few rows stay on the calling thread.
        let rowsInParallel = { (body: (Range<Int>) -> Void) in WorkerPool.shared.forEachRange(T, minimumPerThread: 32, body) }
        for (l, w) in weights.layers.enumerated() {
            rowsInParallel { rows in
                Kernels.rmsNorm(x + rows.lowerBound * d, weight: w.attentionNorm.pointer, rows: rows.count, n: d,
                                eps: c.rmsEpsilon, into: h + rows.lowerBound * d)
            }
            w.queryKeyValue.apply(h, count: T, into: qkv, scratch: scratch, numerics: numerics)
            rowsInParallel { rows in
                for t in rows {
                    let row = qkv + t * qkvDim
                    let qt = q + t * qDim, kt = k + t * kvDim, vt = v + t * kvDim
                    qt.update(from: row, count: qDim)
                    kt.update(from: row + qDim, count: kvDim)
                    vt.update(from: row + qDim + kvDim, count: kvDim)
                    if let b = w.queryBias { Kernels.add(qt, b.pointer, count: qDim) }
                    if let b = w.keyBias { Kernels.add(kt, b.pointer, count: kvDim) }
                    if let b = w.valueBias { Kernels.add(vt, b.pointer, count: kvDim) }
                    let cs = cosTable + t * c.ropeDims / 2, sn = sinTable + t * c.ropeDims / 2
                    rope.apply(qt, heads: c.nHeads, dHead: c.dHead, position: positions[t], cos: cs, sin: sn)
                    rope.apply(kt, heads: c.nKVHeads, dHead: c.dHead, position: positions[t], cos: cs, sin: sn)
                    // llama.cpp keeps K and V in float16 and multiplies Q·K in float16: round the same way, so that
                    // the cache and the observer hold exactly what attention uses.
                    if numerics == .llamaCpp {
                        Kernels.roundToHalf(qt, count: qDim)
                        Kernels.roundToHalf(kt, count: kvDim)
                        Kernels.roundToHalf(vt, count: kvDim)
                    }
                }
            }
            observer?.didProject(layer: l, positions: positions, queries: q, keys: k, values: v)
            if segments.count == 1 {
                segments[0].cache.append(layer: l, keys: k, values: v, positions: positions)
                attend(layer: l, queries: q, rows: T, cache: segments[0].cache, into: attended, observer: observer)
            } else {
                for (cache, rows) in segments {
                    cache.append(layer: l, keys: k + rows.lowerBound * kvDim, values: v + rows.lowerBound * kvDim,
                                 positions: Array(positions[rows]))
                }
                attendSegments(layer: l, queries: q, segments: segments, into: attended)
            }
            // The residual connections: the output and down projections add straight into x.
            w.attentionOutput.apply(attended, count: T, into: x, scratch: scratch, numerics: numerics, accumulate: true)
            rowsInParallel { rows in
                let offset = rows.lowerBound * d
                Kernels.rmsNorm(x + offset, weight: w.ffnNorm.pointer, rows: rows.count, n: d, eps: c.rmsEpsilon, into: h + offset)
            }
            w.gateUp.apply(h, count: T, into: gateUp, scratch: scratch, numerics: numerics)
            rowsInParallel { rows in
                for t in rows {
                    Kernels.swiGLU(gate: gateUp + t * 2 * c.dFF, up: gateUp + t * 2 * c.dFF + c.dFF, count: c.dFF,
                                   into: activated + t * c.dFF)
                }
            }
            w.down.apply(activated, count: T, into: x, scratch: scratch, numerics: numerics, accumulate: true)
        }

        let first: Int
        switch logits {
        case .none: return []
        case .last: first = T - 1
        case .all: first = 0
        }
        let rows = T - first
        Kernels.rmsNorm(x + first * d, weight: weights.outputNorm.pointer, rows: rows, n: d, eps: c.rmsEpsilon, into: h)
        var out = [Float](repeating: 0, count: rows * c.vocabularySize)
        out.withUnsafeMutableBufferPointer { weights.output.apply(h, count: rows, into: $0.baseAddress!, scratch: scratch, numerics: numerics) }
        return out
    }
}
