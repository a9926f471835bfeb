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

    /// `out[i] = silu(gate[i]) * up[i]` for `count` values.
    static func swiGLU(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 8 <= count {
            let g = UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD8<Float>.self)
            let u = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD8<Float>.self)
            let y = g / (1 + VectorMath.exp(-g)) * u
            UnsafeMutableRawPointer(out + i).storeBytes(of: y, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            let g = gate[i]
            out[i] = g / (1 + expf(-g)) * up[i]
            i += 1
        }
    }

    /// In-place softmax over the first `valid` entries of a row (the sum accumulated in double precision, as
    /// ggml does); entries from `valid` to `n` are set to zero.
    static func softmaxPrefix(_ row: UnsafeMutablePointer<Float>, valid: Int, n: Int) {
        var m = -Float.infinity
        for i in 0..<valid where row[i] > m { m = row[i] }
        var sum: Double = 0
        var i = 0
        let mv = SIMD8<Float>(repeating: m)
        while i + 8 <= valid {
            let e = VectorMath.exp(UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self) - mv)
            UnsafeMutableRawPointer(row + i).storeBytes(of: e, as: SIMD8<Float>.self)
            sum += Double(e.sum())
            i += 8
        }
        while i < valid {
            let e = expf(row[i] - m)
            row[i] = e
            sum += Double(e)
            i += 1
        }
        let inv = Float(1 / sum)
        for i in 0..<valid { row[i] *= inv }
        for i in valid..<n { row[i] = 0 }
    }

    /// `x[i] += y[i]`.
    static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += y[i] }
    }

    /// Adds `bias` (length `n`) to each of `rows` rows.
    static func addBias(_ x: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, n: Int) {
        for r in 0..<rows { add(x + r * n, bias, count: n) }
    }
}

extension Kernels {
    /// Rounds each value to the nearest float16 and back.
    static func roundToHalf(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = Float(Float16(x[i])) }
    }
}
