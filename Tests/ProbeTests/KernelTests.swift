import Foundation
import CSIMD
import XCTest
@testable import Probe

/// The vectorized kernels against the C library.
final class KernelTests: XCTestCase {
    func testVectorExpMatchesLibm() throws {
        defer { try? SIMDTier.select(SIMDTier.supported.last!) }
        var x: [Float] = []
        var v: Float = -86.9
        while v < 87.8 { x.append(v); v += 0.0137 }
        for tier in SIMDTier.supported {
            try SIMDTier.select(tier)
            var e = [Float](repeating: 0, count: x.count)
            csimd_exp(x, &e, Int64(x.count))
            var worst: Float = 0
            for i in x.indices {
                let reference = Foundation.exp(x[i])
                worst = max(worst, abs(e[i] - reference) / reference)
            }
            XCTAssertLessThan(worst, 1.2e-7, "relative error (one float ulp at most), \(tier.rawValue)")
            var low: Float = 0
            csimd_exp([-1000], &low, 1)
            XCTAssertEqual(low, Foundation.exp(-87), accuracy: Foundation.exp(Float(-87)) * 1.2e-7)
        }
    }

    func testSoftmaxSumsToOneAndZeroesTheMaskedTail() {
        var row: [Float] = (0..<37).map { Float($0 % 7) * 0.9 - 2 }
        row.withUnsafeMutableBufferPointer { Kernels.softmaxPrefix($0.baseAddress!, valid: 29, n: 37) }
        XCTAssertEqual(row.prefix(29).reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(Array(row.suffix(8)), Array(repeating: 0, count: 8))
        let expected = (0..<29).map { Foundation.exp(Double($0 % 7) * 0.9 - 2) }
        let total = expected.reduce(0, +)
        for j in 0..<29 { XCTAssertEqual(Double(row[j]), expected[j] / total, accuracy: 1e-6) }
    }

    func testSoftmaxOfALongRowFindsTheMaximumInTheTail() {
        // 1003 values: 62 blocks of 16, one of 8, 3 scalars; the largest score is one of the last three.
        var row: [Float] = (0..<1003).map { Float(($0 * 37) % 101) * 0.05 }
        row[1001] = 40
        let expected = row.map { Foundation.exp(Double($0) - 40) }
        let total = expected.reduce(0, +)
        row.withUnsafeMutableBufferPointer { Kernels.softmaxPrefix($0.baseAddress!, valid: 1003, n: 1003) }
        XCTAssertTrue(row.allSatisfy { $0.isFinite })
        for j in 0..<1003 { XCTAssertEqual(Double(row[j]), expected[j] / total, accuracy: 1e-7 + 1e-5 * expected[j] / total) }
    }

    func testRoundToHalfMatchesTheScalarConversion() {
        var values: [Float] = (0..<45).map { Float($0) * 0.3137 - 6.1 }
        values[3] = 70_000
        values[40] = 1e-6
        let expected = values.map { Float(Float16($0)) }
        values.withUnsafeMutableBufferPointer { Kernels.roundToHalf($0.baseAddress!, count: 45) }
        XCTAssertEqual(values, expected)
    }

    /// Kernels.roundToHalf (integer masks and float adds, no F16C) against IEEE conversion, bit for bit, on every
    /// tier: every binade from float's subnormals to beyond float16's range, ties of both parities, the overflow
    /// threshold, signed zeros, infinities, NaN.
    func testVectorHalfRoundingIsIEEEConversion() throws {
        defer { try? SIMDTier.select(SIMDTier.supported.last!) }
        var values: [Float] = [0, -0, 65504, 65519.99, 65520, -65520, 1e30, .infinity, -.infinity, .leastNonzeroMagnitude,
                               0x1p-24, 0x1p-25, 0x1.8p-25, 0x1p-14, 0x1.ffcp-15, 1 + 0x1p-11, 1 + 0x1.8p-10, 2049, 2051]
        var rng = SeededGenerator(seed: 17)
        for _ in 0..<200_000 {
            // Random bit patterns with exponents around float16's range (2⁻³⁰ … 2¹⁸), and some anywhere.
            let raw = UInt32(truncatingIfNeeded: rng.next())
            let exponent = UInt32(127 - 30) + raw % 48
            let bits = rng.next() % 8 == 0 ? raw & 0x7F7F_FFFF : (raw & 0x8000_0000) | (exponent << 23) | (UInt32(truncatingIfNeeded: rng.next()) & 0x7F_FFFF)
            values.append(Float(bitPattern: bits))
        }
        let expected = values.map { Float(Float16($0)).bitPattern }
        for tier in SIMDTier.supported {
            try SIMDTier.select(tier)
            var rounded = values + [.nan]
            rounded.withUnsafeMutableBufferPointer { Kernels.roundToHalf($0.baseAddress!, count: $0.count) }
            XCTAssertTrue(rounded.removeLast().isNaN)
            for i in values.indices where rounded[i].bitPattern != expected[i] {
                XCTFail("\(tier.rawValue): \(values[i]) (bits \(String(values[i].bitPattern, radix: 16))) gives \(rounded[i])")
                break
            }
        }
    }

    func testActivationQuantizationIsGGMLsQ8Blocks() {
        // ggml's quantize_row_q8_1 per block of 32, written out here lane by lane: d = max|x| / 127,
        // q = round-half-even(x · 127 / max|x|) (0 for an all-zero block), d kept as float16, s = float16(d · Σq).
        let rows = 3, cols = 64
        var x: [Float] = (0..<(rows * cols)).map { Float(($0 * 29) % 97) * 0.021 - 1 }
        x[70] = 0
        for i in 128..<160 { x[i] = 0 }   // an all-zero block
        x[5] = -1.5   // a negative extreme
        let quantized = QuantizedActivations()
        x.withUnsafeBufferPointer { quantized.quantize($0.baseAddress!, rows: rows, cols: cols) }
        for block in 0..<(rows * cols / 32) {
            let values = x[(block * 32)..<(block * 32 + 32)]
            let amax = values.map(abs).max()!
            let inverse: Float = amax == 0 ? 0 : 127 / amax
            let q = values.map { Int8(($0 * inverse).rounded(.toNearestOrEven)) }
            XCTAssertEqual((0..<32).map { quantized.values[block * 32 + $0] }, q, "block \(block)")
            let d = Float(Float16(amax / 127)), sum = q.reduce(0) { $0 + Int32($1) }
            XCTAssertEqual(quantized.scales[block], d, "block \(block)")
            XCTAssertEqual(quantized.sums[block], sum, "block \(block)")
            XCTAssertEqual(quantized.scaledSums[block], Float(Float16(amax / 127 * Float(sum))), "block \(block)")
        }
    }

    func testBalancedSplitCutsAtUnitsIntoRunsOfAboutEqualCost() {
        // 9 heads × 4 chunks with causal costs 1, 3, 5, 7 per head: 144 in all, 72 per part.
        let cost = { (i: Int) in Double(2 * (i % 4) + 1) }
        let free = LanguageModel.balancedSplit(36, parts: 2, unit: 1, cost: cost)
        XCTAssertEqual(free.first, 0)
        XCTAssertEqual(free.last, 36)
        // The cut lands within half an item of the target: 4 heads and 3 chunks make 73.
        XCTAssertEqual((0..<free[1]).map(cost).reduce(0, +), 73)
        let heads = LanguageModel.balancedSplit(36, parts: 3, unit: 4, cost: cost)
        XCTAssertEqual(heads, [0, 12, 24, 36])   // whole heads only: three of 16 each per part
        let three = LanguageModel.balancedSplit(5, parts: 3, unit: 1) { _ in 1 }
        XCTAssertEqual(three.count, 4)
        XCTAssertEqual(three, three.sorted())
        XCTAssertEqual(three.last, 5)
    }
}
