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

    /// In-place softmax over the first `valid` entries of a row (the sum in double precision, as ggml, from float
    /// partial sums of at most 16 values per lane); entries from `valid` to `n` are set to zero. Eight lanes at a
    /// time: the maximum, the exponentials and their sums, and the scaling each one pass. `roundedToHalf` also
    /// rounds each probability to float16 in the scaling pass (`roundToHalf` after the softmax, without another pass).
    static func softmaxPrefix(_ row: UnsafeMutablePointer<Float>, valid: Int, n: Int, roundedToHalf: Bool = false) {
        let raw = UnsafeMutableRawPointer(row)
        let whole = valid & ~7
        var mv = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i < whole {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            mv.replace(with: v, where: v .> mv)
            i += 8
        }
        var m = VectorMath.largest(mv)
        for j in whole..<valid where row[j] > m { m = row[j] }
        mv = SIMD8<Float>(repeating: m)
        // Float sums over runs of at most 256 values (two accumulators, so that the additions' latency does not
        // bound the loop), each run's sums then added in double precision.
        var a0 = SIMD4<Double>(), a1 = SIMD4<Double>(), a2 = SIMD4<Double>(), a3 = SIMD4<Double>()
        i = 0
        while i < whole {
            let runEnd = Swift.min(whole, i + 256)
            var f0 = SIMD8<Float>(), f1 = SIMD8<Float>()
            while i + 16 <= runEnd {
                let e0 = VectorMath.exp(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - mv)
                let e1 = VectorMath.exp(raw.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self) - mv)
                raw.storeBytes(of: e0, toByteOffset: i * 4, as: SIMD8<Float>.self)
                raw.storeBytes(of: e1, toByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
                f0 += e0
                f1 += e1
                i += 16
            }
            if i < runEnd {
                let e = VectorMath.exp(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - mv)
                raw.storeBytes(of: e, toByteOffset: i * 4, as: SIMD8<Float>.self)
                f0 += e
                i += 8
            }
            a0 += SIMD4<Double>(f0.lowHalf)
            a1 += SIMD4<Double>(f0.highHalf)
            a2 += SIMD4<Double>(f1.lowHalf)
            a3 += SIMD4<Double>(f1.highHalf)
        }
        var sum = ((a0 + a1) + (a2 + a3)).sum()
        for j in whole..<valid {
            let e = expf(row[j] - m)
            row[j] = e
            sum += Double(e)
        }
        let inv = Float(1 / sum)
        let iv = SIMD8<Float>(repeating: inv)
        i = 0
        while i < whole {
            var v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * iv
            if roundedToHalf { v = VectorMath.roundedToHalf(v) }
            raw.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        for j in whole..<valid { row[j] = roundedToHalf ? Float(Float16(row[j] * inv)) : row[j] * inv }
        if valid < n { (row + valid).update(repeating: 0, count: n - valid) }
    }

    /// `x[i] += y[i]`.
    static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += y[i] }
    }
}

extension Kernels {
    /// Rounds each value to the nearest float16 and back.
    static func roundToHalf(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let raw = UnsafeMutableRawPointer(x)
        var i = 0
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            raw.storeBytes(of: VectorMath.roundedToHalf(v), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            x[i] = Float(Float16(x[i]))
            i += 1
        }
    }
}

extension Kernels {
    /// Σ a[i]·b[i]. Like every float kernel here, separate multiplies and adds (no fused multiply-add, which the
    /// x86-64 baseline lacks): every build computes the same values.
    @inline(__always) static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < count { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// `out[0..<width] = Σ_j weights[j] · rows[j, :]` over `count` rows of `width` values.
    static func weightedSum(_ weights: UnsafePointer<Float>, rows: UnsafePointer<Float>, count: Int, width: Int,
                            into out: UnsafeMutablePointer<Float>) {
        if width == 64 {
            // Decoding's common case (d_head 64): the whole output row stays in eight vector registers.
            var acc = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(),
                       SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
            for j in 0..<count {
                let w = SIMD8<Float>(repeating: weights[j]), r = UnsafeRawPointer(rows + j * 64)
                acc.0 += w * r.loadUnaligned(fromByteOffset: 0, as: SIMD8<Float>.self)
                acc.1 += w * r.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                acc.2 += w * r.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                acc.3 += w * r.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
                acc.4 += w * r.loadUnaligned(fromByteOffset: 128, as: SIMD8<Float>.self)
                acc.5 += w * r.loadUnaligned(fromByteOffset: 160, as: SIMD8<Float>.self)
                acc.6 += w * r.loadUnaligned(fromByteOffset: 192, as: SIMD8<Float>.self)
                acc.7 += w * r.loadUnaligned(fromByteOffset: 224, as: SIMD8<Float>.self)
            }
            let o = UnsafeMutableRawPointer(out)
            o.storeBytes(of: acc.0, toByteOffset: 0, as: SIMD8<Float>.self)
            o.storeBytes(of: acc.1, toByteOffset: 32, as: SIMD8<Float>.self)
            o.storeBytes(of: acc.2, toByteOffset: 64, as: SIMD8<Float>.self)
            o.storeBytes(of: acc.3, toByteOffset: 96, as: SIMD8<Float>.self)
            o.storeBytes(of: acc.4, toByteOffset: 128, as: SIMD8<Float>.self)
            o.storeBytes(of: acc.5, toByteOffset: 160, as: SIMD8<Float>.self)
            o.storeBytes(of: acc.6, toByteOffset: 192, as: SIMD8<Float>.self)
            o.storeBytes(of: acc.7, toByteOffset: 224, as: SIMD8<Float>.self)
            return
        }
        out.update(repeating: 0, count: width)
        for j in 0..<count {
            let w = weights[j], r = rows + j * width
            for k in 0..<width { out[k] += w * r[k] }
        }
    }

}
