/// A weight matrix of a 32-block type (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) unpacked at load into one byte per
/// weight plus per-block float scales, so that products are integer dot products with quantized activations,
/// computed as llama.cpp computes them: per block `(d_w · d_x) · Σ q_w q_x (+ m_w · s_x)`.
final class QuantizedMatrix: @unchecked Sendable {
    enum Kind {
        /// Q8_0: signed weights, x = d·q.
        case signed
        /// Q4_0 / Q5_0: unsigned weights with an integer offset, x = d·(q − offset).
        case offset(Int32)
        /// Q4_1 / Q5_1: unsigned weights with a block minimum, x = d·q + m.
        case minimum
    }

    let rows: Int
    let cols: Int
    let kind: Kind
    let values: UnsafeMutablePointer<Int8>
    let scales: UnsafeMutablePointer<Float>
    /// Block minima (`.minimum` only), `rows × cols/32`.
    let mins: UnsafeMutablePointer<Float>?

    var blocksPerRow: Int { cols / 32 }

    static func supports(_ type: GGMLType) -> Bool { [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0].contains(type) }

    /// Unpacks `rows × cols` weights of `type` from GGUF block data.
    init(type: GGMLType, rows: Int, cols: Int, data: UnsafeRawBufferPointer) {
        precondition(Self.supports(type) && cols % 32 == 0)
        self.rows = rows
        self.cols = cols
        let blocks = rows * cols / 32
        values = .allocate(capacity: rows * cols)
        scales = .allocate(capacity: blocks)
        switch type {
        case .q8_0: kind = .signed
        case .q4_0: kind = .offset(8)
        case .q5_0: kind = .offset(16)
        default: kind = .minimum
        }
        mins = type == .q4_1 || type == .q5_1 ? .allocate(capacity: blocks) : nil
        let src = data.baseAddress!
        let stride = type.bytesPerBlock
        let u = UnsafeMutableRawPointer(values).assumingMemoryBound(to: UInt8.self)
        for b in 0..<blocks {
            let p = src + b * stride
            let q = u + b * 32
            scales[b] = Dequantize.half(p, 0)
            switch type {
            case .q8_0:
                for j in 0..<32 { q[j] = p.load(fromByteOffset: 2 + j, as: UInt8.self) }
            case .q4_0, .q4_1:
                let base = type == .q4_0 ? 2 : 4
                if type == .q4_1 { mins![b] = Dequantize.half(p, 2) }
                for j in 0..<16 {
                    let byte = p.load(fromByteOffset: base + j, as: UInt8.self)
                    q[j] = byte & 0xF
                    q[j + 16] = byte >> 4
                }
            case .q5_0, .q5_1:
                let hOffset = type == .q5_0 ? 2 : 4
                if type == .q5_1 { mins![b] = Dequantize.half(p, 2) }
                let qh = p.loadUnaligned(fromByteOffset: hOffset, as: UInt32.self)
                for j in 0..<16 {
                    let byte = p.load(fromByteOffset: hOffset + 4 + j, as: UInt8.self)
                    q[j] = (byte & 0xF) | UInt8(((qh >> UInt32(j)) << 4) & 0x10)
                    q[j + 16] = (byte >> 4) | UInt8((qh >> UInt32(j + 12)) & 0x10)
                }
            default:
                preconditionFailure()
            }
        }
    }

    deinit {
        values.deallocate()
        scales.deallocate()
        mins?.deallocate()
    }

    /// Bytes held (values and scales).
    var byteCount: Int { rows * cols + rows * blocksPerRow * (mins == nil ? 4 : 8) }

    /// `y[t, r] = Σ_blocks …` for the rows `range` and every activation row; `y` has row stride `rows`.
    func multiply(_ x: QuantizedActivations, rows range: Range<Int>, into y: UnsafeMutablePointer<Float>) {
        let nb = blocksPerRow
        for r in range {
            let w = values + r * cols, d = scales + r * nb
            for t in 0..<x.rows {
                let xq = x.values + t * cols, xd = x.scales + t * nb
                var acc: Float = 0
                switch kind {
                case .signed:
                    for b in 0..<nb { acc += d[b] * xd[b] * Float(Self.dotSigned(w + b * 32, xq + b * 32)) }
                case .offset(let offset):
                    let xs = x.sums + t * nb
                    for b in 0..<nb {
                        let isum = Self.dotUnsigned(w + b * 32, xq + b * 32) &- offset &* xs[b]
                        acc += d[b] * xd[b] * Float(isum)
                    }
                case .minimum:
                    let m = mins! + r * nb, xs = x.scaledSums + t * nb
                    var minTerm: Float = 0
                    for b in 0..<nb {
                        acc += d[b] * xd[b] * Float(Self.dotUnsigned(w + b * 32, xq + b * 32))
                        minTerm += m[b] * xs[b]
                    }
                    acc += minTerm
                }
                y[t * rows + r] = acc
            }
        }
    }

    @inline(__always) static func dotUnsigned(_ w: UnsafePointer<Int8>, _ x: UnsafePointer<Int8>) -> Int32 {
        let wu = UnsafeRawPointer(w).assumingMemoryBound(to: UInt8.self)
        var s: Int32 = 0
        for j in 0..<32 { s &+= Int32(wu[j]) &* Int32(x[j]) }
        return s
    }

    @inline(__always) static func dotSigned(_ w: UnsafePointer<Int8>, _ x: UnsafePointer<Int8>) -> Int32 {
        var s: Int32 = 0
        for j in 0..<32 { s &+= Int32(w[j]) &* Int32(x[j]) }
        return s
    }

    /// Rows `range` as float32 (`d·q + m`, or `d·(q − offset)`), into `out` with row stride `cols`.
    func dequantize(rows range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let nb = blocksPerRow
        for r in range {
            for b in 0..<nb {
                let block = r * nb + b
                let d = scales[block], o = out + r * cols + b * 32, w = values + block * 32
                switch kind {
                case .signed:
                    for j in 0..<32 { o[j] = d * Float(w[j]) }
                case .offset(let offset):
                    let wu = UnsafeRawPointer(w).assumingMemoryBound(to: UInt8.self)
                    for j in 0..<32 { o[j] = d * Float(Int32(wu[j]) - offset) }
                case .minimum:
                    let m = mins![block]
                    let wu = UnsafeRawPointer(w).assumingMemoryBound(to: UInt8.self)
                    for j in 0..<32 { o[j] = d * Float(wu[j]) + m }
                }
            }
        }
    }

    /// One row as float32, for embedding look-up.
    func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        dequantize(rows: r..<(r + 1), into: out - r * cols)
    }
}
