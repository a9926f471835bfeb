import Foundation
import XCTest

@testable import Compression

/// `dapq-probe compress` end to end on the real model: the JSON lines, the HDF5 file checked by h5py/NumPy,
/// and one-line refusals of bad budgets, policies and windows.
final class CompressCommandTests: TemporaryDirectoryTestCase {
    func testJSONLinesAndTheFileAgainstNumPy() throws {
        let model = try TestPaths.smolLM2()
        let out = path("compress.h5")
        let prompt = "The committee met on Tuesday to discuss the budget. After a long debate, they agreed to fund the new library "
            + "and to repair the old bridge. The mayor thanked everyone. What did the committee agree to fund?"
        let result = try runCommand(try TestPaths.binary(), [
            "compress", "--model", model, "--prompt", prompt, "--chat", "--policy", "all", "--budget", "16,40%",
            "--window", "8", "--pseudo-count", "8", "--max-tokens", "8", "--json", "--out", out, "--progress", "never",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1 + (PolicyName.allCases.count - 1) * 2, "full once, every other policy at both budgets")
        var ratioOf40 = [String: Int]()
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            for key in ["policy", "budget", "budget_spec", "text", "cache_bytes", "score_ms", "agreement", "entries"] {
                XCTAssertNotNil(object[key], "\(key) in \(line)")
            }
            XCTAssertNotNil(object["budget"] as? Int, "the budget in entries: \(line)")
            if object["budget_spec"] as? String == "40%" { ratioOf40[object["policy"] as! String] = object["budget"] as? Int }
        }
        // --compression-ratio 0.6 is the budget 40%: the same entries, by the same rounding.
        let ratio = try runCommand(try TestPaths.binary(), [
            "compress", "--model", model, "--prompt", prompt, "--chat", "--policy", "snapkv", "--compression-ratio", "0.6",
            "--window", "8", "--max-tokens", "2", "--json", "--progress", "never",
        ])
        XCTAssertEqual(ratio.status, 0, ratio.stderr)
        let ratioObject = try JSONSerialization.jsonObject(with: Data(ratio.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(ratioObject["budget"] as? Int, ratioOf40["snapkv"])
        XCTAssertEqual(ratioObject["budget_spec"] as? String, "40%")

        // The table: one line per cell, answers in double quotes with newlines as \n and apostrophes as they are.
        let table = try runCommand(try TestPaths.binary(), [
            "compress", "--model", model, "--prompt", "Write two lines about the sea, a blank line between them. Don't quote.",
            "--chat", "--policy", "full,snapkv", "--budget", "16", "--window", "8", "--max-tokens", "24", "--progress", "never",
        ])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertEqual(table.stdout.split(separator: "\n").count, 3 + 2, table.stdout)
        XCTAssertFalse(table.stdout.contains("\\'"), table.stdout)
        XCTAssertTrue(table.stdout.contains("full cache: \""), table.stdout)
        let check = try runCommand(try TestPaths.python(), [TestPaths.packageRoot.appendingPathComponent("Tests/python/check_compress.py").path, out])
        XCTAssertEqual(check.status, 0, "check_compress.py:\n\(check.stdout)\n\(check.stderr)")
        XCTAssertTrue(check.stdout.hasSuffix("compress OK\n"), check.stdout)

        // The same output again without --force is refused and leaves the file as it was.
        let before = try Data(contentsOf: URL(fileURLWithPath: out))
        let again = try runCommand(try TestPaths.binary(), ["compress", "--model", model, "--prompt", prompt, "--out", out])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains(out), again.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), before)
    }

    /// Without --policy, `compress` runs the recommended policy first (lookahead-full), then the full cache, the
    /// paper's recipe and SnapKV, in that order.
    func testTheDefaultRunsTheRecommendedPolicyFirst() throws {
        let result = try runCommand(try TestPaths.binary(), [
            "compress", "--model", try TestPaths.smolLM2(), "--prompt", "The capital of France is Paris. What is the capital of France?",
            "--chat", "--budget", "8", "--max-tokens", "4", "--json", "--progress", "never",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let policies = try result.stdout.split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["policy"] as! String
        }
        XCTAssertEqual(policies, ["lookahead-full", "full", "dapq", "snapkv"])
    }

    /// The question outside: the file holds the whole prompt, the question's q tokens among the held entries of
    /// every cell, the settings record (placement, pseudo position, expected_*), and passes the NumPy check.
    func testQuestionOutsideAndADapQCell() throws {
        let model = try TestPaths.smolLM2()
        let out = path("outside.h5")
        let context = "The committee met on Tuesday to discuss the budget. After a long debate, they agreed to fund the new library "
            + "and to repair the old bridge. The mayor thanked everyone."
        let result = try runCommand(try TestPaths.binary(), [
            "compress", "--model", model, "--prompt", context, "--question", "What did the committee agree to fund?", "--chat",
            "--policy", "full,snapkv,oracle,dapq[content=suffix,position=input]", "--budget", "40", "--window", "8",
            "--pseudo-count", "8", "--max-tokens", "8", "--question-placement", "outside", "--out", out, "--progress", "never",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("dapq[content=suffix,position=input]"), result.stdout)
        let check = try runCommand(try TestPaths.python(), [TestPaths.packageRoot.appendingPathComponent("Tests/python/check_compress.py").path, out])
        XCTAssertEqual(check.status, 0, "check_compress.py:\n\(check.stdout)\n\(check.stderr)")
        XCTAssertTrue(check.stdout.contains("question outside"), check.stdout)

        let refused = try runCommand(try TestPaths.binary(), ["compress", "--model", model, "--prompt", context,
                                                              "--question-placement", "outside"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("needs --question"), refused.stderr)
    }

    func testBadInputIsAOneLineError() throws {
        let model = try TestPaths.smolLM2()
        func refused(_ extra: [String], _ fragment: String, line: UInt = #line) throws {
            let result = try runCommand(try TestPaths.binary(), ["compress", "--model", model, "--prompt", "Hello there."] + extra)
            XCTAssertNotEqual(result.status, 0, line: line)
            let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", line: line)
            XCTAssertTrue(message.contains(fragment), "expected '\(fragment)' in: \(message)", line: line)
        }
        try refused(["--budget", "0"], "budget '0'")
        try refused(["--budget=-4"], "budget '-4'")
        try refused(["--budget", "150%"], "at most 100%")
        try refused(["--policy", "snapkv,magic"], "unknown policy 'magic'")
        try refused(["--policy", "snapkv", "--budget", "2"], "policy snapkv needs a window of 32 prompt tokens")
        try refused(["--budget", "16", "--compression-ratio", "0.5"], "give --budget or --compression-ratio, not both")
        try refused(["--compression-ratio", "1"], "--compression-ratio 1.0: the fraction of entries removed must be at least 0 and below 1")
        let out = path("never.h5")
        try refused(["--policy", "dapq", "--out", out], "policy dapq needs a window")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no output file after a refusal")
    }
}
