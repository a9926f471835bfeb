/// Vectorized elementary functions for the forward pass (eight lanes, no library calls).
enum VectorMath {
    /// The largest of the eight lanes (a library call where `SIMD.max()` is used; this stays inline).
    @inline(__always) static func largest(_ v: SIMD8<Float>) -> Float {
        let m4 = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
        let m2 = m4.lowHalf.replacing(with: m4.highHalf, where: m4.highHalf .> m4.lowHalf)
        return Swift.max(m2[0], m2[1])
    }

    /// e^x to about 2 ulp for x in [-87, 88] (smaller x underflow towards 0, as the softmax needs).
    /// Range reduction x = n·ln2 + r with |r| ≤ ln2/2, then a degree-6 polynomial for e^r and 2^n from bits.
    @inline(__always) static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let clamped = x.replacing(with: -87, where: x .< -87).replacing(with: 88, where: x .> 88)
        // Round x·log2(e) to the nearest integer by adding and subtracting 1.5·2²³; the added form's low
        // mantissa bits hold n + 0x4B400000.
        // Separate multiplies and adds (no fused multiply-add: the x86-64 baseline has none, and every build
        // must compute the same values): n·0.693145751953125 is exact (n ≤ 127, the constant has 16 bits).
        let shifted = clamped * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        let r = (clamped - n * 0.693_145_75) - n * 1.428_606_8e-6
        var p = r * (1.0 / 720) + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        return p * unsafeBitCast(exponent, to: SIMD8<Float>.self)
    }

    /// Each lane rounded to the nearest float16 (ties to even) and widened back: the value IEEE conversion gives
    /// (`Float(Float16(x))`), computed with float adds and integer masks only, so that builds for the x86-64
    /// baseline (no F16C) stay vectorized. |x| is rounded to 11 significant bits by adding and subtracting a power of
    /// two 13 binades above it (at least 2⁻¹, the quantum 2⁻²⁴ of float16's subnormals); at or beyond 65520 it
    /// becomes infinity; NaN stays NaN.
    @inline(__always) static func roundedToHalf(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        let sign = bits & 0x8000_0000, magnitudeBits = bits & 0x7FFF_FFFF
        let magnitude = unsafeBitCast(magnitudeBits, to: SIMD8<Float>.self)
        var magicBits = (magnitudeBits & 0x7F80_0000) &+ (13 << 23)
        magicBits.replace(with: 0x3F00_0000, where: magicBits .< 0x3F00_0000)
        let magic = unsafeBitCast(magicBits, to: SIMD8<Float>.self)
        var rounded = (magnitude + magic) - magic
        rounded.replace(with: .infinity, where: magnitude .>= 65520)
        rounded.replace(with: magnitude, where: magnitude .!= magnitude)
        return unsafeBitCast(unsafeBitCast(rounded, to: SIMD8<UInt32>.self) | sign, to: SIMD8<Float>.self)
    }
}
