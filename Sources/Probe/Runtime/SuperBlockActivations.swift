import CSIMD

/// Activations quantized as llama.cpp's Q8_K, the activation type of its K-quant dot products
/// (`quantize_row_q8_K_ref`, CSIMD's csimd_quantize_q8k): per block of 256, the first value of largest
/// magnitude `m` (sign kept) sets `iscale = −127 / m`, `q = min(127, round-half-even(iscale · x))`, `d = 1 / iscale`
/// kept as float32, and the sums of q over each 16 values.
final class SuperBlockActivations {
    private(set) var rows = 0
    private(set) var cols = 0
    private var capacity = 0
    private(set) var values = UnsafeMutablePointer<Int8>.allocate(capacity: 1)
    /// Per block: d.
    private(set) var scales = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    /// Per block: 16 sums of 16 consecutive q.
    private(set) var sums = UnsafeMutablePointer<Int16>.allocate(capacity: 1)
    /// The values widened for the portable SIMD tier (csimd_widen_q8k_quads: each quad as int16, twice) when
    /// that tier was active at the last `quantize`; nil otherwise.
    private(set) var quads: UnsafeMutablePointer<Int16>?
    private var quadsBuffer: UnsafeMutablePointer<Int16>?
    private var quadsCapacity = 0

    deinit {
        values.deallocate()
        scales.deallocate()
        sums.deallocate()
        quadsBuffer?.deallocate()
    }

    /// Quantizes `rows` rows of `cols` floats (`cols` a multiple of 256).
    func quantize(_ x: UnsafePointer<Float>, rows: Int, cols: Int) {
        precondition(cols % QK.superBlock == 0)
        let n = rows * cols
        if n > capacity {
            values.deallocate(); scales.deallocate(); sums.deallocate()
            values = .allocate(capacity: n)
            scales = .allocate(capacity: n / QK.superBlock)
            sums = .allocate(capacity: n / QK.sumSpan)
            capacity = n
        }
        self.rows = rows
        self.cols = cols
        let widens = csimd_kquant_wants_quads() != 0
        if widens, 2 * n > quadsCapacity {
            quadsBuffer?.deallocate()
            // Aligned: the portable kernel reads each widened quad as one 16-byte vector.
            quadsBuffer = UnsafeMutableRawPointer.allocate(byteCount: 4 * n, alignment: 64)
                .bindMemory(to: Int16.self, capacity: 2 * n)
            quadsCapacity = 2 * n
        }
        let wide = widens ? quadsBuffer : nil
        let (values, scales, sums) = (self.values, self.scales, self.sums)
        // Blocks are independent: a prefill's activations are split over the worker pool, a decoding row's are not.
        let sumsPerBlock = QK.superBlock / QK.sumSpan
        WorkerPool.shared.forEachRange(n / QK.superBlock, minimumPerThread: 128) { range in
            let b = range.lowerBound, first = b * QK.superBlock
            csimd_quantize_q8k(x + first, Int64(range.count), values + first, scales + b, sums + b * sumsPerBlock)
            if let wide { csimd_widen_q8k_quads(values + first, Int64(range.count * QK.superBlock), wide + 2 * first) }
        }
        quads = wide
    }
}
