/// Vectorized elementary functions for the forward pass (eight lanes, no library calls).
enum VectorMath {
    /// e^x to about 2 ulp for x in [-87, 88] (smaller x underflow towards 0, as the softmax needs).
    /// Range reduction x = n·ln2 + r with |r| ≤ ln2/2, then a degree-6 polynomial for e^r and 2^n from bits.
    /// The largest of the eight lanes (a library call where `SIMD.max()` is used; this stays inline).
    @inline(__always) static func largest(_ v: SIMD8<Float>) -> Float {
        let m4 = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
        let m2 = m4.lowHalf.replacing(with: m4.highHalf, where: m4.highHalf .> m4.lowHalf)
        return Swift.max(m2[0], m2[1])
    }

    @inline(__always) static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let clamped = x.replacing(with: -87, where: x .< -87).replacing(with: 88, where: x .> 88)
        // Round x·log2(e) to the nearest integer by adding and subtracting 1.5·2²³; the added form's low
        // mantissa bits hold n + 0x4B400000.
        // Fused multiply-adds throughout (one rounding each).
        let shifted = SIMD8<Float>(repeating: 12_582_912).addingProduct(clamped, 1.442_695_04)
        let n = shifted - 12_582_912
        let r = clamped.addingProduct(n, -0.693_145_75).addingProduct(n, -1.428_606_8e-6)
        var p = SIMD8<Float>(repeating: 1.0 / 120).addingProduct(r, 1.0 / 720)
        p = SIMD8<Float>(repeating: 1.0 / 24).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 1.0 / 6).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 0.5).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 1).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 1).addingProduct(p, r)
        let exponent = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        return p * unsafeBitCast(exponent, to: SIMD8<Float>.self)
    }
}
