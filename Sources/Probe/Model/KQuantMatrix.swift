import CSIMD

/// A weight matrix of a K-quant type (Q4_K, Q5_K, Q6_K: ggml's super-blocks of 256 values) kept packed as GGUF
/// stores it, row after row, and multiplied as llama.cpp multiplies it: activations quantized as Q8_K
/// (`SuperBlockActivations`), per super-block an exact integer sum of sub-block scale × Σ q_w q_x, then
/// `d_x·d_w · sum − d_x·dmin_w · Σ min·Σq_x` in float (CSIMD's K-quant kernels, every tier bit-identical).
final class KQuantMatrix: @unchecked Sendable {
    let type: GGMLType
    let rows: Int
    let cols: Int
    /// The GGUF super-blocks, `rows × cols / 256` of them.
    let data: UnsafeMutableRawPointer

    static func supports(_ type: GGMLType) -> Bool { [.q4_K, .q5_K, .q6_K].contains(type) }

    var blocksPerRow: Int { cols / QK.superBlock }

    /// Bytes held: the GGUF data as it is.
    var byteCount: Int { rows * blocksPerRow * type.bytesPerBlock }

    /// Copies `rows × cols` weights of `type` from GGUF block data.
    init(type: GGMLType, rows: Int, cols: Int, data source: UnsafeRawBufferPointer) {
        precondition(Self.supports(type) && cols % QK.superBlock == 0)
        self.type = type
        self.rows = rows
        self.cols = cols
        let bytes = rows * (cols / QK.superBlock) * type.bytesPerBlock
        precondition(source.count >= bytes)
        data = .allocate(byteCount: bytes, alignment: 64)
        data.copyMemory(from: source.baseAddress!, byteCount: bytes)
    }

    deinit { data.deallocate() }

    private var cType: csimd_kquant_type {
        switch type {
        case .q4_K: CSIMD_Q4_K
        case .q5_K: CSIMD_Q5_K
        default: CSIMD_Q6_K
        }
    }

    /// `y[t, r] = W[r, :] · x[t, :]` for the weight rows `rowRange` and every activation row; `y` has row stride
    /// `rows`. With `accumulate`, `y[t, r] += …` (the sum computed first, then added). Each activation row's
    /// result is the same whatever the batch, the split of rows and the `SIMDTier`.
    func multiply(_ x: SuperBlockActivations, rows rowRange: Range<Int>, into y: UnsafeMutablePointer<Float>,
                  accumulate: Bool = false) {
        precondition(x.cols == cols)
        var matrix = csimd_kquant_matrix(data: data.assumingMemoryBound(to: UInt8.self), type: cType,
                                         rows: Int64(rows), blocks: Int64(blocksPerRow))
        var activations = csimd_q8k_activations(values: x.values, scales: x.scales, sums: x.sums, rows: Int64(x.rows))
        csimd_multiply_kquant(&matrix, &activations, Int64(rowRange.lowerBound), Int64(rowRange.upperBound), y,
                              accumulate ? 1 : 0)
    }

    /// Rows `range` as float32, row-major into `out` with row stride `cols` (`out` points at row 0).
    func dequantize(rows range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let rowBytes = blocksPerRow * type.bytesPerBlock
        for r in range {
            Dequantize.run(type, from: UnsafeRawBufferPointer(start: data + r * rowBytes, count: rowBytes),
                           into: out + r * cols, count: cols)
        }
    }

    /// One row as float32, for embedding look-up.
    func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        dequantize(rows: r..<(r + 1), into: out - r * cols)
    }
}

/// ggml's K-quant sizes.
enum QK {
    /// Values per super-block (QK_K).
    static let superBlock = Int(CSIMD_KQUANT_BLOCK)
    /// Values per Q8_K partial sum.
    static let sumSpan = Int(CSIMD_KQUANT_SUM_SPAN)
}
