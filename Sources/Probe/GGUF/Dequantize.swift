/// Conversion of ggml block formats to float32. Layouts follow the GGUF specification of each type
/// (ggml's `block_q4_0`, `block_q4_K`, …); every function takes whole blocks.
public enum Dequantize {
    /// Dequantizes `count` values of `type` from `source` into `out`. `count` is whole blocks and `source` holds
    /// them all; anything else is a caller's bug and stops the program (also where bounds checks are compiled out).
    public static func run(_ type: GGMLType, from source: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<Float>, count: Int) {
        guard count >= 0, count % type.blockSize == 0,
              let needed = CheckedArithmetic.product(count / type.blockSize, type.bytesPerBlock), needed <= source.count else {
            fatalError("Dequantize: \(count) \(type.name) values do not fit \(source.count) bytes of whole blocks")
        }
        guard count > 0, let src = source.baseAddress else { return }
        let blocks = count / type.blockSize
        let stride = type.bytesPerBlock
        let n = type.blockSize
        switch type {
        case .f32:
            for i in 0..<count { out[i] = Float(bitPattern: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        case .f16:
            for i in 0..<count { out[i] = half(src, 2 * i) }
        case .bf16:
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        case .q8_0:
            for b in 0..<blocks { q8_0(src + b * stride, out + b * n) }
        case .q4_0:
            for b in 0..<blocks { q4_0(src + b * stride, out + b * n) }
        case .q4_1:
            for b in 0..<blocks { q4_1(src + b * stride, out + b * n) }
        case .q5_0:
            for b in 0..<blocks { q5_0(src + b * stride, out + b * n) }
        case .q5_1:
            for b in 0..<blocks { q5_1(src + b * stride, out + b * n) }
        case .q4_K:
            for b in 0..<blocks { q4_K(src + b * stride, out + b * n) }
        case .q5_K:
            for b in 0..<blocks { q5_K(src + b * stride, out + b * n) }
        case .q6_K:
            for b in 0..<blocks { q6_K(src + b * stride, out + b * n) }
        case .q8_1, .q2_K, .q3_K, .q8_K:
            preconditionFailure("\(type.name) is not supported; callers check isSupported")
        }
    }

    @inline(__always) static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    @inline(__always) static func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        p.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// d (f16), 32 × int8.
    static func q8_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        for j in 0..<32 { y[j] = d * Float(p.load(fromByteOffset: 2 + j, as: Int8.self)) }
    }

    /// d (f16), 16 bytes of nibbles: low nibbles are values 0…15, high nibbles 16…31, offset by 8.
    static func q4_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        for j in 0..<16 {
            let q = byte(p, 2 + j)
            y[j] = d * Float(Int(q & 0xF) - 8)
            y[j + 16] = d * Float(Int(q >> 4) - 8)
        }
    }

    /// d, m (f16), 16 bytes of nibbles: x = d·q + m.
    static func q4_1(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), m = half(p, 2)
        for j in 0..<16 {
            let q = byte(p, 4 + j)
            y[j] = d * Float(q & 0xF) + m
            y[j + 16] = d * Float(q >> 4) + m
        }
    }

    /// d (f16), 32 high bits, 16 bytes of nibbles; 5-bit values offset by 16.
    static func q5_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        let qh = p.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
        for j in 0..<16 {
            let q = byte(p, 6 + j)
            let h0 = ((qh >> UInt32(j)) << 4) & 0x10
            let h1 = (qh >> UInt32(j + 12)) & 0x10
            y[j] = d * Float(Int32(UInt32(q & 0xF) | h0) - 16)
            y[j + 16] = d * Float(Int32(UInt32(q >> 4) | h1) - 16)
        }
    }

    /// d, m (f16), 32 high bits, 16 bytes of nibbles: x = d·q + m.
    static func q5_1(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), m = half(p, 2)
        let qh = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        for j in 0..<16 {
            let q = byte(p, 8 + j)
            let h0 = ((qh >> UInt32(j)) << 4) & 0x10
            let h1 = (qh >> UInt32(j + 12)) & 0x10
            y[j] = d * Float(UInt32(q & 0xF) | h0) + m
            y[j + 16] = d * Float(UInt32(q >> 4) | h1) + m
        }
    }

    /// The 6-bit scale and min of sub-block `j` (0…7) from the 12 packed bytes of a Q4_K/Q5_K block.
    @inline(__always) static func scaleMinK4(_ j: Int, _ s: UnsafeRawPointer) -> (Float, Float) {
        if j < 4 {
            return (Float(byte(s, j) & 63), Float(byte(s, j + 4) & 63))
        }
        let sc = (byte(s, j + 4) & 0xF) | ((byte(s, j - 4) >> 6) << 4)
        let mn = (byte(s, j + 4) >> 4) | ((byte(s, j) >> 6) << 4)
        return (Float(sc), Float(mn))
    }

    /// d, dmin (f16), 12 bytes of packed 6-bit scales and mins, 128 bytes of nibbles; 8 sub-blocks of 32.
    static func q4_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), dmin = half(p, 2)
        let scales = p + 4
        var q = p + 16
        var out = y
        for pair in 0..<4 {
            let (s1, m1) = scaleMinK4(2 * pair, scales)
            let (s2, m2) = scaleMinK4(2 * pair + 1, scales)
            let d1 = d * s1, min1 = dmin * m1, d2 = d * s2, min2 = dmin * m2
            for l in 0..<32 { out[l] = d1 * Float(byte(q, l) & 0xF) - min1 }
            for l in 0..<32 { out[32 + l] = d2 * Float(byte(q, l) >> 4) - min2 }
            q += 32
            out += 64
        }
    }

    /// d, dmin (f16), 12 bytes of scales, 32 bytes of high bits, 128 bytes of nibbles.
    static func q5_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), dmin = half(p, 2)
        let scales = p + 4
        let qh = p + 16
        var ql = p + 48
        var out = y
        var u1: UInt8 = 1, u2: UInt8 = 2
        for pair in 0..<4 {
            let (s1, m1) = scaleMinK4(2 * pair, scales)
            let (s2, m2) = scaleMinK4(2 * pair + 1, scales)
            let d1 = d * s1, min1 = dmin * m1, d2 = d * s2, min2 = dmin * m2
            for l in 0..<32 {
                let hi: UInt8 = byte(qh, l) & u1 != 0 ? 16 : 0
                out[l] = d1 * Float((byte(ql, l) & 0xF) + hi) - min1
            }
            for l in 0..<32 {
                let hi: UInt8 = byte(qh, l) & u2 != 0 ? 16 : 0
                out[32 + l] = d2 * Float((byte(ql, l) >> 4) + hi) - min2
            }
            ql += 32
            out += 64
            u1 <<= 2
            u2 <<= 2
        }
    }

    /// 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales, d (f16); values offset by 32.
    static func q6_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 208)
        var ql = p
        var qh = p + 128
        var sc = p + 192
        var out = y
        for _ in 0..<2 {
            for l in 0..<32 {
                let s = l / 16
                let h = Int(byte(qh, l))
                let q1 = Int(byte(ql, l) & 0xF) | ((h & 3) << 4)
                let q2 = Int(byte(ql, l + 32) & 0xF) | (((h >> 2) & 3) << 4)
                let q3 = Int(byte(ql, l) >> 4) | (((h >> 4) & 3) << 4)
                let q4 = Int(byte(ql, l + 32) >> 4) | (((h >> 6) & 3) << 4)
                out[l] = d * Float(sc.load(fromByteOffset: s, as: Int8.self)) * Float(q1 - 32)
                out[l + 32] = d * Float(sc.load(fromByteOffset: s + 2, as: Int8.self)) * Float(q2 - 32)
                out[l + 64] = d * Float(sc.load(fromByteOffset: s + 4, as: Int8.self)) * Float(q3 - 32)
                out[l + 96] = d * Float(sc.load(fromByteOffset: s + 6, as: Int8.self)) * Float(q4 - 32)
            }
            out += 128
            ql += 64
            qh += 32
            sc += 8
        }
    }
}
