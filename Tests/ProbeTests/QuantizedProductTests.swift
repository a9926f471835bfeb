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
        let rows = 40, cols = 96, count = 13
        let data = randomQ41(rows: rows, cols: cols, seed: 3)
        let weight = data.withUnsafeBytes { WeightMatrix(rows: rows, cols: cols, type: .q4_1, data: $0) }
        var rng = SeededGenerator(seed: 11)
        let x: [Float] = (0..<(count * cols)).map { _ in (rng.nextFloat() * 2 - 1) * 4 }
        let saved = ComputeThreads.current
        defer { ComputeThreads.set(saved) }
        for threads in [1, 2] {
            ComputeThreads.set(threads)
            let scratch = MatmulScratch()
            var batch = [Float](repeating: 0, count: count * rows)
            x.withUnsafeBufferPointer { xp in
                batch.withUnsafeMutableBufferPointer { weight.apply(xp.baseAddress!, count: count, into: $0.baseAddress!, scratch: scratch) }
            }
            var worst: Float = 0
            for t in 0..<count {
                var single = [Float](repeating: 0, count: rows)
                x.withUnsafeBufferPointer { xp in
                    single.withUnsafeMutableBufferPointer {
                        weight.apply(xp.baseAddress! + t * cols, count: 1, into: $0.baseAddress!, scratch: scratch)
                    }
                }
                for r in 0..<rows { worst = max(worst, abs(batch[t * rows + r] - single[r]) / max(1, abs(single[r]))) }
            }
            // Only the order of float additions differs (the block-minimum term included).
            XCTAssertLessThan(worst, 2e-6, "threads \(threads)")
        }
    }
}
