import Foundation
import XCTest
@testable import Probe

/// Random GGUF super-blocks of a K-quant `type` for a `rows × cols` weight: random quantized values, scales and
/// minima, with finite float16 super-block scales of modest size.
func randomKQuantBlocks(_ type: GGMLType, rows: Int, cols: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededGenerator(seed: seed)
    var bytes: [UInt8] = []
    for _ in 0..<(rows * cols / 256) {
        var block = (0..<type.bytesPerBlock).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        func store(_ value: Float, at offset: Int) {
            let bits = Float16(value).bitPattern
            block[offset] = UInt8(bits & 0xFF); block[offset + 1] = UInt8(bits >> 8)
        }
        if type == .q6_K {
            store(Float(rng.next() % 1000 + 1) / 200_000, at: 208)
        } else {
            store(Float(rng.next() % 1000 + 1) / 20_000, at: 0)
            store(Float(rng.next() % 1000) / 40_000, at: 2)
        }
        bytes += block
    }
    return bytes
}

/// Products of K-quant weights (Q4_K, Q5_K, Q6_K) in llama.cpp's arithmetic (KQuantMatrix, CSIMD's K-quant
/// kernels): each entry is, within the rounding of a float sum, the product of the `gguf` package's (and
/// Dequantize's, tested against it) dequantized weights with the Q8_K-quantized activations; a batch row equals
/// the row alone on one thread or two, with and without accumulation; every tier gives the portable tier's
/// products bit for bit.
final class KQuantProductTests: XCTestCase {
    let types: [GGMLType] = [.q4_K, .q5_K, .q6_K]

    override func tearDown() {
        try? SIMDTier.select(SIMDTier.supported.last!)
        super.tearDown()
    }

    /// `weight · x` for `count` rows in llama.cpp's arithmetic, added to `start` when given.
    func product(_ weight: WeightMatrix, _ x: ArraySlice<Float>, count: Int, start: [Float]? = nil) -> [Float] {
        var y = start ?? [Float](repeating: .nan, count: count * weight.rows)
        Array(x).withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer {
                weight.apply(xp.baseAddress!, count: count, into: $0.baseAddress!, scratch: MatmulScratch(), accumulate: start != nil)
            }
        }
        return y
    }

    func activations(count: Int, cols: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        var x: [Float] = (0..<(count * cols)).map { _ in (rng.nextFloat() * 2 - 1) * 4 }
        // A super-block of zeros, one of a single sign.
        if count > 1 { for k in 0..<256 { x[cols + k] = 0 } }
        for k in 0..<256 { x[k] = abs(x[k]) }
        return x
    }

    /// `y` against Σ_k w[r, k] · d_x · q_x[k] in float64 (`w` row-major `rows × cols`), within γ·Σ|term| where
    /// a term's magnitude counts the weight's scaled value and its minimum part separately (they cancel in w):
    /// γ = n·u/(1 − n·u), u = 2⁻²⁴, n = blocks + 8 roundings.
    func check(_ y: [Float], weights w: [Float], minima: [Float], rows: Int, cols: Int, count: Int,
               activations q: SuperBlockActivations, _ label: String) {
        let nb = cols / 256
        let n = Double(nb + 8), u = 0x1p-24, gamma = n * u / (1 - n * u)
        for t in 0..<count {
            for r in 0..<rows {
                var exact = 0.0, magnitude = 0.0
                for b in 0..<nb {
                    let d = Double(q.scales[t * nb + b]), m = 2 * 63 * Double(abs(minima[r * nb + b]))
                    for k in (b * 256)..<(b * 256 + 256) {
                        let x = d * Double(q.values[t * cols + k])
                        exact += Double(w[r * cols + k]) * x
                        magnitude += (abs(Double(w[r * cols + k])) + m) * abs(x)
                    }
                }
                XCTAssertEqual(Double(y[t * rows + r]), exact, accuracy: gamma * magnitude + 1e-30, "\(label), row \(t), output \(r)")
            }
        }
    }

    /// The scale of the minima (dmin) of each super-block, 0 for Q6_K.
    func minima(_ type: GGMLType, _ data: [UInt8]) -> [Float] {
        stride(from: 0, to: data.count, by: type.bytesPerBlock).map { at in
            type == .q6_K ? 0 : Float(Float16(bitPattern: UInt16(data[at + 2]) | UInt16(data[at + 3]) << 8))
        }
    }

    func testProductsAreGGUFWeightsTimesQ8KActivations() throws {
        // The gguf package's dequantization of the fixture's 2 × 512 weights.
        let dir = TestPaths.fixtures.appendingPathComponent("dequant")
        let file = try GGUFFile(path: dir.appendingPathComponent("types.gguf").path)
        for type in types {
            let name = "t_\(type.name.lowercased())"
            let t = try XCTUnwrap(file.tensor(named: name))
            let (rows, cols, count) = (t.shape[1], t.shape[0], 6)
            let weight = WeightMatrix(rows: rows, cols: cols, type: t.type, data: file.data(of: t))
            XCTAssertNotNil(weight.kquant, name)
            // Held packed: Q4_K in GGUF's bytes plus its unpacked sub-block scales (1184 against 1152 bytes per
            // eight rows' super-block), Q6_K in its bytes, Q5_K one byte a value (2208 against 1408).
            let paddedRows = (rows + 7) / 8 * 8
            let growth = ["t_q4_k": 1184.0 / 1152, "t_q5_k": 2208.0 / 1408, "t_q6_k": 1.0][name]!
            XCTAssertEqual(Double(weight.byteCount), Double(t.byteCount / rows * paddedRows) * growth, accuracy: 0.5,
                           "\(name): held packed")
            let w = try readFloats(dir.appendingPathComponent("\(name).f32"))
            let x = activations(count: count, cols: cols, seed: 3)
            let q = SuperBlockActivations()
            x.withUnsafeBufferPointer { q.quantize($0.baseAddress!, rows: count, cols: cols) }
            check(product(weight, x[...], count: count), weights: w, minima: minima(type, Array(file.data(of: t))),
                  rows: rows, cols: cols, count: count, activations: q, name)
        }
    }

    func testRandomBlocksMultiplyAsDequantizedWeights() {
        let rows = 19, cols = 768, count = 7   // tiles of four activation rows and a tail
        for type in types {
            let data = randomKQuantBlocks(type, rows: rows, cols: cols, seed: 5)
            let weight = data.withUnsafeBytes { WeightMatrix(rows: rows, cols: cols, type: type, data: $0) }
            var w = [Float](repeating: 0, count: rows * cols)
            data.withUnsafeBytes { Dequantize.run(type, from: $0, into: &w, count: rows * cols) }
            var row = [Float](repeating: 0, count: cols)
            weight.row(11, into: &row)
            XCTAssertEqual(row, Array(w[(11 * cols)..<(12 * cols)]), "\(type.name): embedding row")
            let x = activations(count: count, cols: cols, seed: 13)
            let q = SuperBlockActivations()
            x.withUnsafeBufferPointer { q.quantize($0.baseAddress!, rows: count, cols: cols) }
            check(product(weight, x[...], count: count), weights: w, minima: minima(type, data),
                  rows: rows, cols: cols, count: count, activations: q, type.name)
        }
    }

    func testBatchRowsEqualRowsAlone() {
        let rows = 40, cols = 512, count = 13
        let saved = ComputeThreads.current
        defer { ComputeThreads.set(saved) }
        for type in types {
            let data = randomKQuantBlocks(type, rows: rows, cols: cols, seed: 7)
            let weight = data.withUnsafeBytes { WeightMatrix(rows: rows, cols: cols, type: type, data: $0) }
            let x = activations(count: count, cols: cols, seed: 11)
            var rng = SeededGenerator(seed: 17)
            let start: [Float] = (0..<(count * rows)).map { _ in rng.nextFloat() - 0.5 }
            for threads in [1, 2] {
                ComputeThreads.set(threads)
                let batch = product(weight, x[...], count: count)
                let accumulated = product(weight, x[...], count: count, start: start)
                XCTAssertEqual(accumulated, zip(start, batch).map { $0 + $1 }, "\(type.name), threads \(threads): accumulate")
                for t in 0..<count {
                    let single = product(weight, x[(t * cols)..<((t + 1) * cols)], count: 1)
                    XCTAssertEqual(Array(batch[(t * rows)..<((t + 1) * rows)]), single, "\(type.name), threads \(threads), row \(t)")
                }
            }
        }
    }

    func testEveryTierGivesThePortableProductsBitForBit() throws {
        let rows = 21, cols = 512
        for type in types {
            let data = randomKQuantBlocks(type, rows: rows, cols: cols, seed: 21)
            let weight = data.withUnsafeBytes { WeightMatrix(rows: rows, cols: cols, type: type, data: $0) }
            for count in [1, 4, 7] {
                let x = activations(count: count, cols: cols, seed: UInt64(count))
                try SIMDTier.select(.portable)
                let reference = product(weight, x[...], count: count)
                XCTAssertFalse(reference.contains { !$0.isFinite })
                for tier in SIMDTier.supported.dropFirst() {
                    try SIMDTier.select(tier)
                    XCTAssertEqual(product(weight, x[...], count: count).map(\.bitPattern), reference.map(\.bitPattern),
                                   "\(type.name), \(tier.rawValue), \(count) rows")
                }
            }
        }
    }
    /// The portable tier reads activations widened once per product (SuperBlockActivations does it while that tier
    /// is active); given activations without them, it widens them itself, with the same products.
    func testPortableTierWidensActivationsQuantizedOnAnotherTier() throws {
        guard let other = SIMDTier.supported.dropFirst().first else { return }  // only the portable tier here
        let rows = 16, cols = 768
        for type in types {
            let data = randomKQuantBlocks(type, rows: rows, cols: cols, seed: 5)
            let matrix = data.withUnsafeBytes { KQuantMatrix(type: type, rows: rows, cols: cols, data: $0) }
            for count in [1, 5] {
                let x = activations(count: count, cols: cols, seed: 9)
                func multiplied(quantizedOn tier: SIMDTier) throws -> [Float] {
                    try SIMDTier.select(tier)
                    let q = SuperBlockActivations()
                    x.withUnsafeBufferPointer { q.quantize($0.baseAddress!, rows: count, cols: cols) }
                    XCTAssertEqual(q.quads == nil, tier != .portable)
                    try SIMDTier.select(.portable)
                    var y = [Float](repeating: .nan, count: count * rows)
                    y.withUnsafeMutableBufferPointer { matrix.multiply(q, rows: 0..<rows, into: $0.baseAddress!) }
                    return y
                }
                XCTAssertEqual(try multiplied(quantizedOn: other).map(\.bitPattern),
                               try multiplied(quantizedOn: .portable).map(\.bitPattern), "\(type.name), \(count) rows")
            }
        }
    }
}
