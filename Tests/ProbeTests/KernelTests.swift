import Foundation
import XCTest
@testable import Probe

/// The vectorized kernels against the C library.
final class KernelTests: XCTestCase {
    func testVectorExpMatchesLibm() {
        var worst: Float = 0
        var x: Float = -86.9
        while x < 87.8 {
            let v = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0137 })
            let e = VectorMath.exp(v)
            for i in 0..<8 {
                let reference = Foundation.exp(v[i])
                worst = max(worst, abs(e[i] - reference) / reference)
            }
            x += 0.1
        }
        XCTAssertLessThan(worst, 5e-7, "relative error")
        XCTAssertEqual(VectorMath.exp(SIMD8<Float>(repeating: -1000))[0], Foundation.exp(-87), accuracy: 1e-40)
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
}
