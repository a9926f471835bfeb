import CSIMD
import Foundation

/// The element-wise pieces of a decoder block.
enum Kernels {
    /// `out = x / sqrt(mean(x²) + eps) * weight` over each of `rows` rows of `n` values.
    /// The sum of squares is accumulated in double precision, as ggml does.
    static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, n: Int, eps: Float,
                        into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let xr = x + r * n, yr = out + r * n
            var sum: Double = 0
            for i in 0..<n { sum += Double(xr[i] * xr[i]) }
            let scale = 1 / (Float(sum / Double(n)) + eps).squareRoot()
            for i in 0..<n { yr[i] = xr[i] * scale * weight[i] }
        }
    }

    /// `out[i] = silu(gate[i]) * up[i]` for `count` values (CSIMD, on the active `SIMDTier`).
    static func swiGLU(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>) {
        csimd_swiglu(gate, up, Int64(count), out)
    }

    /// In-place softmax over the first `valid` entries of a row (the sum in double precision, as ggml, from float
    /// partial sums of at most 16 values per lane); entries from `valid` to `n` are set to zero. `roundedToHalf`
    /// also rounds each probability to float16 in the scaling pass. CSIMD, on the active `SIMDTier`.
    static func softmaxPrefix(_ row: UnsafeMutablePointer<Float>, valid: Int, n: Int, roundedToHalf: Bool = false) {
        csimd_softmax_prefix(row, Int64(valid), Int64(n), roundedToHalf ? 1 : 0)
    }

    /// `x[i] += y[i]`.
    static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += y[i] }
    }
}

extension Kernels {
    /// Rounds each value to the nearest float16 and back (CSIMD: exactly IEEE conversion, without F16C).
    static func roundToHalf(_ x: UnsafeMutablePointer<Float>, count: Int) {
        csimd_round_to_half(x, Int64(count))
    }
}

extension Kernels {
    /// Σ a[i]·b[i] (CSIMD: eight partial sums, products and sums rounded separately, then the tail).
    @inline(__always) static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        csimd_dot(a, b, Int64(count))
    }

    /// `out[0..<width] = Σ_j weights[j] · rows[j, :]` over `count` rows of `width` values (CSIMD).
    static func weightedSum(_ weights: UnsafePointer<Float>, rows: UnsafePointer<Float>, count: Int, width: Int,
                            into out: UnsafeMutablePointer<Float>) {
        csimd_weighted_sum(weights, rows, Int64(count), Int64(width), out)
    }

    /// `dot` with `b` in float16 (IEEE bits): the same value as `dot` on `b` widened (CSIMD, F16C on the x86 tiers).
    @inline(__always) static func dot(_ a: UnsafePointer<Float>, half b: UnsafePointer<UInt16>, count: Int) -> Float {
        csimd_dot_half(a, b, Int64(count))
    }

    /// `weightedSum` with the rows in float16 (IEEE bits): the same values as `weightedSum` on the rows widened.
    static func weightedSum(_ weights: UnsafePointer<Float>, halfRows rows: UnsafePointer<UInt16>, count: Int, width: Int,
                            into out: UnsafeMutablePointer<Float>) {
        csimd_weighted_sum_half(weights, rows, Int64(count), Int64(width), out)
    }
}
