import CBLAS
import CSIMD
import Foundation
import XCTest
@testable import Probe

/// OpenBLAS's kernels: where it falls back to its generic SSE3 ones ("Prescott") on a CPU with AVX2 or AVX-512
/// (Debian 12's OpenBLAS on newer Xeons), it is made to choose again before main; a float32 product stays correct.
final class BLASCoreTests: XCTestCase {
    func testOpenBLASRunsKernelsThatFitTheCPU() throws {
        let core = ComputeThreads.blasCore
        print("OpenBLAS kernels: \(core)")
        XCTAssertNotEqual(core, "unknown")
        let userChose = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] != nil
            || ProcessInfo.processInfo.environment["DAPQ_PROBE_BLAS_CORE"] == "openblas"
        if csimd_tier_supported(CSIMD_TIER_AVX2) != 0 && !userChose {
            XCTAssertNotEqual(core.lowercased(), "prescott", "OpenBLAS left on its generic kernels on a CPU with AVX2")
        }
        if !userChose {
            XCTAssertNil(getenv("OPENBLAS_CORETYPE"), "the variable set for the re-choice does not stay in the environment")
        }
        XCTAssertNil(csimd_fit_blas_core(), "a second call changes nothing")
        // A product through the chosen kernels against the definition.
        let m = 37, n = 29, k = 64
        let a = (0..<(m * k)).map { Float(($0 * 7) % 11) - 5 }, b = (0..<(k * n)).map { Float(($0 * 5) % 13) - 6 }
        var c = [Float](repeating: 0, count: m * n)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
        for i in 0..<m {
            for j in 0..<n {
                let exact = (0..<k).reduce(Float(0)) { $0 + a[i * k + $1] * b[$1 * n + j] }
                XCTAssertEqual(c[i * n + j], exact, "(\(i), \(j)): small integers, exact in float32")
            }
        }
    }
}
