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

    /// Without an FMA instruction the portable tier emulates the float kernels' fused multiply-adds in double
    /// precision; each must be a·b + c rounded once, as Swift's `addingProduct` (the hardware's or the C
    /// library's FMA), also where a·b and c cancel and where the sum lies at or next to a rounding tie.
    func testThePortableTiersFusedMultiplyAddIsRoundedOnce() throws {
        try SIMDTier.select(.portable)
        var rng = SeededGenerator(seed: 77)
        func randomFloat() -> Float {
            let mantissa = Float(1 + Double(rng.next() % (1 << 23)) / Double(1 << 23))
            let exponent = Int(rng.next() % 40) - 20
            return (rng.next() % 2 == 0 ? 1 : -1) * Float(sign: .plus, exponent: exponent, significand: mantissa)
        }
        var a = [Float](repeating: 0, count: 16), b = [Float](repeating: 0, count: 16)
        for trial in 0..<100_000 {
            var x = randomFloat(), y = randomFloat(), m = 0
            if trial % 5 == 4 {
                // x·y = 2^m (1 − i²·2⁻⁴⁶) and z a float whose half ulp is 2^m: the exact sum lies just off a tie
                // of float rounding, but a double sum rounds onto the tie (rounding it again then goes wrong).
                let i = Float(rng.next() % 1000 + 1)
                m = Int(rng.next() % 20) - 10
                x = 1 + i * 0x1p-23
                y = Float(sign: .plus, exponent: m, significand: 1 - i * 0x1p-23)
            }
            let product = x * y
            let z: Float
            switch trial % 5 {
            case 4:
                let odd = Float(2 * (rng.next() % (1 << 22)) + 1 + (1 << 23))  // an odd 24-bit integer
                z = (rng.next() % 2 == 0 ? 1 : -1) * Float(sign: .plus, exponent: m + 1, significand: odd)
            case 0: z = randomFloat()
            case 1: z = -product  // cancellation: the result is the product's rounding error
            case 2: z = (rng.next() % 2 == 0 ? 1 : -1) * product.ulp / 2  // at a tie of the product's rounding
            default: z = -product + (rng.next() % 2 == 0 ? 1 : -1) * product.ulp * Float(rng.next() % 7) / 4
            }
            // Lane 0 of the dot product: fma(z, 1, 0) = z, then fma(x, y, z); the other lanes stay 0.
            a[0] = z; b[0] = 1; a[8] = x; b[8] = y
            let expected = z.addingProduct(x, y) + 0
            XCTAssertEqual(Kernels.dot(a, b, count: 16).bitPattern, expected.bitPattern, "fma(\(x), \(y), \(z))")
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
