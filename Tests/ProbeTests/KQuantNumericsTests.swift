import Foundation
import XCTest
@testable import Probe

/// How K-quant weights and stacks of mixed types multiply (the Qwen2.5 Q4_K_M mixes have both): with
/// `Numerics.llamaCpp` activations are quantized as llama.cpp's Q8_K for a K-quant product, and a fused Q/K/V whose
/// parts have different types multiplies each part as its own type. Weights from the dequantization fixture
/// (Tests/Fixtures/dequant, values from the `gguf` package).
final class KQuantNumericsTests: XCTestCase {
    let dir = TestPaths.fixtures.appendingPathComponent("dequant")

    /// llama.cpp's `quantize_row_q8_K_ref` then `d·q`, transcribed from its C code (nearest_int's magic number).
    func referenceQ8K(_ x: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for b in stride(from: 0, to: x.count, by: 256) {
            var amax: Float = 0, max: Float = 0
            for j in 0..<256 where abs(x[b + j]) > amax { amax = abs(x[b + j]); max = x[b + j] }
            if amax == 0 { continue }
            let iscale: Float = -127 / max
            for j in 0..<256 {
                let v = iscale * x[b + j] + 12_582_912
                let i = Int32(bitPattern: v.bitPattern & 0x007f_ffff) - 0x0040_0000
                out[b + j] = (1 / iscale) * Float(Swift.min(127, i))
            }
        }
        return out
    }

    func randomActivations(_ n: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 250_000
        }
    }

    func testQ8KQuantizationIsLlamaCpps() {
        var x = randomActivations(1024, seed: 7)
        x[300] = -9.5  // the extreme always maps to −127 (d takes its sign)
        x.replaceSubrange(512..<768, with: [Float](repeating: 0, count: 256))
        x[800] = 9; x[900] = -9  // a tie of magnitudes: the first one sets the sign
        let want = referenceQ8K(x)
        let q = SuperBlockActivations()
        x.withUnsafeBufferPointer { q.quantize($0.baseAddress!, rows: 2, cols: 512) }
        XCTAssertEqual([q.rows, q.cols], [2, 512])
        let values = (0..<1024).map { Int(q.values[$0]) }
        XCTAssertEqual((0..<1024).map { q.scales[$0 / 256] * Float(values[$0]) }, want)
        for s in 0..<64 {
            XCTAssertEqual(Int(q.sums[s]), values[(16 * s)..<(16 * s + 16)].reduce(0, +), "sum \(s)")
        }
        XCTAssertEqual(values[300], -127)
        XCTAssertEqual(q.scales[1], 9.5 / 127, accuracy: 1e-7)
        XCTAssertEqual([values[800], values[900]], [-127, 127])
        XCTAssertEqual(q.scales[2], 0)
        XCTAssertTrue(values[512..<768].allSatisfy { $0 == 0 })
    }

    /// A stack of Q5_0, Q4_K and Q6_K rows multiplies, part by part, as each type alone would: float32 arithmetic on
    /// the gguf package's dequantized values with `Numerics.float32`; with `Numerics.llamaCpp` the K-quant rows
    /// see Q8_K-rounded activations (and the Q5_0 rows their 8-bit blocks of 32).
    func testMixedStackMultipliesEachPartAsItsType() throws {
        let file = try GGUFFile(path: dir.appendingPathComponent("types.gguf").path)
        let names = ["t_q5_0", "t_q4_k", "t_q6_k"]
        let parts = try names.map { name -> WeightMatrix in
            let t = try XCTUnwrap(file.tensor(named: name))
            return WeightMatrix(rows: t.shape[1], cols: t.shape[0], type: t.type, data: file.data(of: t))
        }
        let stack = WeightMatrix(stacking: parts)
        XCTAssertEqual(stack.rows, 6)
        XCTAssertEqual(stack.cols, 512)
        let weights = try names.map { try readFloats(dir.appendingPathComponent("\($0).f32")) }  // 2 × 512 each
        let count = 3
        let x = randomActivations(count * 512, seed: 11)
        let scratch = MatmulScratch()
        for numerics in Numerics.allCases {
            var y = [Float](repeating: .nan, count: count * 6)
            stack.apply(x, count: count, into: &y, scratch: scratch, numerics: numerics)
            // One token alone (matrix-vector products) as in the batch, up to float32 summation order.
            var single = [Float](repeating: .nan, count: 6)
            stack.apply(Array(x[512..<1024]), count: 1, into: &single, scratch: scratch, numerics: numerics)
            for r in 0..<6 { XCTAssertEqual(single[r], y[6 + r], accuracy: 1e-5 * max(1, abs(y[6 + r])), "\(numerics): one token, row \(r)") }
            for t in 0..<count {
                let xt = Array(x[(t * 512)..<((t + 1) * 512)])
                for (p, w) in weights.enumerated() {
                    // The K-quant parts: exact float32 products on Q8_K-rounded activations under llama-cpp numerics.
                    let input = numerics == .llamaCpp && p > 0 ? referenceQ8K(xt) : xt
                    for r in 0..<2 {
                        var want = 0.0
                        for j in 0..<512 { want += Double(w[r * 512 + j]) * Double(input[j]) }
                        let got = Double(y[t * 6 + p * 2 + r])
                        // Q5_0 under llama-cpp numerics also rounds x to 8 bits per 32 values: a looser bound there.
                        let tolerance = numerics == .llamaCpp && p == 0 ? 0.05 * max(1, abs(want)) : 1e-4 * max(1, abs(want))
                        XCTAssertEqual(got, want, accuracy: tolerance, "\(numerics): token \(t), \(names[p]) row \(r)")
                    }
                }
            }
        }
    }
}
