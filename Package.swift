// swift-tools-version:6.0
import PackageDescription

/// dapq-probe: does the position of a pseudo query matter more than its content
/// when a KV cache must be cut? See README.md and docs/.
/// Whole-module optimization in release. No -Ounchecked: the parsers (GGUF, tokenizer, HDF5, command line) keep
/// Swift's overflow checks; the hot loops are CSIMD's C kernels, which the flag never touched (an interleaved
/// A/B of prefill + decoding CPU time differed by 1.6%, within the noise of the shared machine).
let releaseFlags: [SwiftSetting] = [.unsafeFlags(["-wmo"], .when(configuration: .release))]

/// The libFuzzer targets (`make fuzz`) link libFuzzer's `main`, so they exist only in builds that ask for them:
/// `DAPQ_PROBE_FUZZ=1 swift build -Xswiftc -sanitize=fuzzer ...` (see the Makefile).
let fuzzTargets: [Target] = Context.environment["DAPQ_PROBE_FUZZ"] == "1" ? [
    .executableTarget(name: "fuzz-gguf", dependencies: ["ProbeFuzzing"]),
    .executableTarget(name: "fuzz-tokenizer", dependencies: ["ProbeFuzzing"]),
] : []

let package = Package(
    name: "dapq-probe",
    products: [
        .executable(name: "dapq-probe", targets: ["dapq-probe"]),
        .library(name: "Probe", targets: ["Probe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .target(name: "CSIMD"),
        .target(name: "Probe", dependencies: ["CBLAS", "CHDF5", "CSIMD"], swiftSettings: releaseFlags),
        .target(name: "Analysis", dependencies: ["Probe"], swiftSettings: releaseFlags),
        .target(name: "Compression", dependencies: ["Analysis", "Probe", "CBLAS"], swiftSettings: releaseFlags),
        .executableTarget(
            name: "dapq-probe",
            dependencies: [
                "Probe", "Analysis", "Compression",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .target(name: "ProbeFuzzing", dependencies: ["Probe"]),
        .testTarget(name: "ProbeTests", dependencies: ["Probe", "Analysis", "Compression", "ProbeFuzzing"]),
    ] + fuzzTargets
)
