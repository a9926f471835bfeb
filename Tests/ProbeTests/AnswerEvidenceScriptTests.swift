import Foundation
import XCTest

/// notebooks-data/answer_evidence_run.sh (the README's "From attention to answers") on a tiny grid of the default
/// model: the dapq-cell grid with saved prompts, then their captures ablated and joined with the answers; the
/// prediction table names the attention and span measurements, the tables carry the span recall over the retrieval
/// heads the captures found.
final class AnswerEvidenceScriptTests: TemporaryDirectoryTestCase {
    func testGridAndPredictionOnATinyGrid() throws {
        _ = try TestPaths.smolLM2()
        let result = try runScript("notebooks-data/answer_evidence_run.sh", environment: [
            "MODEL": "smollm2-135m", "OUT": path("out"), "RESULTS": path("results"), "PARTS": "grid predict",
            "LENGTHS": "400", "DEPTHS": "30,70", "BUDGETS": "64"])
        XCTAssertEqual(result.status, 0, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        let predict = try String(contentsOfFile: path("results/predict.csv"), encoding: .utf8)
        for measurement in ["mass_recall", "top_k_recall", "span_recall_retrieval", "kept_span_recall", "kept_span_retrieval"] {
            XCTAssertTrue(predict.contains(",\(measurement),"), "predict.csv lacks \(measurement):\n\(predict)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("results/retrieval_heads.csv")))
        let kept = try String(contentsOfFile: path("results/predict_kept.csv"), encoding: .utf8)
        XCTAssertTrue(kept.contains(",kept_span_other,"), kept)
        let tables = try String(contentsOfFile: path("results/tables.md"), encoding: .utf8)
        XCTAssertTrue(tables.contains("**task niah, length 400, placement inside** (2 prompts"), tables)
        XCTAssertTrue(tables.contains("| `dapq[content=oracle,position=fixed]` |"), tables)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("results/niah-inside.csv")))
    }
}
