import CBLAS
import Dispatch
import Foundation

/// Micro-benchmarks of the forward pass's hot kernels and of the machine's limits: float32 GEMM through
/// OpenBLAS on the model's shapes, a STREAM-like copy, the integer matrix-vector kernels per weight type
/// and the integer matrix-matrix kernel on prefill shapes. Each figure is the best of `repeats` timed runs.
public struct KernelBenchmark {
    public struct Line: Sendable {
        public var kernel: String
        public var shape: String
        public var seconds: Double
        public var gflops: Double?
        public var gbps: Double?
    }

    public let repeats: Int

    public init(repeats: Int = 5) { self.repeats = repeats }

    func best(_ body: () -> Void) -> Double {
        body()
        var bestTime = Double.infinity
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            bestTime = min(bestTime, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return bestTime
    }

    /// Every benchmark, in order.
    public func run() -> [Line] {
        var lines: [Line] = []
        // Float32 GEMM, C[m×n] = A[m×k]·B[n×k]ᵀ, on prefill shapes of a 576-wide model and a square one, with
        // OpenBLAS's own threads (the forward pass keeps BLAS single-threaded and splits the work itself).
        openblas_set_num_threads(Int32(ComputeThreads.current))
        defer { openblas_set_num_threads(1) }
        for (m, n, k) in [(512, 576, 576), (512, 1536, 576), (512, 576, 1536), (2048, 2048, 2048)] {
            let a = FloatBuffer(count: m * k), b = FloatBuffer(count: n * k), c = FloatBuffer(count: m * n)
            for i in 0..<(m * k) { a.pointer[i] = Float(i % 7) * 0.1 }
            for i in 0..<(n * k) { b.pointer[i] = Float(i % 5) * 0.1 }
            let t = best {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1,
                            a.pointer, Int32(k), b.pointer, Int32(k), 0, c.pointer, Int32(n))
            }
            lines.append(Line(kernel: "sgemm (OpenBLAS)", shape: "\(m)x\(n)x\(k)", seconds: t, gflops: 2 * Double(m * n * k) / t / 1e9))
        }
        // Copy bandwidth: bytes read plus bytes written, split over the worker threads.
        let count = 64 << 20
        let source = FloatBuffer(count: count), target = FloatBuffer(count: count)
        let copyTime = best {
            WorkerPool.shared.forEachRange(count) { range in
                (target.pointer + range.lowerBound).update(from: source.pointer + range.lowerBound, count: range.count)
            }
        }
        lines.append(Line(kernel: "copy", shape: "256 MiB", seconds: copyTime, gbps: 2 * Double(count * 4) / copyTime / 1e9))
        // Integer products as the forward pass runs them: matrix-vector as in decoding (weights read once per
        // token), and matrix-matrix on prefill shapes (activations quantized per block of 32, or as Q8_K, included).
        // The 32-block types on SmolLM2's shapes; the K-quants on Qwen2.5-Coder-1.5B's (1536 wide, 8960 in the
        // feed-forward, its vocabulary's 151936-row output layer, far larger than the caches).
        let vectorCases = [GGMLType.q4_1, .q4_0, .q8_0].flatMap { type in [(type, 1536, 576), (type, 49152, 576)] }
            + [GGMLType.q4_K, .q6_K].flatMap { type in [(type, 1536, 1536), (type, 8960, 1536), (type, 1536, 8960), (type, 151_936, 1536)] }
        for (type, rows, cols) in vectorCases {
            let w = Self.syntheticWeight(type, rows: rows, cols: cols)
            let x = FloatBuffer((0..<cols).map { Float($0 % 11) - 5 }), y = FloatBuffer(count: rows)
            let scratch = MatmulScratch()
            let t = best { w.apply(x.pointer, count: 1, into: y.pointer, scratch: scratch) }
            lines.append(Line(kernel: "matvec \(type.name) (int8 kernel)", shape: "\(rows)x\(cols)", seconds: t,
                              gflops: 2 * Double(rows * cols) / t / 1e9, gbps: Double(w.byteCount) / t / 1e9))
        }
        let matrixCases = [(GGMLType.q4_K, 512, 1536, 1536), (.q4_K, 512, 8960, 1536), (.q6_K, 512, 1536, 8960),
                           (.q4_1, 512, 576, 576), (.q4_1, 512, 1536, 576), (.q4_1, 512, 576, 1536)]
        for (type, m, n, k) in matrixCases {
            let w = Self.syntheticWeight(type, rows: n, cols: k)
            let x = FloatBuffer((0..<(m * k)).map { Float($0 % 11) - 5 }), y = FloatBuffer(count: m * n)
            let scratch = MatmulScratch()
            let t = best { w.apply(x.pointer, count: m, into: y.pointer, scratch: scratch) }
            lines.append(Line(kernel: "gemm \(type.name) (int8 kernel)", shape: "\(m)x\(n)x\(k)", seconds: t,
                              gflops: 2 * Double(m * n * k) / t / 1e9))
        }
        return lines
    }

    /// A `rows × cols` weight of `type` with deterministic bytes and finite float16 scales (and minima):
    /// the scale d leads every block (Q6_K: ends it), the minimum follows it in Q4_1, Q4_K and Q5_K.
    static func syntheticWeight(_ type: GGMLType, rows: Int, cols: Int) -> WeightMatrix {
        let blocks = rows * cols / type.blockSize, size = type.bytesPerBlock
        var raw = [UInt8](repeating: 0, count: blocks * size)
        for i in raw.indices { raw[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        let scaleOffset = type == .q6_K ? size - 2 : 0
        let hasMinimum = [.q4_1, .q4_K, .q5_K].contains(type)
        for b in 0..<blocks {
            raw[b * size + scaleOffset] = 0x00; raw[b * size + scaleOffset + 1] = 0x20
            if hasMinimum { raw[b * size + 2] = 0x00; raw[b * size + 3] = 0xA0 }
        }
        return raw.withUnsafeBytes { WeightMatrix(rows: rows, cols: cols, type: type, data: $0) }
    }
}
