import Foundation
import XCTest

@testable import Probe

/// `make demo`'s script (scripts/demo.sh) end to end on the default model, into a temporary folder: it exits 0,
/// prints the answer, inspect's summary, the ablation's headline table and where every file went, and writes
/// the capture (with the needle's answer span), the ablation file and the PNGs.
final class DemoTests: TemporaryDirectoryTestCase {
    func testDemoScriptWritesEveryFileItNames() throws {
        _ = try TestPaths.smolLM2()
        let result = try runScript("scripts/demo.sh", environment: ["DEMO_DIR": directory.path])
        let stdout = result.stdout
        XCTAssertEqual(result.status, 0, "stdout:\n\(stdout)\nstderr:\n\(result.stderr)")
        for expected in ["answer: ", "answer evidence:", "schema_version", "/decode/retrieval_score", "main effects on mass recall",
                         "references:", "retrieval heads", "Files:"] {
            XCTAssertTrue(stdout.contains(expected), "the demo's output lacks \(expected):\n\(stdout)")
        }
        for name in ["prompt.txt", "capture.h5", "ablation.h5"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path(name)), "no \(name)")
        }
        let pngs = try FileManager.default.contentsOfDirectory(atPath: path("plots")).filter { $0.hasSuffix(".png") }
        XCTAssertTrue(pngs.contains("ablation_grid.png") && pngs.count >= 3, "\(pngs)")
        let capture = try HDF5File.open(path("capture.h5"))
        defer { capture.close() }
        XCTAssertTrue(capture.exists("prompt/answer_span"), "the demo's capture marks the needle's value")
        XCTAssertTrue(stdout.contains("answer span"), stdout)
    }
}
