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
    private let workspace = Workspace()
    private let scratch = MatmulScratch()
    /// How the forward pass rounds; `.llamaCpp` unless changed.
    public var numerics: Numerics = .llamaCpp

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

    /// An empty cache for this model.
    public func makeCache(capacity: Int) -> KVCache {
        KVCache(nLayers: config.nLayers, nKVHeads: config.nKVHeads, dHead: config.dHead, capacity: capacity)
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
        for segment in segments { segment.cache.reserve(additional: segment.rows.count) }

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

    /// Causal attention of the batch's queries over the cache (which already holds the batch), per query head.
    /// Scores, softmax and the weighted sum of values follow llama.cpp's non-flash path: float16 operands,
    /// float32 scores, probabilities rounded to float16 before they weight the values.
    private func attend(layer l: Int, queries q: UnsafeMutablePointer<Float>, rows T: Int, cache: KVCache,
                        into out: UnsafeMutablePointer<Float>, observer: ForwardObserver?) {
        if T <= WeightMatrix.integerBatchLimit && !(observer?.wantsAttention ?? false) {
            attendSmallBatch(layer: l, queries: q, rows: T, cache: cache, into: out, observer: observer)
            return
        }
        let c = config, dh = c.dHead, qDim = c.nHeads * dh
        let scale = 1 / Float(dh).squareRoot()
        let wantsAttention = observer?.wantsAttention ?? false
        let longest = cache.maxLength
        // Rows per work item: a chunk of scores (rows × keys floats) of about 2 MiB (measured against 1 and 4 MiB
        // on a 4096-token prefill: the larger GEMMs outweigh the 1 MiB L2 per core).
        let chunk = max(16, min(T, 256, (1 << 19) / max(longest, 1)))
        let threads = wantsAttention ? 1 : WorkerPool.shared.threadCount
        let scoreSpace = workspace.buffer("scores", count: threads * chunk * longest)
        // Work items are (head, chunk of rows), heads in order, each with single-threaded BLAS; an observer of
        // attention sees them in order (one thread). Workers take contiguous runs of items of about equal cost
        // (causal rows see more keys the later they come). When the observer sums attention per head, a head's
        // chunks stay on one worker so that no two threads add into one head's sums.
        let chunks = (T + chunk - 1) / chunk
        let wholeHeads = observer?.attentionSums(layer: l, head: 0) != nil
        let item = { (index: Int, part: Int) in
            let scores = scoreSpace + part * chunk * longest
            let head = index / chunks, r0 = (index % chunks) * chunk
            let g = head / c.groupSize
            let L = cache.length(layer: l, head: g)
            let prior = L - T
            let K = cache.keys(layer: l, head: g), V = cache.values(layer: l, head: g)
            let n = min(chunk, T - r0)
            // Causality: the rows of this chunk see only the first `visible` entries.
            let visible = prior + r0 + n
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(visible), Int32(dh), scale,
                        q + r0 * qDim + head * dh, Int32(qDim), K, Int32(dh), 0, scores, Int32(L))
            // Probabilities go to float16 before they weight the values (llama.cpp); in the softmax's own pass
            // unless an observer first takes them unrounded.
            let roundLater = self.numerics == .llamaCpp && (wantsAttention || wholeHeads)
            for i in 0..<n {
                Kernels.softmaxPrefix(scores + i * L, valid: prior + r0 + i + 1, n: wantsAttention ? L : visible,
                                      roundedToHalf: self.numerics == .llamaCpp && !roundLater)
            }
            if let sums = observer?.attentionSums(layer: l, head: head) {
                for i in 0..<n { Kernels.add(sums, scores + i * L, count: prior + r0 + i + 1) }
            }
            if wantsAttention {
                observer?.didAttend(layer: l, head: head, firstRow: r0, rows: n, keyCount: L, probabilities: scores)
            }
            if roundLater { for i in 0..<n { Kernels.roundToHalf(scores + i * L, count: visible) } }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(dh), Int32(visible), 1,
                        scores, Int32(L), V, Int32(dh), 0, out + r0 * qDim + head * dh, Int32(qDim))
        }
        let itemCount = c.nHeads * chunks
        if threads == 1 {
            for index in 0..<itemCount { item(index, 0) }
        } else {
            let prior = cache.length(layer: l, head: 0) - T
            let bounds = Self.balancedSplit(itemCount, parts: threads, unit: wholeHeads ? chunks : 1) { index in
                let r0 = (index % chunks) * chunk, n = min(chunk, T - r0)
                return Double(n) * Double(prior + r0 + n)
            }
            WorkerPool.shared.run { part in
                for index in bounds[part]..<bounds[part + 1] { item(index, part) }
            }
        }
    }

    /// Boundaries `b[0] = 0 ≤ b[1] ≤ … ≤ b[parts] = count` that cut `0..<count` into runs of about equal total
    /// `cost`, only at multiples of `unit`.
    static func balancedSplit(_ count: Int, parts: Int, unit: Int, cost: (Int) -> Double) -> [Int] {
        var prefix = [0.0]
        for index in 0..<count { prefix.append(prefix.last! + cost(index)) }
        let total = prefix.last!
        var bounds = [0]
        for p in 1..<parts {
            let target = total * Double(p) / Double(parts)
            var cut = bounds.last!
            while cut + unit <= count && abs(prefix[cut + unit] - target) <= abs(prefix[cut] - target) { cut += unit }
            bounds.append(cut)
        }
        bounds.append(count)
        return bounds
    }

    /// The same attention for a few rows (decoding), heads in parallel on the worker pool.
    private func attendSmallBatch(layer l: Int, queries q: UnsafeMutablePointer<Float>, rows T: Int, cache: KVCache,
                                  into out: UnsafeMutablePointer<Float>, observer: ForwardObserver?) {
        let c = config, dh = c.dHead, qDim = c.nHeads * dh
        let longest = cache.maxLength
        let scoreSpace = workspace.buffer("scores", count: c.nHeads * longest)
        WorkerPool.shared.forEachRange(c.nHeads) { heads in
            for head in heads {
                let g = head / c.groupSize
                let L = cache.length(layer: l, head: g)
                let K = cache.keys(layer: l, head: g), V = cache.values(layer: l, head: g)
                let sums = observer?.attentionSums(layer: l, head: head)
                for i in 0..<T {
                    self.attendRow(q + i * qDim + head * dh, keys: K, values: V, visible: L - T + i + 1,
                                   scores: scoreSpace + head * longest, sums: sums, into: out + i * qDim + head * dh)
                }
            }
        }
    }

    /// Rows of independent sequences, one segment per cache (batched decoding): every (segment, head) pair is
    /// one work item on the worker pool, each row attending causally to its own cache only.
    private func attendSegments(layer l: Int, queries q: UnsafeMutablePointer<Float>,
                                segments: [(cache: KVCache, rows: Range<Int>)], into out: UnsafeMutablePointer<Float>) {
        let c = config, dh = c.dHead, qDim = c.nHeads * dh
        let longest = segments.map { $0.cache.maxLength }.max() ?? 0
        let threads = WorkerPool.shared.threadCount
        let scoreSpace = workspace.buffer("scores", count: threads * longest)
        WorkerPool.shared.run { part in
            let items = segments.count * c.nHeads
            let scores = scoreSpace + part * longest
            for item in (items * part / threads)..<(items * (part + 1) / threads) {
                let (cache, rows) = segments[item / c.nHeads]
                let head = item % c.nHeads, g = head / c.groupSize
                let L = cache.length(layer: l, head: g)
                let K = cache.keys(layer: l, head: g), V = cache.values(layer: l, head: g)
                for (i, row) in rows.enumerated() {
                    self.attendRow(q + row * qDim + head * dh, keys: K, values: V, visible: L - rows.count + i + 1,
                                   scores: scores, sums: nil, into: out + row * qDim + head * dh)
                }
            }
        }
    }

    /// One query row of one head over the first `visible` cache entries: scaled dot products, softmax (added to
    /// `sums` when given), float16 rounding of the probabilities under llama.cpp numerics, weighted sum of values.
    private func attendRow(_ query: UnsafePointer<Float>, keys K: UnsafePointer<Float>, values V: UnsafePointer<Float>,
                           visible: Int, scores: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>?,
                           into out: UnsafeMutablePointer<Float>) {
        let dh = config.dHead
        let scale = 1 / Float(dh).squareRoot()
        for j in 0..<visible { scores[j] = Kernels.dot(query, K + j * dh, count: dh) * scale }
        let half = numerics == .llamaCpp
        Kernels.softmaxPrefix(scores, valid: visible, n: visible, roundedToHalf: half && sums == nil)
        if let sums {
            Kernels.add(sums, scores, count: visible)
            if half { Kernels.roundToHalf(scores, count: visible) }
        }
        Kernels.weightedSum(scores, rows: V, count: visible, width: dh, into: out)
    }
}
