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

    deinit {
        values.deallocate()
        scales.deallocate()
        scaledSums.deallocate()
        sums.deallocate()
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
            values.deallocate(); scales.deallocate(); scaledSums.deallocate(); sums.deallocate()
            values = .allocate(capacity: n)
            scales = .allocate(capacity: n / 32)
            scaledSums = .allocate(capacity: n / 32)
            sums = .allocate(capacity: n / 32)
            capacity = n
        }
        self.rows = rows
        self.cols = cols
    }

    @inline(__always) private func quantizeBlock(_ b: Int, of x: UnsafePointer<Float>) {
        let (q, d, sum) = Self.quantized(block: UnsafeRawPointer(x + b * 32))
        func store(_ lanes: SIMD8<Float>, at first: Int) {
            // Whole numbers |q| ≤ 127 to int32, exactly: add 1.5·2²³ and take the low mantissa bits.
            let integers = unsafeBitCast(lanes + 12_582_912, to: SIMD8<Int32>.self) &- 0x4B40_0000
            UnsafeMutableRawPointer(values + first).storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: integers), as: SIMD8<Int8>.self)
        }
        store(q.0, at: b * 32)
        store(q.1, at: b * 32 + 8)
        store(q.2, at: b * 32 + 16)
        store(q.3, at: b * 32 + 24)
        scales[b] = Float(Float16(d))
        scaledSums[b] = Float(Float16(d * Float(sum)))
        sums[b] = sum
    }

    /// One block's arithmetic, eight lanes at a time: `d = max|x| / 127`, `q = round-half-even(x · 127 / max|x|)`
    /// (whole numbers, as floats) and `Σq`.
    @inline(__always) private static func quantized(block p: UnsafeRawPointer)
        -> (q: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>), d: Float, sum: Int32) {
        var v = (p.loadUnaligned(as: SIMD8<Float>.self), p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self),
                 p.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), p.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
        func magnitude(_ w: SIMD8<Float>) -> SIMD8<Float> { w.replacing(with: -w, where: w .< 0) }
        func larger(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
        let amax = VectorMath.largest(larger(larger(magnitude(v.0), magnitude(v.1)), larger(magnitude(v.2), magnitude(v.3))))
        let id: Float = amax != 0 ? 127 / amax : 0
        // |x·id| ≤ 127: adding and subtracting 1.5·2²³ rounds to the nearest integer, ties to even (an SSE2 add,
        // where `rounded(.toNearestOrEven)` needs SSE4.1 or a library call per lane).
        func roundedToInteger(_ w: SIMD8<Float>) -> SIMD8<Float> { (w + 12_582_912) - 12_582_912 }
        v.0 = roundedToInteger(v.0 * id)
        v.1 = roundedToInteger(v.1 * id)
        v.2 = roundedToInteger(v.2 * id)
        v.3 = roundedToInteger(v.3 * id)
        // |q| ≤ 127: the float sum of 32 of them is exact, and a whole number of magnitude at most 4064 converts
        // exactly by the same bit trick as the values; unlike Int32(_:), it does not trap when a weight file's
        // NaN or infinity has reached the activations (the sum is then meaningless, as in llama.cpp).
        let sum = ((v.0 + v.1) + (v.2 + v.3)).sum()
        return (v, amax / 127, Int32(bitPattern: (sum + 12_582_912).bitPattern) &- 0x4B40_0000)
    }
}
