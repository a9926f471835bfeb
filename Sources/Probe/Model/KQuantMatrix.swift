import CSIMD
import Foundation

/// A weight matrix of a K-quant type (Q4_K, Q5_K, Q6_K: ggml's super-blocks of 256 values) repacked at load into
/// groups of eight rows whose values interleave by quads (CSIMD's `csimd_kquant_matrix`: Q4_K in the bytes GGUF
/// uses, Q5_K and Q6_K one byte a value), and multiplied as llama.cpp multiplies it: activations quantized as
/// Q8_K (`SuperBlockActivations`), per super-block an exact integer sum of sub-block scale × Σ q_w q_x, then
/// `d_x·d_w · sum − d_x·dmin_w · Σ min·Σq_x` in float (CSIMD's K-quant kernels, every tier bit-identical).
final class KQuantMatrix: @unchecked Sendable {
    let type: GGMLType
    let rows: Int
    let cols: Int
    /// The repacked group-blocks, `groups × blocksPerRow` of them.
    let data: UnsafeMutableRawPointer

    static func supports(_ type: GGMLType) -> Bool { [.q4_K, .q5_K, .q6_K].contains(type) }

    var blocksPerRow: Int { cols / QK.superBlock }

    /// Groups of `QK.groupRows` rows (the last one padded with zero rows).
    var groups: Int { (rows + QK.groupRows - 1) / QK.groupRows }

    /// Bytes held: the repacked group-blocks.
    var byteCount: Int { groups * blocksPerRow * Int(csimd_kquant_group_bytes(Self.cType(type))) }

    /// Repacks `rows × cols` weights of `type` from GGUF block data.
    init(type: GGMLType, rows: Int, cols: Int, data source: UnsafeRawBufferPointer) {
        precondition(Self.supports(type) && cols % QK.superBlock == 0)
        self.type = type
        self.rows = rows
        self.cols = cols
        precondition(source.count >= rows * (cols / QK.superBlock) * type.bytesPerBlock)
        let blocks = cols / QK.superBlock
        let bytes = (rows + QK.groupRows - 1) / QK.groupRows * blocks * Int(csimd_kquant_group_bytes(Self.cType(type)))
        // In 2 MiB pages where the kernel grants them (transparent huge pages on request): a decoding step streams
        // every weight once, and 4 KiB pages would cost a TLB miss every 4 KiB.
        let hugePage = 2 << 20
        if bytes >= hugePage {
            data = .allocate(byteCount: bytes, alignment: hugePage)
            _ = madvise(data, bytes, MADV_HUGEPAGE)  // a hint: refused or ignored, the pages stay 4 KiB
        } else {
            data = .allocate(byteCount: bytes, alignment: 64)
        }
        csimd_kquant_repack(Self.cType(type), source.baseAddress!.assumingMemoryBound(to: UInt8.self), Int64(rows),
                            Int64(blocks), data.assumingMemoryBound(to: UInt8.self))
    }

    deinit { data.deallocate() }

    private static func cType(_ type: GGMLType) -> csimd_kquant_type {
        switch type {
        case .q4_K: CSIMD_Q4_K
        case .q5_K: CSIMD_Q5_K
        default: CSIMD_Q6_K
        }
    }

    private var matrix: csimd_kquant_matrix {
        csimd_kquant_matrix(data: data.assumingMemoryBound(to: UInt8.self), type: Self.cType(type), rows: Int64(rows),
                            blocks: Int64(blocksPerRow))
    }

    /// `y[t, r] = W[r, :] · x[t, :]` for the weight rows `rowRange` and every activation row; `y` has row stride
    /// `rows`. With `accumulate`, `y[t, r] += …` (the sum computed first, then added). Each activation row's
    /// result is the same whatever the batch, the split of rows and the `SIMDTier`; a range that cuts a group
    /// computes the whole group (split on multiples of `QK.groupRows` to avoid it).
    func multiply(_ x: SuperBlockActivations, rows rowRange: Range<Int>, into y: UnsafeMutablePointer<Float>,
                  accumulate: Bool = false) {
        precondition(x.cols == cols)
        var matrix = matrix
        var activations = csimd_q8k_activations(values: x.values, scales: x.scales, sums: x.sums, rows: Int64(x.rows),
                                                quads: x.quads)
        csimd_multiply_kquant(&matrix, &activations, Int64(rowRange.lowerBound), Int64(rowRange.upperBound), y,
                              accumulate ? 1 : 0)
    }

    /// Rows `range` as float32, row-major into `out` with row stride `cols` (`out` points at row 0); the same
    /// values as `Dequantize` on the GGUF blocks.
    func dequantize(rows range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        var matrix = matrix
        for r in range { csimd_kquant_dequantize_row(&matrix, Int64(r), out + r * cols) }
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
    /// Weight rows per group of the repacked layout.
    static let groupRows = Int(CSIMD_KQUANT_GROUP)
}
