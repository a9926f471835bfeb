import Foundation
import XCTest

@testable import Compression
@testable import Probe

/// Sweeps past one machine: `--shard I/N` partitions, `merge` against an unsharded run, and its refusals.
final class ShardMergeTests: TemporaryDirectoryTestCase {
    func testShardsAreDisjointAndCoverTheGrid() throws {
        let grid = EvaluationGrid(tasks: [.niah, .niahSingle1], lengths: [1000, 2000, 4000], depths: [0, 25, 50, 75, 100], samples: 7,
                                  policies: [PolicySpec(.full), PolicySpec(.snapkv)], budgets: [32, 64], seed: 1, needle: "n", question: "q", answerPrefix: "a",
                                  answer: "r", haystack: "h", wordList: "w", settings: [:])
        let units = grid.units.map(\.name)
        XCTAssertEqual(units.count, 3 * 5 + 3 * 7)
        XCTAssertEqual(Set(units).count, units.count)
        for n in [1, 2, 3, 5, 8, 36, 50] {
            let shards = (1...n).map { Shard(index: $0, count: n).units(of: grid.units).map(\.name) }
            XCTAssertEqual(shards.flatMap { $0 }.count, units.count, "N = \(n): disjoint")
            XCTAssertEqual(Set(shards.flatMap { $0 }), Set(units), "N = \(n): covering")
            XCTAssertLessThanOrEqual((shards.map(\.count).max() ?? 0) - (shards.map(\.count).min() ?? 0), 1, "N = \(n): balanced")
        }
        XCTAssertEqual(try Shard(parsing: "2/4"), Shard(index: 2, count: 4))
        for bad in ["0/4", "5/4", "2", "a/b", "1/0"] { XCTAssertThrowsError(try Shard(parsing: bad), bad) }
    }

    private func niah(_ out: String, shard: String? = nil, budgets: String = "32", _ extra: [String] = []) throws -> CommandResult {
        try runCommand(try TestPaths.binary(), [
            "niah", "--model", try TestPaths.smolLM2(), "--lengths", "400", "--depths", "0,50,100", "--policies", "full,snapkv",
            "--budgets", budgets, "--window", "16", "--out", out, "--progress", "never",
        ] + (shard.map { ["--shard", $0] } ?? []) + extra)
    }

    private func merge(_ arguments: [String]) throws -> CommandResult {
        try runCommand(try TestPaths.binary(), ["merge"] + arguments)
    }

    func testMergedShardsEqualTheUnshardedRunAndAKilledShardLosesNothing() throws {
        let whole = path("whole.h5"), one = path("one.h5"), two = path("two.h5"), merged = path("merged.h5")
        XCTAssertEqual(try niah(whole).status, 0)
        XCTAssertEqual(try niah(two, shard: "2/2").status, 0)
        // Shard 1/2 holds two prompts: killed after the first, then resumed.
        let journal = EvaluationJournal.path(for: one)
        let lines = try EvaluationSweepTests.killAfterFirstPrompt([
            "niah", "--model", try TestPaths.smolLM2(), "--lengths", "400", "--depths", "0,50,100", "--policies", "full,snapkv",
            "--budgets", "32", "--window", "16", "--out", one, "--progress", "never", "--shard", "1/2",
        ], journal: journal)
        XCTAssertGreaterThanOrEqual(lines, 3)
        XCTAssertEqual(try niah(one, shard: "1/2", ["--resume"]).status, 0)

        let shardOne = try EvaluationFile.read(one)
        XCTAssertEqual(shardOne.shard, Shard(index: 1, count: 2))
        XCTAssertEqual(shardOne.rows.count, 4)
        let result = try merge([merged, two, one])
        XCTAssertEqual(result.status, 0, result.stderr)
        let a = try EvaluationFile.read(merged), b = try EvaluationFile.read(whole)
        XCTAssertEqual(a.gridJSON, b.gridJSON)
        XCTAssertEqual(a.shard, .whole)
        XCTAssertEqual(a.rows.count, b.rows.count)
        for (x, y) in zip(a.rows, b.rows) { XCTAssertTrue(x.sameResult(as: y), "\(x.cellName) differs from the unsharded run") }
        // The merged CSV holds the merged rows (checked from outside, scores recomputed).
        let check = try runCommand(try TestPaths.python(), [TestPaths.packageRoot.appendingPathComponent("Tests/python/check_eval.py").path,
                                                            merged, EvaluationFile.csvPath(for: merged)])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
    }

    func testMergeRefusals() throws {
        let one = path("one.h5"), two = path("two.h5"), other = path("other.h5")
        XCTAssertEqual(try niah(one, shard: "1/2").status, 0)
        XCTAssertEqual(try niah(two, shard: "2/2").status, 0)
        XCTAssertEqual(try niah(other, shard: "2/2", budgets: "16").status, 0)
        func refused(_ arguments: [String], _ fragment: String, line: UInt = #line) throws {
            let result = try merge(arguments)
            XCTAssertNotEqual(result.status, 0, line: line)
            let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", line: line)
            XCTAssertTrue(message.contains(fragment), "expected '\(fragment)' in: \(message)", line: line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: arguments[0]), "no output after a refusal", line: line)
        }
        try refused([path("m1.h5"), one, other], "another grid")
        try refused([path("m2.h5"), one], "lack 2 of the grid's 6 cells: niah/L400/d50/full/0, niah/L400/d50/snapkv/32")
        try refused([path("m3.h5"), one, two, one], "is also in")
        // A shard whose caches had another storage (its recorded kv_type changed) is refused: cache_bytes would mix.
        let stored = try HDF5File.open(two, mode: .readWrite)
        try stored.setAttribute("kv_type", "f32")
        stored.close()
        try refused([path("m5.h5"), one, two], "made with kv_type f32")
        // A shard of another model (its recorded hash changed) is refused.
        let file = try HDF5File.open(two, mode: .readWrite)
        try file.setAttribute("model_sha256", String(repeating: "0", count: 64))
        file.close()
        try refused([path("m4.h5"), one, two], "another model")
    }
}
