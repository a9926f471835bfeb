import Foundation
import XCTest
@testable import Probe

/// Products of a quantized weight in llama.cpp's arithmetic (8-bit activations, integer block sums): a batch
/// row equals the same row alone, on one thread or two; and each entry is, within the rounding of a float sum,
/// the product of GGUF's own dequantized weights with the quantized activations, for every 32-block type.
final class QuantizedProductTests: XCTestCase {
    /// `weight · x` for `count` rows of `x` (length `count × weight.cols`), in llama.cpp's arithmetic.
    func product(_ weight: WeightMatrix, _ x: ArraySlice<Float>, count: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: count * weight.rows)
        Array(x).withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { weight.apply(xp.baseAddress!, count: count, into: $0.baseAddress!, scratch: MatmulScratch()) }
        }
        return y
    }

    func testBatchRowsEqualRowsAlone() {
        let rows = 40, cols = 96, count = 13   // a short last group of 8 rows; tiles of four rows and a tail
        let saved = ComputeThreads.current
        defer { ComputeThreads.set(saved) }
        for type in [GGMLType.q4_1, .q8_0] {
            let data = randomQuantizedBlocks(type, rows: rows, cols: cols, seed: 3)
            let weight = data.withUnsafeBytes { WeightMatrix(rows: rows, cols: cols, type: type, data: $0) }
            var rng = SeededGenerator(seed: 11)
            let x: [Float] = (0..<(count * cols)).map { _ in (rng.nextFloat() * 2 - 1) * 4 }
            for threads in [1, 2] {
                ComputeThreads.set(threads)
                let batch = product(weight, x[...], count: count)
                for t in 0..<count {
                    let single = product(weight, x[(t * cols)..<((t + 1) * cols)], count: 1)
                    XCTAssertEqual(Array(batch[(t * rows)..<((t + 1) * rows)]), single, "\(type.name), threads \(threads), row \(t)")
                }
            }
        }
    }

    func testProductsAreGGUFWeightsTimesQuantizedActivations() {
        let rows = 40, cols = 96, count = 6, nb = cols / 32
        for type in [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0] {
            let data = randomQuantizedBlocks(type, rows: rows, cols: cols, seed: 5)
            let weight = data.withUnsafeBytes { WeightMatrix(rows: rows, cols: cols, type: type, data: $0) }
            var w = [Float](repeating: 0, count: rows * cols)
            data.withUnsafeBytes { Dequantize.run(type, from: $0, into: &w, count: rows * cols) }
            var rng = SeededGenerator(seed: 13)
            let x: [Float] = (0..<(count * cols)).map { _ in (rng.nextFloat() * 2 - 1) * 4 }
            let activations = QuantizedActivations()
            x.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, rows: count, cols: cols) }
            let y = product(weight, x[...], count: count)
            // Reference in float64: Σ_k w·(d_x·q_x), plus, for weights with block minima, llama.cpp's Q8_1 sum
            // s = float16(d_x·Σq) in place of d_x·Σq: + m·(s − d_x·Σq) per block. Bound: γ·Σ|term| with
            // γ = n·u/(1 − n·u), u = 2⁻²⁴, n = 4 roundings per block.
            let n = Double(4 * nb), u = 0x1p-24, gamma = n * u / (1 - n * u)
            let hasMinimum = type == .q4_1 || type == .q5_1
            for t in 0..<count {
                for r in 0..<rows {
                    var exact = 0.0, magnitude = 0.0
                    for b in 0..<nb {
                        let block = t * nb + b, d = Double(activations.scales[block])
                        for k in (b * 32)..<(b * 32 + 32) {
                            let term = Double(w[r * cols + k]) * d * Double(activations.values[t * cols + k])
                            exact += term
                            magnitude += abs(term)
                        }
                        if hasMinimum {
                            let at = (r * nb + b) * type.bytesPerBlock + 2
                            let m = Double(Float(Float16(bitPattern: UInt16(data[at]) | UInt16(data[at + 1]) << 8)))
                            let s = Double(activations.scaledSums[block])
                            exact += m * (s - d * Double(activations.sums[block]))
                            magnitude += abs(m * s)
                        }
                    }
                    XCTAssertEqual(Double(y[t * rows + r]), exact, accuracy: gamma * magnitude + 1e-30,
                                   "\(type.name), row \(t), output \(r)")
                }
            }
        }
    }
}
