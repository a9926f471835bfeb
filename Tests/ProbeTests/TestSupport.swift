import Foundation
import XCTest

@testable import Probe

/// Paths shared by the tests: the package root, committed fixtures, the model cache and the built command line.
enum TestPaths {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")

    static var cache: URL {
        if let env = ProcessInfo.processInfo.environment["DAPQ_PROBE_CACHE"], !env.isEmpty { return URL(fileURLWithPath: env) }
        return packageRoot.appendingPathComponent(".cache")
    }

    /// The cached SmolLM2 model; fails the calling test (never skips) when it is not fetched.
    static func smolLM2() throws -> String {
        let path = cache.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw MissingPrerequisite("model missing at \(path): run `make setup` first")
        }
        return path
    }

    /// The command-line binary: the one built beside this test bundle (same scratch folder and configuration)
    /// when present, else the release binary that `make test` builds first, else any other local build.
    static func binary() throws -> String {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("dapq-probe").path
        let builds = [".build/release", ".build/debug", ".build-cap/release"].map {
            packageRoot.appendingPathComponent("\($0)/dapq-probe").path
        }
        for path in [besideTests] + builds where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw MissingPrerequisite("dapq-probe binary not built: run `make test` (it builds the release binary first)")
    }

    /// The test venv's Python (`make venv-test`: h5py, h5netcdf, xarray, NumPy, matplotlib).
    static func python() throws -> String {
        let python = packageRoot.appendingPathComponent(".cache/venv-test/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw MissingPrerequisite("\(python) missing: run `make venv-test` (h5py, h5netcdf, xarray, numpy, matplotlib)")
        }
        return python
    }

    /// One folder per test process that holds every test's temporary directory, removed when the process exits,
    /// so that the suite leaves nothing behind in the system's temporary folder (a test that keeps its files for a
    /// later step in the same test is unaffected).
    private static let processRoot: URL = {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("dapq-probe-tests-\(getpid())-\(UUID().uuidString)")
        atexit { try? FileManager.default.removeItem(at: TestPaths.processRoot) }
        return root
    }()

    /// A fresh, empty directory inside the process's folder.
    static func temporaryDirectory() throws -> URL {
        let dir = processRoot.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// A test's prerequisite (model, binary) is absent: the test fails with this message rather than skipping.
struct MissingPrerequisite: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// A raw little-endian float32 file (the fixtures' logits and dequantized values).
func readFloats(_ url: URL) throws -> [Float] {
    try Data(contentsOf: url).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
}

/// The largest |a[i] − b[i]|.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
}

/// The result of running a command.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Starts the tool with `arguments` (output discarded), waits until `ready()` holds, `seconds` pass or it exits,
/// then SIGKILLs it if it still runs; returns whether it was still running (the kill landed).
func killTool(_ arguments: [String], within seconds: TimeInterval, when ready: () -> Bool = { false }) throws -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try TestPaths.binary())
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning && Date() < deadline && !ready() { usleep(10_000) }
    let wasRunning = process.isRunning
    if wasRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    return wasRunning
}

/// Runs `executable` with `arguments`, capturing both streams; `environment` adds to (or replaces in) the test's own.
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
    }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// Runs one of the repository's bash scripts (`scripts/demo.sh`) with the test build's binary and Python (`BIN`, `PY`)
/// and `environment` set.
func runScript(_ script: String, environment: [String: String]) throws -> CommandResult {
    let path = TestPaths.packageRoot.appendingPathComponent(script).path
    let given = ["BIN": try TestPaths.binary(), "PY": try TestPaths.python()].merging(environment) { _, given in given }
    return try runCommand("/usr/bin/env", ["bash", path], environment: given)
}

/// A test case with a fresh temporary directory per test, removed afterwards.
class TemporaryDirectoryTestCase: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try TestPaths.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A path inside the test's directory.
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The tiny synthetic model written into the test's directory, loaded, and its path.
    func tinyModel() throws -> (LanguageModel, String) {
        let p = path("tiny.gguf")
        try TinyModel.builder().write(to: URL(fileURLWithPath: p))
        return (try LanguageModel(path: p), p)
    }
}

/// Progress off a terminal in the default mode: plain lines (no carriage returns, no escape codes), at most one per
/// 5 seconds of the run (none for a run shorter than that), never one per token.
func assertPlainProgressLines(_ stderr: String, seconds: Double, file: StaticString = #filePath, line: UInt = #line) {
    let lines = stderr.split(separator: "\n")
    XCTAssertFalse(stderr.contains("\r") || stderr.contains("\u{1B}"), "no terminal redraws: \(stderr)", file: file, line: line)
    XCTAssertLessThanOrEqual(lines.count, Int(seconds / 5), "a line every 5 s at most: \(stderr)", file: file, line: line)
}
