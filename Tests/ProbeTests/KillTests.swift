import Foundation
import XCTest

@testable import Compression
@testable import Probe

/// Runs killed with SIGKILL (no cleanup handler runs) at seeded random moments: no output that looks complete
/// is left under the target name, a rerun succeeds, and a resumed sweep gives the cells of an uninterrupted run.
final class KillTests: TemporaryDirectoryTestCase {
    /// The target does not exist, or it is a complete file of the tool (never a partial one).
    private func assertNothingIncomplete(_ target: String, line: UInt = #line) {
        guard FileManager.default.fileExists(atPath: target) else { return }
        let inspection = try? HDF5Inspection(path: target)
        let complete = inspection?.attributes.first { $0.name == "complete" }?.value
        XCTAssertEqual(complete, "1", "\(target) exists after a kill but is not complete", line: line)
    }

    /// Kill moments drawn from a fixed seed: the same in every run, spread over the command's run time.
    private func moments(_ count: Int, upTo seconds: Double, seed: UInt64) -> [Double] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in 0.05 + Double(generator.next() % 1000) / 1000 * seconds }
    }

    /// Kills `arguments` (with `--force`) at four seeded moments within `upTo` seconds: whatever a kill leaves under
    /// `out` is never an incomplete file (a kill after the file's atomic rename, while the command still prints, leaves
    /// the complete file). At least one kill must land before the rename, leaving nothing under `out`.
    private func killRepeatedly(_ arguments: [String], out: String, upTo seconds: Double, seed: UInt64, what: String,
                                line: UInt = #line) throws {
        var killedMidway = 0
        for moment in moments(4, upTo: seconds, seed: seed) {
            if try killTool(arguments + ["--force"], within: moment), !FileManager.default.fileExists(atPath: out) {
                killedMidway += 1
            }
            assertNothingIncomplete(out, line: line)
            try? FileManager.default.removeItem(atPath: out)
        }
        XCTAssertGreaterThan(killedMidway, 0, "at least one kill landed while the \(what) was writing", line: line)
    }

    private func run(_ arguments: [String], line: UInt = #line) throws {
        let result = try runCommand(try TestPaths.binary(), arguments)
        XCTAssertEqual(result.status, 0, result.stderr, line: line)
    }

    private var prompt: String {
        String(repeating: "The archive opens at dawn and closes at dusk. ", count: 40) + "When does the archive open?"
    }

    func testKilledCaptureLeavesNothingCompleteLookingAndARerunSucceeds() throws {
        let model = try TestPaths.smolLM2()
        let out = path("capture.h5")
        let arguments = ["capture", "--model", model, "--chat", "--prompt", prompt, "--steps", "16", "--values",
                         "--out", out, "--progress", "never"]
        try killRepeatedly(arguments, out: out, upTo: 3.0, seed: 11, what: "capture")
        try run(arguments)
        assertNothingIncomplete(out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
    }

    func testKilledAblationLeavesNothingCompleteLookingAndARerunSucceeds() throws {
        let model = try TestPaths.smolLM2()
        let capture = path("capture.h5")
        try run(["capture", "--model", model, "--chat", "--prompt", prompt, "--steps", "8", "--out", capture, "--progress", "never"])
        let out = path("ablation.h5")
        let arguments = ["ablate", capture, "--out", out, "--pseudo-count", "8", "--progress", "never"]
        try killRepeatedly(arguments, out: out, upTo: 4.0, seed: 12, what: "ablation")
        try run(arguments)
        assertNothingIncomplete(out)
    }

    func testKilledSweepResumesToTheCellsOfAnUninterruptedRun() throws {
        let model = try TestPaths.smolLM2()
        let grid = ["niah", "--model", model, "--lengths", "300", "--depths", "0,50,100", "--policies", "full,snapkv,tova",
                    "--budgets", "32", "--window", "16", "--progress", "never"]
        let reference = path("reference.h5")
        try run(grid + ["--out", reference])
        let out = path("resumed.h5")
        for moment in moments(2, upTo: 6.0, seed: 13) where !FileManager.default.fileExists(atPath: out) {
            _ = try killTool(grid + ["--out", out, "--resume"], within: moment)
            assertNothingIncomplete(out)
        }
        if !FileManager.default.fileExists(atPath: out) { try run(grid + ["--out", out, "--resume"]) }
        let rows = try EvaluationFile.read(out).rows, expected = try EvaluationFile.read(reference).rows
        XCTAssertEqual(rows.count, expected.count)
        for (a, b) in zip(rows, expected) { XCTAssertTrue(a.sameResult(as: b), a.cellName) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: EvaluationJournal.path(for: out)))
    }

    /// A sweep that fails at its first prompt (the question outside needs more than B entries) has nothing to resume:
    /// it exits non-zero and leaves neither an output nor a journal.
    func testAFailedSweepWithNothingFinishedLeavesNoJournal() throws {
        let out = path("failed.h5")
        let result = try runCommand(try TestPaths.binary(), [
            "niah", "--model", try TestPaths.smolLM2(), "--lengths", "300", "--depths", "50", "--policies", "full,snapkv",
            "--budgets", "8", "--window", "4", "--question-placement", "outside", "--out", out, "--progress", "never"])
        XCTAssertNotEqual(result.status, 0, result.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertFalse(FileManager.default.fileExists(atPath: EvaluationJournal.path(for: out)), "no journal of a run that finished nothing")
    }
}
