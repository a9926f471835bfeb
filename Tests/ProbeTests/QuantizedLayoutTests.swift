import Foundation
import XCTest
@testable import Probe

/// The interleaved layout of `QuantizedMatrix` gives back exactly the weights GGUF's own dequantization gives,
/// for every 32-block type, through each of its readers (a row, rows row-major, rows transposed as a GEMM panel),
/// also for a last group of fewer than 16 rows; and a product with `accumulate` adds to what was there.
final class QuantizedLayoutTests: XCTestCase {
    func testEveryReaderGivesGGUFsDequantizedWeights() {
        let rows = 40, cols = 96   // two whole groups of 16 and one of 8
        for type in [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0] {
            let data = randomQuantizedBlocks(type, rows: rows, cols: cols, seed: 5)
            var expected = [Float](repeating: 0, count: rows * cols)
            data.withUnsafeBytes { Dequantize.run(type, from: $0, into: &expected, count: rows * cols) }
            let matrix = data.withUnsafeBytes { QuantizedMatrix(type: type, rows: rows, cols: cols, data: $0) }

            var rowMajor = [Float](repeating: .nan, count: rows * cols)
            rowMajor.withUnsafeMutableBufferPointer { matrix.dequantize(rows: 0..<rows, into: $0.baseAddress!) }
            XCTAssertEqual(rowMajor, expected, "\(type.name) rows")

            var single = [Float](repeating: .nan, count: cols)
            single.withUnsafeMutableBufferPointer { matrix.row(37, into: $0.baseAddress!) }
            XCTAssertEqual(single, Array(expected[(37 * cols)..<(38 * cols)]), "\(type.name) row 37")

            // Rows 16..<40 transposed: a whole group, then the short one.
            let first = 16, n = rows - first
            var panel = [Float](repeating: .nan, count: n * cols)
            panel.withUnsafeMutableBufferPointer { matrix.dequantizeColumns(rows: first..<rows, into: $0.baseAddress!, stride: n) }
            var transposed = [Float](repeating: 0, count: n * cols)
            for r in 0..<n { for k in 0..<cols { transposed[k * n + r] = expected[(first + r) * cols + k] } }
            XCTAssertEqual(panel, transposed, "\(type.name) columns")
        }
    }

    func testAccumulateAddsTheProductToTheOutput() {
        let rows = 40, cols = 96
        var rng = SeededGenerator(seed: 9)
        for type in [GGMLType.q4_1, .q8_0] {
            let data = randomQuantizedBlocks(type, rows: rows, cols: cols, seed: 7)
            let weight = data.withUnsafeBytes { WeightMatrix(rows: rows, cols: cols, type: type, data: $0) }
            for count in [1, 3, 13] {
                let x: [Float] = (0..<(count * cols)).map { _ in rng.nextFloat() * 2 - 1 }
                let base: [Float] = (0..<(count * rows)).map { _ in rng.nextFloat() * 10 - 5 }
                let scratch = MatmulScratch()
                var product = [Float](repeating: 0, count: count * rows), sum = base
                x.withUnsafeBufferPointer { xp in
                    product.withUnsafeMutableBufferPointer { weight.apply(xp.baseAddress!, count: count, into: $0.baseAddress!, scratch: scratch) }
                    sum.withUnsafeMutableBufferPointer {
                        weight.apply(xp.baseAddress!, count: count, into: $0.baseAddress!, scratch: scratch, accumulate: true)
                    }
                }
                for i in 0..<(count * rows) {
                    // The sum first, then added: exactly the separate addition.
                    XCTAssertEqual(sum[i], base[i] + product[i], "\(type.name) batch \(count) entry \(i)")
                }
                // Float32 arithmetic through BLAS (beta = 1) adds as it goes: equal up to rounding.
                var product32 = [Float](repeating: 0, count: count * rows), sum32 = base
                x.withUnsafeBufferPointer { xp in
                    product32.withUnsafeMutableBufferPointer {
                        weight.apply(xp.baseAddress!, count: count, into: $0.baseAddress!, scratch: scratch, numerics: .float32)
                    }
                    sum32.withUnsafeMutableBufferPointer {
                        weight.apply(xp.baseAddress!, count: count, into: $0.baseAddress!, scratch: scratch, numerics: .float32, accumulate: true)
                    }
                }
                for i in 0..<(count * rows) {
                    XCTAssertEqual(sum32[i], base[i] + product32[i], accuracy: 1e-5 * max(1, abs(sum32[i])),
                                   "\(type.name) float32 batch \(count) entry \(i)")
                }
            }
        }
    }
}
