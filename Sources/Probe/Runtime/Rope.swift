import Foundation

/// Rotary position embedding as llama.cpp computes it: angle `p · base^(-2i/d)` for pair `i`, with the
/// per-pair factor applied by repeated multiplication in float32, as ggml does.
struct Rope: Sendable {
    let layout: RopeLayout
    let dims: Int
    let base: Float

    /// Rotates `heads` heads of `dHead` values (only the first `dims` of each) in place for `position`.
    func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, dHead: Int, position: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let half = dims / 2
        for h in 0..<heads {
            let v = x + h * dHead
            switch layout {
            case .adjacentPairs:
                for i in 0..<half {
                    let a = v[2 * i], b = v[2 * i + 1]
                    v[2 * i] = a * cos[i] - b * sin[i]
                    v[2 * i + 1] = a * sin[i] + b * cos[i]
                }
            case .neoxHalves:
                for i in 0..<half {
                    let a = v[i], b = v[i + half]
                    v[i] = a * cos[i] - b * sin[i]
                    v[i + half] = a * sin[i] + b * cos[i]
                }
            }
        }
    }

    /// Fills `cos` and `sin` (length dims/2) with the angles of `position`.
    func angles(position: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let scale = powf(base, -2 / Float(dims))
        var theta = Float(position)
        for i in 0..<dims / 2 {
            cos[i] = cosf(theta)
            sin[i] = sinf(theta)
            theta *= scale
        }
    }
}
