import Foundation
import XCTest

@testable import Compression

/// `make eval-paper`'s script (scripts/eval_paper.sh) on a tiny grid of the default model: one sweep per task set,
/// length and placement, budgets per length as documented (L/64, L/32, L/16 to the nearest power of two, and 64;
/// outside none under 64), the tables and plots written, and a second run keeping the finished sweeps.
final class EvalPaperTests: TemporaryDirectoryTestCase {
    func testSweepsBudgetsTablesAndResume() throws {
        _ = try TestPaths.smolLM2()
        let environment = ["MODEL": "smollm2-135m", "OUT": path("out"), "RESULTS": path("results"), "NIAH_LENGTHS": "400",
                           "RULER_LENGTHS": "500", "DEPTHS": "50", "SAMPLES": "1", "POLICIES": "full,snapkv"]
        let first = try runScript("scripts/eval_paper.sh", environment: environment)
        XCTAssertEqual(first.status, 0, "stdout:\n\(first.stdout)\nstderr:\n\(first.stderr)")
        let expected = ["niah-L400-inside": [8, 16, 32, 64], "ruler-L500-inside": [8, 16, 32, 64],
                        "niah-L400-outside": [64], "ruler-L500-outside": [64]]
        for (name, budgets) in expected {
            let contents = try EvaluationFile.read(path("out/\(name).h5"))
            XCTAssertEqual(contents.grid.budgets, budgets, name)
            XCTAssertEqual(contents.grid.settings["question_placement"], name.hasSuffix("outside") ? "outside" : "inside", name)
            XCTAssertTrue(FileManager.default.fileExists(atPath: path("results/\(name)/\(name).csv")), name)
            XCTAssertTrue(FileManager.default.fileExists(atPath: path("results/\(name)/\(name)_score_vs_budget.png")), name)
        }
        let summary = try String(contentsOfFile: path("results/summary.md"), encoding: .utf8)
        for heading in ["**task niah, length 400, placement inside**", "**task niah_single_3, length 500, placement outside**"] {
            XCTAssertTrue(summary.contains(heading), summary)
        }
        XCTAssertTrue(summary.contains("| `snapkv` |"), summary)

        let again = try runScript("scripts/eval_paper.sh", environment: environment)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout.components(separatedBy: "is complete, kept").count - 1, 4, again.stdout)
    }
}
