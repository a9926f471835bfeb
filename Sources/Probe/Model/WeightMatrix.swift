import CBLAS

/// A linear layer's weight, `rows` outputs × `cols` inputs (GGUF's [ne0 = cols, ne1 = rows]).
///
/// 32-block quantized types stay quantized (one byte per weight) and multiply like llama.cpp: activations
/// quantized to 8 bits per block, integer dot products, for a decoding row and a prefill's thousands of rows
/// alike (tiles of four activation rows). With `Numerics.float32` the activations stay float32 and the
/// weights are dequantized (once for small batches, panel by panel through BLAS for large ones). K-quants
/// (256-blocks) stay packed (repacked by groups of rows, `KQuantMatrix`) and multiply like llama.cpp too (activations quantized as Q8_K,
/// integer sums per sub-block), for any batch; with `Numerics.float32` they multiply a float32 copy made on
/// first use. Other types are held as float32 and multiplied with BLAS. Weights of different types stacked
/// by rows (a fused Q/K/V whose V has another type) stay separate parts, each multiplied as its own type.
public final class WeightMatrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    /// The type the weight had in the file (of a stack of mixed types: its first part's).
    public let sourceType: GGMLType
    let dense: FloatBuffer?
    let quantized: QuantizedMatrix?
    let kquant: KQuantMatrix?
    /// Row blocks of different types (`stacking`), each with its first row; nil for a single-type weight.
    let parts: [(firstRow: Int, matrix: WeightMatrix)]?
    /// A float32 copy of a quantized weight, made on first use by `Numerics.float32` decoding (of a K-quant
    /// weight: by any `Numerics.float32` product).
    private var expanded: FloatBuffer?

    /// Batches up to this size count as small: with `Numerics.float32` they multiply a float32 copy of a
    /// quantized weight made once (matrix-vector), and attention takes its per-row path.
    static let integerBatchLimit = 8

    init(rows: Int, cols: Int, type: GGMLType, data: UnsafeRawBufferPointer) {
        self.rows = rows
        self.cols = cols
        sourceType = type
        kquant = KQuantMatrix.supports(type) ? KQuantMatrix(type: type, rows: rows, cols: cols, data: data) : nil
        if QuantizedMatrix.supports(type) {
            quantized = QuantizedMatrix(type: type, rows: rows, cols: cols, data: data)
            dense = nil
        } else if kquant != nil {
            quantized = nil
            dense = nil
        } else {
            let buffer = FloatBuffer(count: rows * cols)
            Dequantize.run(type, from: data, into: buffer.pointer, count: rows * cols)
            dense = buffer
            quantized = nil
        }
        parts = nil
    }

    /// Weights with the same `cols` stacked by rows, each kept in its own type.
    init(stacking matrices: [WeightMatrix]) {
        precondition(!matrices.isEmpty && Set(matrices.map(\.cols)).count == 1)
        var first = 0
        var parts: [(firstRow: Int, matrix: WeightMatrix)] = []
        for m in matrices {
            parts.append((first, m))
            first += m.rows
        }
        rows = first
        cols = matrices[0].cols
        sourceType = matrices[0].sourceType
        dense = nil
        quantized = nil
        kquant = nil
        self.parts = parts
    }

    /// A float32 weight held as given.
    init(rows: Int, cols: Int, dense: FloatBuffer, sourceType: GGMLType) {
        precondition(dense.count == rows * cols)
        self.rows = rows
        self.cols = cols
        self.sourceType = sourceType
        self.dense = dense
        quantized = nil
        kquant = nil
        parts = nil
    }

    /// Bytes the runtime holds for this weight.
    public var byteCount: Int {
        if let parts { return parts.reduce(0) { $0 + $1.matrix.byteCount } }
        return quantized?.byteCount ?? kquant?.byteCount ?? rows * cols * 4
    }

    /// Row `r` as float32 (embedding look-up).
    func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        if let parts {
            let part = parts.last { $0.firstRow <= r }!
            part.matrix.row(r - part.firstRow, into: out)
        } else if let quantized {
            quantized.row(r, into: out)
        } else if let kquant {
            kquant.row(r, into: out)
        } else {
            out.update(from: dense!.pointer + r * cols, count: cols)
        }
    }

    /// `y[t, :] = W · x[t, :]` for `t` in `0..<count`; `x` has row stride `cols`, `y` has row stride `rows`.
    /// With `accumulate`, `y[t, :] += W · x[t, :]` (a residual connection without a separate pass).
    func apply(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>, scratch: MatmulScratch,
               numerics: Numerics = .llamaCpp, accumulate: Bool = false) {
        let beta: Float = accumulate ? 1 : 0
        if let parts {
            if count == 1 {
                for part in parts {
                    part.matrix.apply(x, count: 1, into: y + part.firstRow, scratch: scratch, numerics: numerics, accumulate: accumulate)
                }
                return
            }
            for part in parts {
                let n = part.matrix.rows
                let partial = scratch.buffer("stacked part", count: count * n)
                part.matrix.apply(x, count: count, into: partial, scratch: scratch, numerics: numerics)
                for t in 0..<count {
                    let target = y + t * rows + part.firstRow, source = partial + t * n
                    if accumulate { Kernels.add(target, source, count: n) } else { target.update(from: source, count: n) }
                }
            }
            return
        }
        if let k = kquant, numerics == .llamaCpp {
            // llama.cpp's arithmetic: activations quantized as Q8_K, integer sums per sub-block.
            scratch.superBlockActivations.quantize(x, rows: count, cols: cols)
            // Whole groups of rows, handed out in chunks of about a sixteenth of a thread's share: decoding is
            // bound by memory bandwidth, which the threads do not get in equal parts.
            let chunk = max(2, k.groups / (16 * WorkerPool.shared.threadCount))
            WorkerPool.shared.forEachChunk(k.groups, chunk: chunk) { groups in
                let range = (groups.lowerBound * QK.groupRows)..<min(rows, groups.upperBound * QK.groupRows)
                k.multiply(scratch.superBlockActivations, rows: range, into: y, accumulate: accumulate)
            }
            return
        }
        let expandsOnce = kquant != nil || count <= Self.integerBatchLimit
        if numerics == .float32, expandsOnce, expanded == nil, quantized != nil || kquant != nil {
            let buffer = FloatBuffer(count: rows * cols)
            if let q = quantized { q.dequantize(rows: 0..<rows, into: buffer.pointer) }
            kquant?.dequantize(rows: 0..<rows, into: buffer.pointer)
            expanded = buffer
        }
        if let dense = dense ?? (numerics == .float32 && expandsOnce ? expanded : nil) {
            // Each worker multiplies its own share of the rows (BLAS itself runs single-threaded, see ComputeThreads).
            let xin = x
            WorkerPool.shared.forEachRange(rows, minimumPerThread: 64) { range in
                let w = dense.pointer + range.lowerBound * cols, n = Int32(range.count)
                if count == 1 {
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, Int32(cols), 1, w, Int32(cols), xin, 1, beta, y + range.lowerBound, 1)
                } else {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), n, Int32(cols), 1,
                                xin, Int32(cols), w, Int32(cols), beta, y + range.lowerBound, Int32(rows))
                }
            }
            return
        }
        let q = quantized!
        let pool = WorkerPool.shared
        if numerics == .llamaCpp {
            // llama.cpp's arithmetic: activations quantized per block of 32, integer dot products with the weights.
            scratch.activations.quantize(x, rows: count, cols: cols)
            pool.forEachRange(q.groups) { range in
                q.multiply(scratch.activations, groups: range, into: y, accumulate: accumulate)
            }
            return
        }
        // Float32 arithmetic on a large batch: each worker takes its own share of the output rows and, panel by
        // panel, dequantizes them (transposed, as the GEMM's right-hand side) into its own buffer and multiplies
        // with (single-threaded) BLAS: no barrier between the two steps, and the panel is still in the core's
        // cache when the GEMM reads it. Panels of up to 4 MiB: OpenBLAS packs the activations again for every
        // panel, so fewer, larger panels pack less.
        let threads = pool.threadCount
        let panelRows = min(rows, max(QuantizedMatrix.groupRows, (1 << 20) / cols / QuantizedMatrix.groupRows * QuantizedMatrix.groupRows))
        let panels = scratch.buffer("panel", count: threads * panelRows * cols)
        let groups = q.groups
        pool.run { part in
            let panel = panels + part * panelRows * cols
            // Whole groups of 16 rows per worker, so that no two workers unpack the same group.
            let first = min(rows, groups * part / threads * QuantizedMatrix.groupRows)
            let end = min(rows, groups * (part + 1) / threads * QuantizedMatrix.groupRows)
            var r0 = first
            while r0 < end {
                let n = min(panelRows, end - r0)
                q.dequantizeColumns(rows: r0..<(r0 + n), into: panel, stride: n)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), Int32(n), Int32(cols), 1,
                            x, Int32(cols), panel, Int32(n), beta, y + r0, Int32(rows))
                r0 += n
            }
        }
    }
}

/// Scratch space for matrix products, owned by one model and reused across calls.
final class MatmulScratch {
    let activations = QuantizedActivations()
    let superBlockActivations = SuperBlockActivations()
    private let workspace = Workspace()

    func buffer(_ name: String, count: Int) -> UnsafeMutablePointer<Float> { workspace.buffer(name, count: count) }
}
