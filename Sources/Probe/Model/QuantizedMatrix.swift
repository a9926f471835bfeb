import CSIMD

/// A weight matrix of a 32-block type (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) unpacked at load into one byte per
/// weight plus per-block float scales, so that products are integer dot products with quantized activations,
/// computed as llama.cpp computes them: per block `(d_w · d_x) · Σ q_w q_x (+ m_w · s_x)`.
///
/// Layout: rows in groups of 16, interleaved so that SIMD lanes are rows and no per-block horizontal sum is
/// needed. Per group and block: 16 pairs `p` of columns (2p, 2p+1), each 32 bytes holding, per 16-bit lane,
/// the bytes `q[r][2p], q[r][2p+1]` of one row r: rows 0…7 in the even lanes, rows 8…15 in the odd ones
/// (`lane(ofRow:)`), so that a kernel's even-lane sums are rows 0…7 and its odd-lane sums rows 8…15, in
/// order. Scales (and minima) per group and block: rows 0…15 in order.
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
                let g = r / Self.groupRows, lane = Self.lane(ofRow: r % Self.groupRows)
                let base = values + (g * nb + b) * Self.bytesPerGroupBlock
                for pair in 0..<16 {
                    base[pair * 32 + lane * 2] = q[2 * pair]
                    base[pair * 32 + lane * 2 + 1] = q[2 * pair + 1]
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

    /// The 16-bit lane of row `r` (0…15) of a group: rows 0…7 the even lanes, rows 8…15 the odd ones.
    @inline(__always) static func lane(ofRow r: Int) -> Int { r < 8 ? 2 * r : 2 * (r - 8) + 1 }

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
    /// row's result is the same whatever the batch: rows are computed independently, in the same order.
    func multiply(_ x: QuantizedActivations, groups groupRange: Range<Int>, into y: UnsafeMutablePointer<Float>,
                  accumulate: Bool = false) {
        // Activation rows in runs that stay in L2 while the run's groups pass over them; within a run each
        // group's weights (one block row: 16 × cols bytes) stay in L1 while tiles of four rows pass over them.
        let run = 256
        var t0 = 0
        while t0 < x.rows {
            let t1 = min(x.rows, t0 + run)
            for g in groupRange {
                var t = t0
                while t + 4 <= t1 {
                    if kind == .signed {
                        tile(InlineArray<4, Int>.self, group: g, x, firstRow: t, signedWeights: true, into: y, accumulate: accumulate)
                    } else {
                        tile(InlineArray<4, Int>.self, group: g, x, firstRow: t, signedWeights: false, into: y, accumulate: accumulate)
                    }
                    t += 4
                }
                while t < t1 {
                    if kind == .signed {
                        tile(InlineArray<1, Int>.self, group: g, x, firstRow: t, signedWeights: true, into: y, accumulate: accumulate)
                    } else {
                        tile(InlineArray<1, Int>.self, group: g, x, firstRow: t, signedWeights: false, into: y, accumulate: accumulate)
                    }
                    t += 1
                }
            }
            t0 = t1
        }
    }

    /// Group `g`'s 16 rows times activation rows `t0 ..< t0 + N`: per block, the integer sums
    /// `Σ q_w·q_x` (one byte pair per `csimd_multiply_add_pairs` lane), then llama.cpp's
    /// `(d_w·d_x)·Σ (+ m_w·s_x)` in float. Unsigned weights (≤ 31) make pair sums ≤ 2·31·127, so four pairs
    /// still fit int16 before the sums widen to int32; signed weights (Q8_0) multiply |w| by x with w's sign and
    /// widen after every pair.
    @inline(__always) private func tile<let N: Int>(_: InlineArray<N, Int>.Type, group g: Int, _ x: QuantizedActivations,
                                                    firstRow t0: Int, signedWeights: Bool,
                                                    into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let nb = blocksPerRow, xv = UnsafeRawPointer(x.values)
        var even = InlineArray<N, SIMD8<Float>>(repeating: SIMD8()), odd = InlineArray<N, SIMD8<Float>>(repeating: SIMD8())
        for b in 0..<nb {
            let base = UnsafeRawPointer(values + (g &* nb &+ b) &* Self.bytesPerGroupBlock)
            let xb = xv + (t0 &* cols &+ b &* 32)
            var e = InlineArray<N, SIMD8<Int32>>(repeating: SIMD8()), o = InlineArray<N, SIMD8<Int32>>(repeating: SIMD8())
            if signedWeights {
                for p in 0..<16 {
                    let w = base.load(fromByteOffset: p &* 32, as: SIMD32<Int8>.self)
                    let magnitude = csimd_magnitude(w)
                    for i in 0..<N {
                        let a = csimd_with_sign_of(Self.pair(xb, row: i, cols: cols, pair: p), w)
                        let wide = unsafeBitCast(csimd_multiply_add_pairs(magnitude, a), to: SIMD8<Int32>.self)
                        e[i] &+= (wide &<< 16) &>> 16
                        o[i] &+= wide &>> 16
                    }
                }
            } else {
                for quarter in 0..<4 {
                    var acc = InlineArray<N, SIMD16<Int16>>(repeating: SIMD16())
                    for k in 0..<4 {
                        let p = quarter &* 4 &+ k
                        let w = base.load(fromByteOffset: p &* 32, as: SIMD32<UInt8>.self)
                        for i in 0..<N { acc[i] &+= csimd_multiply_add_pairs(w, Self.pair(xb, row: i, cols: cols, pair: p)) }
                    }
                    for i in 0..<N {
                        let wide = unsafeBitCast(acc[i], to: SIMD8<Int32>.self)
                        e[i] &+= (wide &<< 16) &>> 16
                        o[i] &+= wide &>> 16
                    }
                }
            }
            let slot = UnsafeRawPointer(scales + (g &* nb &+ b) &* Self.groupRows)
            let dEven = slot.load(as: SIMD8<Float>.self), dOdd = slot.load(fromByteOffset: 32, as: SIMD8<Float>.self)
            for i in 0..<N {
                let block = (t0 &+ i) &* nb &+ b
                if case .offset(let offset) = kind {
                    let correction = SIMD8<Int32>(repeating: offset &* x.sums[block])
                    e[i] &-= correction
                    o[i] &-= correction
                }
                let dx = x.scales[block]
                even[i] = even[i].addingProduct(Self.toFloat(e[i]), dEven * dx)
                odd[i] = odd[i].addingProduct(Self.toFloat(o[i]), dOdd * dx)
                if let mins {
                    let m = UnsafeRawPointer(mins + (g &* nb &+ b) &* Self.groupRows)
                    let s = x.scaledSums[block]
                    even[i] = even[i].addingProduct(m.load(as: SIMD8<Float>.self), s)
                    odd[i] = odd[i].addingProduct(m.load(fromByteOffset: 32, as: SIMD8<Float>.self), s)
                }
            }
        }
        for i in 0..<N {
            let out = y + ((t0 &+ i) &* rows &+ g &* Self.groupRows)
            for l in 0..<8 {
                if g &* Self.groupRows &+ l < rows { out[l] = accumulate ? out[l] + even[i][l] : even[i][l] }
                if g &* Self.groupRows &+ 8 &+ l < rows { out[8 &+ l] = accumulate ? out[8 &+ l] + odd[i][l] : odd[i][l] }
            }
        }
    }

    /// The activation bytes (x[2p], x[2p+1]) of row `row` after `x`, in every 16-bit lane.
    @inline(__always) static func pair(_ x: UnsafeRawPointer, row: Int, cols: Int, pair p: Int) -> SIMD32<Int8> {
        let bits = x.loadUnaligned(fromByteOffset: row &* cols &+ 2 &* p, as: UInt16.self)
        return unsafeBitCast(SIMD16<UInt16>(repeating: bits), to: SIMD32<Int8>.self)
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
    /// `32b + k`. Eight rows per vector: a 32-bit lane holds `q[i][2p], q[i][2p+1], q[8+i][2p], q[8+i][2p+1]`.
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
        for pair in 0..<16 {
            let v = base.load(fromByteOffset: pair * 32, as: SIMD8<UInt32>.self)
            let even = UnsafeMutableRawPointer(out + 2 * pair * stride), odd = UnsafeMutableRawPointer(out + (2 * pair + 1) * stride)
            var (a, b, c, e) = (d0 * value(v, 0), d1 * value(v, 16), d0 * value(v, 8), d1 * value(v, 24))
            if hasMinimum { a += m0; b += m1; c += m0; e += m1 }
            even.storeBytes(of: a, as: SIMD8<Float>.self)
            even.storeBytes(of: b, toByteOffset: 32, as: SIMD8<Float>.self)
            odd.storeBytes(of: c, as: SIMD8<Float>.self)
            odd.storeBytes(of: e, toByteOffset: 32, as: SIMD8<Float>.self)
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
