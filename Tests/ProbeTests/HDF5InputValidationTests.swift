import Foundation
import XCTest
@testable import Probe
@testable import Analysis
@testable import Compression

/// HDF5 inputs checked before they are read (issue 22): a file of another kind, a truncated file, a missing
/// dataset, a wrong shape or element type each give one line naming the file and the problem, never a trap or a
/// wrong result.
final class HDF5InputValidationTests: XCTestCase {
    let (L, H, G, d, n, S, w) = (2, 4, 2, 8, 6, 3, 2)

    func temporary(_ name: String) throws -> String {
        try TestPaths.temporaryDirectory().appendingPathComponent(name).path
    }

    /// A capture written by hand with the shapes its root attributes promise, but for `omit` (left out) and
    /// `reshape` (written with another shape) and `asStrings` (written as strings).
    func handMadeCapture(_ name: String, schema: String = CaptureWriter.schema, omit: String? = nil,
                         reshape: (name: String, shape: [Int])? = nil, asStrings: String? = nil) throws -> String {
        let path = try temporary(name)
        let f = try HDF5File.create(path)
        defer { f.close() }
        try f.setAttribute("schema", schema)
        try f.setAttribute("complete", 1)
        for (key, value) in [("model_path", "tiny.gguf"), ("model_sha256", "0"), ("architecture", "llama"), ("rope_layout", "normal")] {
            try f.setAttribute(key, value)
        }
        for (key, value) in [("n_layers", L), ("n_heads", H), ("n_kv_heads", G), ("d_head", d), ("n_prompt", n), ("n_decode", S)] {
            try f.setAttribute(key, value)
        }
        try f.setAttribute("rope_base", 10000.0)
        let datasets: [(String, [Int])] = [("tokens/prompt", [n]), ("tokens/generated", [S]), ("prompt/rot_k", [L, G, n, d]),
                                           ("prompt/rot_q_window", [L, H, w, d]), ("decode/rot_q", [L, H, S, d]),
                                           ("decode/rot_k", [L, G, S, d]), ("decode/importance", [L, G, n])]
        for (dataset, promised) in datasets where dataset != omit {
            let shape = reshape?.name == dataset ? reshape!.shape : promised
            if asStrings == dataset {
                _ = try f.createStringDataset(dataset, values: Array(repeating: "x", count: shape.reduce(1, *)), description: "")
            } else {
                _ = try f.createDataset(dataset, values: [Float](repeating: 0.5, count: shape.reduce(1, *)), shape: shape, description: "")
            }
        }
        return path
    }

    func assertRefused(_ path: String, containing fragment: String, _ read: (String) throws -> Void,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try read(path), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(path + ": "), "message should name the file: \(message)", file: file, line: line)
            XCTAssertTrue(message.contains(fragment), "expected '\(fragment)' in: \(message)", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
        }
    }

    func readCapture(_ path: String) throws { _ = try CaptureFile(path: path) }

    func testHandMadeCaptureReads() throws {
        let capture = try CaptureFile(path: try handMadeCapture("good.h5"))
        XCTAssertEqual(capture.promptKeys.count, L * G * n * d)
        XCTAssertEqual(capture.windowPositions, [n - 2, n - 1])
    }

    func testFileOfAnotherKind() throws {
        assertRefused(try handMadeCapture("ablation.h5", schema: AblationWriter.schema),
                      containing: "not a capture file (schema 'dapq-probe/ablation', expected 'dapq-probe/capture')", readCapture)
        assertRefused(try handMadeCapture("capture-as-eval.h5"), containing: "not a dapq-probe eval file (schema 'dapq-probe/capture'") {
            _ = try EvaluationFile.read($0)
        }
        let text = try temporary("notes.h5")
        try Data("not HDF5 at all".utf8).write(to: URL(fileURLWithPath: text))
        assertRefused(text, containing: "not a readable HDF5 file", readCapture)
        assertRefused(text, containing: "not an HDF5 file") { _ = try HDF5Inspection(path: $0) }
    }

    func testMissingDatasetWrongShapeAndWrongType() throws {
        assertRefused(try handMadeCapture("missing.h5", omit: "decode/rot_q"), containing: "missing dataset 'decode/rot_q'", readCapture)
        assertRefused(try handMadeCapture("shape.h5", reshape: ("prompt/rot_k", [L, G, n + 1, d])),
                      containing: "dataset 'prompt/rot_k' has shape [2, 2, 7, 8], expected [2, 2, 6, 8]", readCapture)
        assertRefused(try handMadeCapture("rank.h5", reshape: ("decode/importance", [L * G * n])),
                      containing: "dataset 'decode/importance' has shape [24], expected [2, 2, 6]", readCapture)
        assertRefused(try handMadeCapture("window.h5", reshape: ("prompt/rot_q_window", [L, H, n + 1, d])),
                      containing: "dataset 'prompt/rot_q_window' has shape [2, 4, 7, 8]", readCapture)
        assertRefused(try handMadeCapture("strings.h5", asStrings: "tokens/generated"),
                      containing: "dataset 'tokens/generated' holds string, expected numbers", readCapture)
    }

    func testTruncatedFile() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: try handMadeCapture("whole.h5")))
        for keep in [whole.count / 2, 600, 100] {
            let path = try temporary("truncated-\(keep).h5")
            try whole.prefix(keep).write(to: URL(fileURLWithPath: path))
            assertRefused(path, containing: "truncated", readCapture)
            XCTAssertFalse(CaptureFile.isCapture(path))
            assertRefused(path, containing: "truncated") { _ = try HDF5Inspection(path: $0) }
        }
    }

    /// The plot scripts open their inputs through notebooks-data/h5input.py: one line, not a traceback.
    func testPlotScriptsRefuseFilesOfAnotherKindInOneLine() throws {
        let python = try TestPaths.python()
        let whole = try Data(contentsOf: URL(fileURLWithPath: try handMadeCapture("for-plots.h5")))
        let truncated = try temporary("truncated-for-plots.h5")
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: truncated))
        let ablation = try handMadeCapture("ablation-for-plots.h5", schema: AblationWriter.schema)
        let noImportance = try handMadeCapture("no-importance.h5", omit: "decode/importance")
        for (script, input, fragment) in [("plot_capture.py", ablation, "not a capture file (schema 'dapq-probe/ablation'"),
                                          ("plot_capture.py", truncated, "not a readable HDF5 file"),
                                          ("plot_capture.py", noImportance, "malformed capture file"),
                                          ("plot_ablation.py", noImportance, "not an ablation file (schema 'dapq-probe/capture'"),
                                          ("plot_eval.py", truncated, "not a readable HDF5 file")] {
            let result = try runCommand(python, [TestPaths.packageRoot.appendingPathComponent("notebooks-data/" + script).path,
                                                 input, "--out", try temporary("plots")])
            let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertNotEqual(result.status, 0, script)
            XCTAssertTrue(message.hasPrefix(input + ": ") && message.contains(fragment), "\(script): \(message)")
            XCTAssertFalse(message.contains("\n"), "\(script): one line: \(message)")
        }
    }

    /// An eval file whose columns disagree in length: reading it used to index past the shorter column.
    func testEvaluationColumnsMustAgree() throws {
        let path = try temporary("eval.h5")
        let f = try HDF5File.create(path)
        try f.setAttribute("schema", EvaluationFile.schema)
        try f.setAttribute("complete", 1)
        try f.setAttribute("grid", "{}")
        for name in ["task", "policy", "answer", "reference"] {
            _ = try f.createStringDataset("cells/\(name)", values: ["niah", "niah", "niah"], description: "")
        }
        for name in ["length", "sample", "budget", "entries", "prompt_tokens"] {
            _ = try f.createDataset("cells/\(name)", values: [Int32](repeating: 1, count: 3), shape: [3], description: "")
        }
        _ = try f.createDataset("cells/generated_tokens", values: [Int32](repeating: 1, count: 2), shape: [2], description: "")
        f.close()
        assertRefused(path, containing: "dataset 'cells/generated_tokens' has shape [2], expected [3]") { _ = try EvaluationFile.read($0) }
    }
}
