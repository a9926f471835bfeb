/// Vector helpers of the Swift kernels (the float kernels themselves are CSIMD's, chosen per `SIMDTier`).
enum VectorMath {
    /// The largest of the eight lanes (a library call where `SIMD.max()` is used; this stays inline).
    @inline(__always) static func largest(_ v: SIMD8<Float>) -> Float {
        let m4 = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
        let m2 = m4.lowHalf.replacing(with: m4.highHalf, where: m4.highHalf .> m4.lowHalf)
        return Swift.max(m2[0], m2[1])
    }
}
