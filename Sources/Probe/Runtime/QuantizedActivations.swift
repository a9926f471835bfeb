/// Activations quantized the way llama.cpp quantizes them before multiplying with quantized weights
/// (ggml's Q8_0/Q8_1 blocks of 32): per block, `d = max|x| / 127`, `q = round-half-even(x · 127 / max|x|)`,
/// `d` kept as float16, and for Q8_1 also `s = float16(d · Σq)`. Using the same rounding makes our logits
/// track llama.cpp's closely instead of differing by the activation quantization noise.
final class QuantizedActivations {
    private(set) var rows = 0
    private(set) var cols = 0
    private var capacity = 0
    private(set) var values = UnsafeMutablePointer<Int8>.allocate(capacity: 1)
    /// Per block: d as float16, widened.
    private(set) var scales = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    /// Per block: float16(d · Σq), widened (Q8_1's `s`).
    private(set) var scaledSums = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    /// Per block: Σq as an integer.
    private(set) var sums = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    /// The quantized values widened to int16 (what the integer kernels multiply).
    private(set) var wide = UnsafeMutablePointer<Int16>.allocate(capacity: 1)

    deinit {
        values.deallocate()
        scales.deallocate()
        scaledSums.deallocate()
        sums.deallocate()
        wide.deallocate()
    }

    /// Quantizes `rows` rows of `cols` floats (cols a multiple of 32).
    func quantize(_ x: UnsafePointer<Float>, rows: Int, cols: Int) {
        reserve(rows: rows, cols: cols)
        let blocks = rows * cols / 32
        // Blocks are independent: a prefill's activations are split over the worker pool, a decoding row's are not.
        WorkerPool.shared.forEachRange(blocks, minimumPerThread: 1024) { range in
            for b in range { quantizeBlock(b, of: x) }
        }
    }

    private func reserve(rows: Int, cols: Int) {
        let n = rows * cols
        if n > capacity {
            values.deallocate(); scales.deallocate(); scaledSums.deallocate(); sums.deallocate(); wide.deallocate()
            values = .allocate(capacity: n)
            wide = .allocate(capacity: n)
            scales = .allocate(capacity: n / 32)
            scaledSums = .allocate(capacity: n / 32)
            sums = .allocate(capacity: n / 32)
            capacity = n
        }
        self.rows = rows
        self.cols = cols
    }

    @inline(__always) private func quantizeBlock(_ b: Int, of x: UnsafePointer<Float>) {
        let xb = x + b * 32, qb = values + b * 32
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(xb[j])) }
        let d = amax / 127
        let id: Float = amax != 0 ? 127 / amax : 0
        var sum: Int32 = 0
        for j in 0..<32 {
            let q = Int32((xb[j] * id).rounded(.toNearestOrEven))
            qb[j] = Int8(truncatingIfNeeded: q)
            wide[b * 32 + j] = Int16(truncatingIfNeeded: q)
            sum &+= q
        }
        scales[b] = Float(Float16(d))
        scaledSums[b] = Float(Float16(d * Float(sum)))
        sums[b] = sum
    }

    /// Replaces `x` by its quantized-then-dequantized value, `d·q` (d as float16), in place, keeping each
    /// block's scale and sums (not the quantized values themselves: a prefill multiplies the float result).
    func roundTrip(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        reserve(rows: rows, cols: cols)
        WorkerPool.shared.forEachRange(rows * cols / 32, minimumPerThread: 1024) { range in
            for b in range { roundTripBlock(b, x) }
        }
    }

    /// `quantizeBlock`'s arithmetic, eight lanes at a time, writing `d·q` back instead of `q`.
    @inline(__always) private func roundTripBlock(_ b: Int, _ x: UnsafeMutablePointer<Float>) {
        let raw = UnsafeMutableRawPointer(x + b * 32)
        var v = (raw.load(as: SIMD8<Float>.self), raw.load(fromByteOffset: 32, as: SIMD8<Float>.self),
                 raw.load(fromByteOffset: 64, as: SIMD8<Float>.self), raw.load(fromByteOffset: 96, as: SIMD8<Float>.self))
        var top = v.0.replacing(with: -v.0, where: v.0 .< 0)
        for w in [v.1, v.2, v.3] {
            let a = w.replacing(with: -w, where: w .< 0)
            top.replace(with: a, where: a .> top)
        }
        let amax = top.max()
        let d = amax / 127
        let id: Float = amax != 0 ? 127 / amax : 0
        v.0 = (v.0 * id).rounded(.toNearestOrEven)
        v.1 = (v.1 * id).rounded(.toNearestOrEven)
        v.2 = (v.2 * id).rounded(.toNearestOrEven)
        v.3 = (v.3 * id).rounded(.toNearestOrEven)
        // |q| ≤ 127: the float sum of 32 of them is exact.
        let sum = Int32(((v.0 + v.1) + (v.2 + v.3)).sum())
        let dh = Float(Float16(d))
        raw.storeBytes(of: v.0 * dh, as: SIMD8<Float>.self)
        raw.storeBytes(of: v.1 * dh, toByteOffset: 32, as: SIMD8<Float>.self)
        raw.storeBytes(of: v.2 * dh, toByteOffset: 64, as: SIMD8<Float>.self)
        raw.storeBytes(of: v.3 * dh, toByteOffset: 96, as: SIMD8<Float>.self)
        scales[b] = dh
        scaledSums[b] = Float(Float16(d * Float(sum)))
        sums[b] = sum
    }
}

extension QuantizedActivations {
    /// Values per Q8_K block (the K-quants' super-block).
    static let superBlock = 256

    /// Replaces `x` (`count` a multiple of 256) by its value after llama.cpp's Q8_K quantization, the activation
    /// type of its K-quant dot products (`quantize_row_q8_K_ref`): per block of 256, the value of largest magnitude
    /// `m` (sign kept) sets `iscale = −127 / m`, `q = min(127, round-half-even(iscale · x))`, `d = 1 / iscale` kept
    /// as float32; then `d·q`.
    static func roundTripQ8K(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for b in stride(from: 0, to: count, by: superBlock) {
            let xb = x + b
            var amax: Float = 0, extreme: Float = 0
            for j in 0..<superBlock where abs(xb[j]) > amax {
                amax = abs(xb[j])
                extreme = xb[j]
            }
            guard amax != 0 else {
                xb.update(repeating: 0, count: superBlock)
                continue
            }
            let iscale = -127 / extreme
            let d = 1 / iscale
            for j in 0..<superBlock { xb[j] = d * min(127, (iscale * xb[j]).rounded(.toNearestOrEven)) }
        }
    }
}
