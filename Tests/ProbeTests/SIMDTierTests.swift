import Foundation
import XCTest
@testable import Probe

/// The integer kernels' tiers (CSIMD: portable, avx2, avx512vnni): every tier this CPU supports gives products
/// bit-identical to the portable tier's (the integer sums are exact and the float steps the same), for every
/// 32-block type, batches that use the four-row tiles, the single-row tail or both, with and without
/// accumulation; and `DAPQ_PROBE_SIMD` selects a tier or fails with a message naming the problem.
final class SIMDTierTests: XCTestCase {
    override func tearDown() {
        try? SIMDTier.select(SIMDTier.supported.last!)
        super.tearDown()
    }

    /// `weight · x` for `count` rows on `tier`, added to `start` when `accumulate`.
    func product(_ weight: WeightMatrix, _ x: [Float], count: Int, tier: SIMDTier, accumulate: Bool, start: [Float]) throws -> [Float] {
        try SIMDTier.select(tier)
        var y = start
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer {
                weight.apply(xp.baseAddress!, count: count, into: $0.baseAddress!, scratch: MatmulScratch(), accumulate: accumulate)
            }
        }
        return y
    }

    func testEveryTierGivesThePortableProductsBitForBit() throws {
        let tiers = SIMDTier.supported
        XCTAssertEqual(tiers.first, .portable)
        print("SIMD tiers on this CPU: \(tiers.map(\.rawValue))")
        let rows = 40, cols = 96   // a short last group of 8 rows
        for type in [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0] {
            let data = randomQuantizedBlocks(type, rows: rows, cols: cols, seed: 21)
            let weight = data.withUnsafeBytes { WeightMatrix(rows: rows, cols: cols, type: type, data: $0) }
            for count in [1, 4, 7, 13] {
                var rng = SeededGenerator(seed: UInt64(count))
                // Activations spanning the int8 range, with blocks of one sign and a block of zeros.
                var x: [Float] = (0..<(count * cols)).map { _ in (rng.nextFloat() * 2 - 1) * 4 }
                for k in 0..<32 { x[k] = abs(x[k]); x[32 + k] = -abs(x[32 + k]) }
                if count > 1 { for k in 0..<32 { x[cols + k] = 0 } }
                let start: [Float] = (0..<(count * rows)).map { _ in rng.nextFloat() - 0.5 }
                for accumulate in [false, true] {
                    let reference = try product(weight, x, count: count, tier: .portable, accumulate: accumulate, start: start)
                    XCTAssertFalse(reference.contains { !$0.isFinite })
                    XCTAssertNotEqual(reference, start)
                    for tier in tiers.dropFirst() {
                        let y = try product(weight, x, count: count, tier: tier, accumulate: accumulate, start: start)
                        XCTAssertEqual(y.map(\.bitPattern), reference.map(\.bitPattern),
                                       "\(type.name), \(tier.rawValue), \(count) rows, accumulate \(accumulate)")
                    }
                }
            }
        }
    }

    /// The float kernels (softmax with and without float16 rounding, SwiGLU, dot products, weighted sums) give the
    /// same bits on every tier: fused multiply-adds are fused on all of them.
    func testFloatKernelsAreBitIdenticalOnEveryTier() throws {
        var rng = SeededGenerator(seed: 5)
        let n = 203, width = 64
        let row: [Float] = (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * 30 }
        let gate: [Float] = (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * 12 }
        let rows: [Float] = (0..<(n * width)).map { _ in rng.nextFloat() * 2 - 1 }
        func run() -> [[UInt32]] {
            var softmax = row, half = row, swiglu = [Float](repeating: 0, count: n)
            softmax.withUnsafeMutableBufferPointer { Kernels.softmaxPrefix($0.baseAddress!, valid: n - 11, n: n) }
            half.withUnsafeMutableBufferPointer { Kernels.softmaxPrefix($0.baseAddress!, valid: n, n: n, roundedToHalf: true) }
            swiglu.withUnsafeMutableBufferPointer { Kernels.swiGLU(gate: gate, up: row, count: n, into: $0.baseAddress!) }
            let dot = Kernels.dot(row, gate, count: n)
            var sum64 = [Float](repeating: 0, count: width), sum5 = [Float](repeating: 0, count: 5)
            sum64.withUnsafeMutableBufferPointer { Kernels.weightedSum(softmax, rows: rows, count: n, width: width, into: $0.baseAddress!) }
            sum5.withUnsafeMutableBufferPointer { Kernels.weightedSum(softmax, rows: rows, count: n, width: 5, into: $0.baseAddress!) }
            return [softmax, half, swiglu, [dot], sum64, sum5].map { $0.map(\.bitPattern) }
        }
        try SIMDTier.select(.portable)
        let reference = run()
        XCTAssertEqual(reference[0].suffix(11), Array(repeating: 0, count: 11))
        for tier in SIMDTier.supported.dropFirst() {
            try SIMDTier.select(tier)
            XCTAssertEqual(run(), reference, tier.rawValue)
        }
    }

    /// The dot product and the weighted sum of attention round each product, then each sum (no fused
    /// multiply-add): on every tier they equal the same arithmetic written out in Swift, bit for bit, also where a
    /// product nearly cancels its lane's partial sum, where a fused multiply-add would give another value.
    func testDotAndWeightedSumRoundProductsAndSumsSeparately() throws {
        defer { try? SIMDTier.select(SIMDTier.supported.last!) }
        var rng = SeededGenerator(seed: 77)
        func randomFloat() -> Float {
            let mantissa = Float(1 + Double(rng.next() % (1 << 23)) / Double(1 << 23))
            let exponent = Int(rng.next() % 40) - 20
            return (rng.next() % 2 == 0 ? 1 : -1) * Float(sign: .plus, exponent: exponent, significand: mantissa)
        }
        let count = 16 * 64 + 5
        let whole = count / 8 * 8
        var a = [Float](repeating: 0, count: count), b = a
        // The reference: lane l sums a[i]·b[i] for i ≡ l (mod 8) in order, lanes added in order, then the tail;
        // `fused` is the same with fused multiply-adds. Every eighth pair after the first row of lanes is built so
        // that its (inexact) product cancels the lane's partial sum up to that product's rounding error.
        var lanes = [Float](repeating: 0, count: 8), fused = lanes
        for i in 0..<count {
            a[i] = randomFloat()
            b[i] = i % 8 == 3 && i >= 8 && i < whole ? -lanes[3] / a[i] : randomFloat()
            if i < whole {
                lanes[i % 8] = lanes[i % 8] + a[i] * b[i]
                fused[i % 8] = fused[i % 8].addingProduct(a[i], b[i])
            }
        }
        var expectedDot = lanes[0]
        for l in 1..<8 { expectedDot = expectedDot + lanes[l] }
        for i in whole..<count { expectedDot = expectedDot + a[i] * b[i] }
        XCTAssertNotEqual(lanes[3].bitPattern, fused[3].bitPattern, "the data tells unfused sums from fused ones")
        // Weighted sum over rows of 64: out[k] = Σ_j w[j]·rows[j, k] in row order.
        let rows = 16, weights = Array(a.prefix(rows)), values = Array(b.prefix(rows * 64))
        var expectedSum = [Float](repeating: 0, count: 64)
        for j in 0..<rows { for k in 0..<64 { expectedSum[k] = expectedSum[k] + weights[j] * values[j * 64 + k] } }
        for tier in SIMDTier.supported {
            try SIMDTier.select(tier)
            XCTAssertEqual(Kernels.dot(a, b, count: count).bitPattern, expectedDot.bitPattern, tier.rawValue)
            var out = [Float](repeating: 0, count: 64)
            out.withUnsafeMutableBufferPointer { Kernels.weightedSum(weights, rows: values, count: rows, width: 64, into: $0.baseAddress!) }
            XCTAssertEqual(out.map(\.bitPattern), expectedSum.map(\.bitPattern), tier.rawValue)
        }
    }

    func testEnvironmentSelectsATierOrNamesTheProblem() throws {
        for tier in SIMDTier.supported {
            try SIMDTier.applyEnvironment([SIMDTier.environmentVariable: tier.rawValue])
            XCTAssertEqual(SIMDTier.active, tier)
        }
        try SIMDTier.applyEnvironment([:])
        XCTAssertEqual(SIMDTier.active, SIMDTier.supported.last, "unset: the tier stays")
        XCTAssertThrowsError(try SIMDTier.applyEnvironment([SIMDTier.environmentVariable: "sse9"])) { error in
            XCTAssertTrue("\(error)".contains("DAPQ_PROBE_SIMD=sse9: unknown tier"), "\(error)")
        }
        for tier in SIMDTier.allCases where !tier.isSupported {
            XCTAssertThrowsError(try SIMDTier.applyEnvironment([SIMDTier.environmentVariable: tier.rawValue])) { error in
                XCTAssertTrue("\(error)".contains("does not support"), "\(error)")
            }
        }
        XCTAssertTrue(SIMDTier.portable.isSupported)
    }
}
