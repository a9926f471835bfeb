import ArgumentParser
import Foundation
import Probe

struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels",
        abstract: "Micro-benchmarks of the hot kernels and the machine's GEMM and copy limits (used by `make bench`).")

    @Option(help: "Threads for the numeric kernels.")
    var threads: Int = 2

    @Option(help: "Timed runs per kernel; the best is reported.")
    var repeats: Int = 5

    @Flag(help: "One JSON object per line.")
    var json = false

    func run() throws {
        ComputeThreads.set(threads)
        try SIMDTier.applyEnvironment()
        for line in KernelBenchmark(repeats: repeats).run() {
            if json {
                var object: [String: Any] = ["kernel": line.kernel, "shape": line.shape, "seconds": line.seconds, "threads": threads,
                                             "simd_tier": SIMDTier.active.rawValue, "blas_core": ComputeThreads.blasCore]
                if let g = line.gflops { object["gflops"] = g }
                if let b = line.gbps { object["gbps"] = b }
                print(try JSONOutput.line(object))
            } else {
                let g = line.gflops.map { String(format: "%8.1f GFLOP/s", $0) } ?? String(repeating: " ", count: 16)
                let b = line.gbps.map { String(format: "%8.1f GB/s", $0) } ?? ""
                print("\(line.kernel.padding(toLength: 30, withPad: " ", startingAt: 0)) \(line.shape.padding(toLength: 16, withPad: " ", startingAt: 0)) \(g) \(b)")
            }
        }
    }
}
