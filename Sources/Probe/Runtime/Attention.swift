import CBLAS
import Foundation

/// Attention of the forward pass: each query head's scores over its KV group's cache entries, the softmax and the
/// weighted sum of values, for a prefill's many rows (matrix products), a decoding step's few rows (per-row
/// kernels) and batched independent sequences (one cache per row).
extension LanguageModel {
    /// Causal attention of the batch's queries over the cache (which already holds the batch), per query head.
    /// Scores, softmax and the weighted sum of values follow llama.cpp's non-flash path: float16 operands,
    /// float32 scores, probabilities rounded to float16 before they weight the values.
    func attend(layer l: Int, queries q: UnsafeMutablePointer<Float>, rows T: Int, cache: KVCache,
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
        let matrices = floatMatrices(layer: l, cache: cache)
        let item = { (index: Int, part: Int) in
            let scores = scoreSpace + part * chunk * longest
            let head = index / chunks, r0 = (index % chunks) * chunk
            let g = head / c.groupSize
            let L = cache.length(layer: l, head: g)
            let prior = L - T
            let (K, V) = matrices[g]
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

    /// Each KV group's keys and values of layer `l` as float32 matrices for the matrix products: an f32 cache's own
    /// storage, or an f16 cache's rows widened (exactly) once per layer into the workspace.
    private func floatMatrices(layer l: Int, cache: KVCache) -> [(keys: UnsafePointer<Float>, values: UnsafePointer<Float>)] {
        let heads = (0..<config.nKVHeads).map { cache.head(layer: l, group: $0) }
        if cache.kvType == .f32 { return heads.map { $0.floatRows! } }
        let stride = cache.maxLength * config.dHead
        let keys = workspace.buffer("widenedKeys", count: heads.count * stride)
        let values = workspace.buffer("widenedValues", count: heads.count * stride)
        WorkerPool.shared.forEachRange(heads.count) { groups in
            for g in groups { heads[g].widen(count: heads[g].length, keys: keys + g * stride, values: values + g * stride) }
        }
        return heads.indices.map { (UnsafePointer(keys + $0 * stride), UnsafePointer(values + $0 * stride)) }
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
                let entries = cache.head(layer: l, group: g)
                let sums = observer?.attentionSums(layer: l, head: head)
                for i in 0..<T {
                    self.attendRow(q + i * qDim + head * dh, cache: entries, visible: entries.length - T + i + 1,
                                   scores: scoreSpace + head * longest, sums: sums, into: out + i * qDim + head * dh)
                }
            }
        }
    }

    /// Rows of independent sequences, one segment per cache (batched decoding): every (segment, head) pair is
    /// one work item on the worker pool, each row attending causally to its own cache only.
    func attendSegments(layer l: Int, queries q: UnsafeMutablePointer<Float>,
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
                let entries = cache.head(layer: l, group: g)
                for (i, row) in rows.enumerated() {
                    self.attendRow(q + row * qDim + head * dh, cache: entries, visible: entries.length - rows.count + i + 1,
                                   scores: scores, sums: nil, into: out + row * qDim + head * dh)
                }
            }
        }
    }

    /// One query row of one head over the first `visible` cache entries: scaled dot products, softmax (added to
    /// `sums` when given), float16 rounding of the probabilities under llama.cpp numerics, weighted sum of values.
    private func attendRow(_ query: UnsafePointer<Float>, cache entries: KVCache.Head, visible: Int,
                           scores: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>?, into out: UnsafeMutablePointer<Float>) {
        entries.scores(query, count: visible, scale: 1 / Float(config.dHead).squareRoot(), into: scores)
        let half = numerics == .llamaCpp
        Kernels.softmaxPrefix(scores, valid: visible, n: visible, roundedToHalf: half && sums == nil)
        if let sums {
            Kernels.add(sums, scores, count: visible)
            if half { Kernels.roundToHalf(scores, count: visible) }
        }
        entries.weightedSum(scores, count: visible, into: out)
    }
}
