import Foundation
import XCTest
@testable import Probe

/// A quantized weight multiplies the same whether the batch is small (integer kernels, llama.cpp's per-block
/// arithmetic) or large (dequantized panels through BLAS plus the Q8_1 sum correction), on one thread or two.
final class QuantizedProductTests: XCTestCase {
    /// Random Q4_1 blocks (float16 scale and minimum, 32 nibbles) for a `rows × cols` weight.
    func randomQ41(rows: Int, cols: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        var bytes: [UInt8] = []
        for _ in 0..<(rows * cols / 32) {
            let d = Float16(Float(rng.next() % 1000 + 1) / 20_000)
            let m = Float16(-Float(rng.next() % 1000) / 4_000)
            withUnsafeBytes(of: d.bitPattern.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: m.bitPattern.littleEndian) { bytes += $0 }
            for _ in 0..<16 { bytes.append(UInt8(truncatingIfNeeded: rng.next())) }
        }
        return bytes
    }

    func testLargeBatchEqualsRowByRowIntegerProducts() {
        let rows = 40, cols = 96, count = 13, nb = cols / 32
        let data = randomQ41(rows: rows, cols: cols, seed: 3)
        let weight = data.withUnsafeBytes { WeightMatrix(rows: rows, cols: cols, type: .q4_1, data: $0) }
        var rng = SeededGenerator(seed: 11)
        let x: [Float] = (0..<(count * cols)).map { _ in (rng.nextFloat() * 2 - 1) * 4 }
        // The two paths add the same terms in different orders (and the panels correct the block sums in float),
        // so each entry may differ by at most twice the forward error bound of a float sum of its terms,
        // γ·Σ|term| with γ = n·u / (1 − n·u), n the number of additions, u = 2⁻²⁴.
        var w = [Float](repeating: 0, count: rows * cols)
        data.withUnsafeBytes { Dequantize.run(.q4_1, from: $0, into: &w, count: rows * cols) }
        let activations = QuantizedActivations()
        var seen = [Float](repeating: 0, count: count * cols)
        seen.withUnsafeMutableBufferPointer { s in x.withUnsafeBufferPointer { activations.roundTrip($0.baseAddress!, into: s.baseAddress!, rows: count, cols: cols) } }
        let minimum = { (r: Int, b: Int) -> Double in
            let at = (r * nb + b) * 20 + 2
            return Double(Float(Float16(bitPattern: UInt16(data[at]) | UInt16(data[at + 1]) << 8)))
        }
        let n = Double(cols + 2 * nb), u = 0x1p-24, gamma = n * u / (1 - n * u)
        let saved = ComputeThreads.current
        defer { ComputeThreads.set(saved) }
        for threads in [1, 2] {
            ComputeThreads.set(threads)
            let scratch = MatmulScratch()
            var batch = [Float](repeating: 0, count: count * rows)
            x.withUnsafeBufferPointer { xp in
                batch.withUnsafeMutableBufferPointer { weight.apply(xp.baseAddress!, count: count, into: $0.baseAddress!, scratch: scratch) }
            }
            for t in 0..<count {
                var single = [Float](repeating: 0, count: rows)
                x.withUnsafeBufferPointer { xp in
                    single.withUnsafeMutableBufferPointer {
                        weight.apply(xp.baseAddress! + t * cols, count: 1, into: $0.baseAddress!, scratch: scratch)
                    }
                }
                for r in 0..<rows {
                    var magnitude = 0.0
                    for k in 0..<cols { magnitude += abs(Double(w[r * cols + k]) * Double(seen[t * cols + k])) }
                    for b in 0..<nb {   // the block-minimum term, with its float correction
                        let blockSum = (0..<32).reduce(0.0) { $0 + Double(seen[t * cols + b * 32 + $1]) }
                        magnitude += 2 * abs(minimum(r, b)) * (abs(blockSum) + 1e-3)
                    }
                    XCTAssertLessThanOrEqual(abs(Double(batch[t * rows + r]) - Double(single[r])), 2 * gamma * magnitude,
                                             "threads \(threads), row \(t), output \(r)")
                }
            }
        }
    }
}
