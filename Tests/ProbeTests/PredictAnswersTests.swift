import Foundation
import XCTest

/// `notebooks-data/predict_answers.py` (which attention measurement predicts answers) on synthetic ablation and
/// eval files of known correlation: `Tests/python/check_predict_answers.py` builds them and checks the join and
/// the statistics (monotone → Spearman 1 and AUC 1, reversed → −1 and 0, constant → NaN, span columns optional).
final class PredictAnswersTests: TemporaryDirectoryTestCase {
    func testKnownCorrelationsOnSyntheticFiles() throws {
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/check_predict_answers.py").path
        let result = try runCommand(try TestPaths.python(), [script, directory.path])
        XCTAssertEqual(result.status, 0, "check_predict_answers.py:\n\(result.stdout)\n\(result.stderr)")
        XCTAssertTrue(result.stdout.hasSuffix("predict_answers OK\n"), result.stdout)
    }
}
