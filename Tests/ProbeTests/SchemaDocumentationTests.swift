import Foundation
import XCTest

@testable import Probe

/// docs/schema.md documents every dataset the writers write: each file kind is written for real by the
/// command line on the real model (small settings), every dataset of it is listed from the file, and its
/// documented name must appear in the schema page in backticks.
final class SchemaDocumentationTests: TemporaryDirectoryTestCase {
    /// The name a dataset has in the schema page: per-prompt and per-variant prefixes of an ablation dropped
    /// (the page lists a variant's datasets by their own names), a compress file's `kept/<policy>_<budget>`
    /// written generically, root dimension scales by their name.
    static func documentedName(_ path: String) -> String {
        var parts = path.split(separator: "/").map(String.init)
        if parts.first == "prompts", parts.count > 2 { parts.removeFirst(2) }
        if parts.first == "variants", parts.count > 2 { return parts.dropFirst(2).joined(separator: "/") }
        if parts.first == "kept", parts.count == 2 { return "kept/<policy>_<budget>" }
        return parts.joined(separator: "/")
    }

    /// The documented names of every dataset in `file` that the schema page does not mention.
    private func undocumented(_ file: String, schema: String) throws -> [String] {
        let inspection = try HDF5Inspection(path: file)
        XCTAssertFalse(inspection.datasets.isEmpty, file)
        let names = Set(inspection.datasets.map { Self.documentedName($0.path) })
        return names.filter { !schema.contains("`\($0)`") }.sorted()
    }

    private func run(_ arguments: [String], line: UInt = #line) throws {
        let result = try runCommand(try TestPaths.binary(), arguments)
        XCTAssertEqual(result.status, 0, "\(arguments.first ?? ""): \(result.stderr)", line: line)
    }

    func testDocumentedNameNormalisation() {
        XCTAssertEqual(Self.documentedName("/prompts/001/variants/suffix_future/mass_recall"), "mass_recall")
        XCTAssertEqual(Self.documentedName("/variants/window/rot_q"), "rot_q")
        XCTAssertEqual(Self.documentedName("/kept/snapkv_64"), "kept/<policy>_<budget>")
        XCTAssertEqual(Self.documentedName("/decode/importance"), "decode/importance")
        XCTAssertEqual(Self.documentedName("/layer"), "layer")
    }

    func testEveryDatasetOfEveryFileKindIsInTheSchemaPage() throws {
        let schemaPath = TestPaths.packageRoot.appendingPathComponent("docs/schema.md").path
        let schema = try String(contentsOfFile: schemaPath, encoding: .utf8)
        let model = try TestPaths.smolLM2()
        let prompt = "Remember: the vault code is 4471. Now, what is the vault code? Answer with the number."
        let captures = path("captures")
        try FileManager.default.createDirectory(atPath: captures, withIntermediateDirectories: true)
        for (i, text) in [prompt, prompt + " Be brief."].enumerated() {
            try run(["capture", "--model", model, "--chat", "--prompt", text, "--steps", "4", "--window", "8", "--values",
                     "--attention", "--out", "\(captures)/c\(i).h5", "--progress", "never"])
        }
        let small = ["--pseudo-count", "8", "--budgets", "8,16", "--content", "suffix,oracle", "--position", "future,far", "--progress", "never"]
        try run(["ablate", "\(captures)/c0.h5", "--out", path("one.h5")] + small)
        try run(["ablate", captures, "--out", path("several.h5")] + small)
        try run(["compress", "--model", model, "--chat", "--prompt", prompt, "--policy", "all", "--budget", "16",
                 "--window", "8", "--pseudo-count", "8", "--max-tokens", "4", "--out", path("compress.h5"), "--progress", "never"])
        try run(["niah", "--model", model, "--lengths", "300", "--depths", "50", "--policies", "full,snapkv", "--budgets", "32",
                 "--window", "16", "--out", path("niah.h5"), "--progress", "never"])
        for file in ["captures/c0.h5", "one.h5", "several.h5", "compress.h5", "niah.h5"] {
            let missing = try undocumented(path(file), schema: schema)
            XCTAssertEqual(missing, [], "\(file): datasets missing from docs/schema.md")
        }
    }

    /// The repository stands on its own: no file points at a design brief or a folder outside the clone.
    func testNoFileRefersToAPathOutsideTheRepository() throws {
        let outside = ["../" + "shared", "DESIGN" + ".md"]
        let root = TestPaths.packageRoot
        var offenders: [String] = []
        for folder in ["Sources", "Tests", "docs", "scripts", "notebooks-data", ".ci"] {
            guard let files = FileManager.default.enumerator(atPath: root.appendingPathComponent(folder).path) else { continue }
            for case let file as String in files {
                let path = root.appendingPathComponent(folder).appendingPathComponent(file).path
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }  // binary fixtures
                if outside.contains(where: text.contains) { offenders.append("\(folder)/\(file)") }
            }
        }
        for file in ["README.md", "Makefile", "Package.swift"] {
            let text = try String(contentsOfFile: root.appendingPathComponent(file).path, encoding: .utf8)
            if outside.contains(where: text.contains) { offenders.append(file) }
        }
        XCTAssertEqual(offenders, [])
    }
}
