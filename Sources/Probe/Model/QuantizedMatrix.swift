import CSIMD

/// A weight matrix of a 32-block type (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) unpacked at load into one byte per
/// weight plus per-block float scales, so that products are integer dot products with quantized activations,
/// computed as llama.cpp computes them: per block `(d_w · d_x) · Σ q_w q_x (+ m_w · s_x)`.
///
/// Layout: rows in groups of 16, interleaved so that SIMD lanes are rows and no per-block horizontal sum is
/// needed. Per group and block: 8 quads `c` of columns (4c … 4c+3), each 64 bytes: rows 0…7, then rows 8…15,
/// each row's four bytes `q[r][4c …4c+3]` in one 32-bit lane. Scales (and minima) per group and block: rows
/// 0…15 in order.
final class QuantizedMatrix: @unchecked Sendable {
    enum Kind: Equatable {
        /// Q8_0: signed weights, x = d·q.
        case signed
        /// Q4_0 / Q5_0: unsigned weights with an integer offset, x = d·(q − offset).
        case offset(Int32)
        /// Q4_1 / Q5_1: unsigned weights with a block minimum, x = d·q + m.
        case minimum
    }

    static let groupRows = 16
    static let bytesPerGroupBlock = 512

    let rows: Int
    let cols: Int
    let kind: Kind
    let groups: Int
    let values: UnsafeMutablePointer<UInt8>
    let scales: UnsafeMutablePointer<Float>
    /// Block minima (`.minimum` only), laid out like `scales`.
    let mins: UnsafeMutablePointer<Float>?

    var blocksPerRow: Int { cols / 32 }

    static func supports(_ type: GGMLType) -> Bool { [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0].contains(type) }

    /// Unpacks `rows × cols` weights of `type` from GGUF block data.
    init(type: GGMLType, rows: Int, cols: Int, data: UnsafeRawBufferPointer) {
        precondition(Self.supports(type) && cols % 32 == 0)
        self.rows = rows
        self.cols = cols
        let nb = cols / 32
        groups = (rows + Self.groupRows - 1) / Self.groupRows
        values = .allocate(capacity: groups * nb * Self.bytesPerGroupBlock)
        values.initialize(repeating: 0, count: groups * nb * Self.bytesPerGroupBlock)
        scales = .allocate(capacity: groups * nb * Self.groupRows)
        scales.initialize(repeating: 0, count: groups * nb * Self.groupRows)
        switch type {
        case .q8_0: kind = .signed
        case .q4_0: kind = .offset(8)
        case .q5_0: kind = .offset(16)
        default: kind = .minimum
        }
        mins = kind == .minimum ? .allocate(capacity: groups * nb * Self.groupRows) : nil
        mins?.initialize(repeating: 0, count: groups * nb * Self.groupRows)
        let src = data.baseAddress!
        let stride = type.bytesPerBlock
        var q = [UInt8](repeating: 0, count: 32)
        for r in 0..<rows {
            for b in 0..<nb {
                let p = src + (r * nb + b) * stride
                let (scale, minimum) = Self.unpack(type, block: p, into: &q)
                let g = r / Self.groupRows, i = r % Self.groupRows
                let base = values + (g * nb + b) * Self.bytesPerGroupBlock + (i / 8) * 32 + (i % 8) * 4
                for quad in 0..<8 {
                    for c in 0..<4 { base[quad * 64 + c] = q[4 * quad + c] }
                }
                let slot = (g * nb + b) * Self.groupRows + r % Self.groupRows
                scales[slot] = scale
                mins?[slot] = minimum
            }
        }
    }

    deinit {
        values.deallocate()
        scales.deallocate()
        mins?.deallocate()
    }

    /// The 32 quantized values of one GGUF block (as stored bytes: two's complement for Q8_0), its scale and minimum.
    static func unpack(_ type: GGMLType, block p: UnsafeRawPointer, into q: inout [UInt8]) -> (Float, Float) {
        let d = Dequantize.half(p, 0)
        switch type {
        case .q8_0:
            for j in 0..<32 { q[j] = p.load(fromByteOffset: 2 + j, as: UInt8.self) }
            return (d, 0)
        case .q4_0, .q4_1:
            let base = type == .q4_0 ? 2 : 4
            for j in 0..<16 {
                let byte = p.load(fromByteOffset: base + j, as: UInt8.self)
                q[j] = byte & 0xF
                q[j + 16] = byte >> 4
            }
            return (d, type == .q4_1 ? Dequantize.half(p, 2) : 0)
        case .q5_0, .q5_1:
            let hOffset = type == .q5_0 ? 2 : 4
            let qh = p.loadUnaligned(fromByteOffset: hOffset, as: UInt32.self)
            for j in 0..<16 {
                let byte = p.load(fromByteOffset: hOffset + 4 + j, as: UInt8.self)
                q[j] = (byte & 0xF) | UInt8(((qh >> UInt32(j)) << 4) & 0x10)
                q[j + 16] = (byte >> 4) | UInt8((qh >> UInt32(j + 12)) & 0x10)
            }
            return (d, type == .q5_1 ? Dequantize.half(p, 2) : 0)
        default:
            preconditionFailure()
        }
    }

    /// Bytes held (values and scales).
    var byteCount: Int { groups * blocksPerRow * (Self.bytesPerGroupBlock + Self.groupRows * (mins == nil ? 4 : 8)) }

    /// `y[t, r] = W[r, :] · x[t, :]` for the row groups `groupRange` and every activation row; `y` has row
    /// stride `rows`. With `accumulate`, `y[t, r] += …` (the sum computed first, then added). Each activation
    /// row's result is the same whatever the batch and whatever the `SIMDTier`: rows are computed independently,
    /// in the same order, with exact integer sums (CSIMD's kernels).
    func multiply(_ x: QuantizedActivations, groups groupRange: Range<Int>, into y: UnsafeMutablePointer<Float>,
                  accumulate: Bool = false) {
        var offset: Int32 = 0
        if case .offset(let o) = kind { offset = o }
        var matrix = csimd_quantized_matrix(values: values, scales: scales, mins: mins.map { UnsafePointer($0) },
                                            rows: Int64(rows), blocks: Int64(blocksPerRow),
                                            is_signed: kind == .signed ? 1 : 0, offset: offset)
        var activations = csimd_quantized_activations(values: x.values, scales: x.scales, scaled_sums: x.scaledSums,
                                                      sums: x.sums, rows: Int64(x.rows))
        csimd_multiply_quantized(&matrix, &activations, Int64(groupRange.lowerBound), Int64(groupRange.upperBound),
                                 y, accumulate ? 1 : 0)
    }

    /// Exact int32 → float for |v| < 2²² (block sums are far smaller): add the bits of 1.5·2²³ and subtract it.
    @inline(__always) static func toFloat(_ v: SIMD8<Int32>) -> SIMD8<Float> {
        unsafeBitCast(v &+ 0x4B40_0000, to: SIMD8<Float>.self) - 12_582_912
    }

    /// Rows `range` as float32 (`d·q + m`, or `d·(q − offset)`), transposed: `out[k·stride + (r − range.lowerBound)]`
    /// for every column k, the layout of a GEMM's right-hand panel. `range` starts at a multiple of 16.
    func dequantizeColumns(rows range: Range<Int>, into out: UnsafeMutablePointer<Float>, stride: Int) {
        precondition(range.lowerBound % Self.groupRows == 0)
        let nb = blocksPerRow
        var partial = [Float](repeating: 0, count: 32 * Self.groupRows)
        for g in (range.lowerBound / Self.groupRows)..<((range.upperBound + Self.groupRows - 1) / Self.groupRows) {
            let first = g * Self.groupRows - range.lowerBound, count = min(Self.groupRows, range.upperBound - g * Self.groupRows)
            for b in 0..<nb {
                if count == Self.groupRows {
                    dequantize(group: g, block: b, into: out + b * 32 * stride + first, stride: stride)
                } else {
                    // A group cut short: all 16 rows into a scratch block, then the rows asked for.
                    partial.withUnsafeMutableBufferPointer { dequantize(group: g, block: b, into: $0.baseAddress!, stride: Self.groupRows) }
                    for k in 0..<32 {
                        for i in 0..<count { out[(b * 32 + k) * stride + first + i] = partial[k * Self.groupRows + i] }
                    }
                }
            }
        }
    }

    /// Block `b` of the 16 rows of group `g` as float32, transposed: `out[k·stride + i]` is row i, column
    /// `32b + k`. Per quad of columns, byte c of each 32-bit lane is column 4·quad + c of rows 0…7 (then 8…15).
    @inline(__always) private func dequantize(group g: Int, block b: Int, into out: UnsafeMutablePointer<Float>, stride: Int) {
        let nb = blocksPerRow, at = g * nb + b
        let base = UnsafeRawPointer(values + at * Self.bytesPerGroupBlock)
        let slot = UnsafeRawPointer(scales + at * Self.groupRows)
        let d0 = slot.load(as: SIMD8<Float>.self), d1 = slot.load(fromByteOffset: 32, as: SIMD8<Float>.self)
        var m0 = SIMD8<Float>(), m1 = SIMD8<Float>()
        if let mins {
            let m = UnsafeRawPointer(mins + at * Self.groupRows)
            m0 = m.load(as: SIMD8<Float>.self)
            m1 = m.load(fromByteOffset: 32, as: SIMD8<Float>.self)
        }
        // The byte at bit `shift` of each lane as a whole number (sign-extended for Q8_0, offset for Q4_0/Q5_0).
        let value = { (v: SIMD8<UInt32>, shift: UInt32) -> SIMD8<Float> in
            switch self.kind {
            case .signed:
                return Self.toFloat((unsafeBitCast(v &<< (24 - shift), to: SIMD8<Int32>.self)) &>> 24)
            case .offset(let offset):
                return Self.toFloat(unsafeBitCast((v &>> shift) & 0xFF, to: SIMD8<Int32>.self) &- offset)
            case .minimum:
                return Self.toFloat(unsafeBitCast((v &>> shift) & 0xFF, to: SIMD8<Int32>.self))
            }
        }
        let hasMinimum = mins != nil
        for quad in 0..<8 {
            let v0 = base.load(fromByteOffset: quad * 64, as: SIMD8<UInt32>.self)
            let v1 = base.load(fromByteOffset: quad * 64 + 32, as: SIMD8<UInt32>.self)
            for c in 0..<4 {
                let row = UnsafeMutableRawPointer(out + (4 * quad + c) * stride)
                var (a, e) = (d0 * value(v0, UInt32(8 * c)), d1 * value(v1, UInt32(8 * c)))
                if hasMinimum { a += m0; e += m1 }
                row.storeBytes(of: a, as: SIMD8<Float>.self)
                row.storeBytes(of: e, toByteOffset: 32, as: SIMD8<Float>.self)
            }
        }
    }

    /// Rows `range` as float32, row-major into `out` with row stride `cols` (`out` points at row 0).
    func dequantize(rows range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        guard !range.isEmpty else { return }
        let nb = blocksPerRow
        var block = [Float](repeating: 0, count: 32 * Self.groupRows)
        block.withUnsafeMutableBufferPointer { buffer in
            let t = buffer.baseAddress!
            for g in (range.lowerBound / Self.groupRows)...((range.upperBound - 1) / Self.groupRows) {
                let rowsOfGroup = max(range.lowerBound, g * Self.groupRows)..<min(range.upperBound, (g + 1) * Self.groupRows)
                for b in 0..<nb {
                    dequantize(group: g, block: b, into: t, stride: Self.groupRows)
                    for r in rowsOfGroup {
                        let o = out + r * cols + b * 32, i = r - g * Self.groupRows
                        for k in 0..<32 { o[k] = t[k * Self.groupRows + i] }
                    }
                }
            }
        }
    }

    /// One row as float32, for embedding look-up.
    func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        dequantize(rows: r..<(r + 1), into: out - r * cols)
    }
}
