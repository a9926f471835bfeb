import Foundation
import XCTest

@testable import Compression
@testable import Probe

/// `niah` and `ruler` end to end on a small grid (one length, two depths or samples, two policies, one budget):
/// the HDF5 and CSV checked from outside (scores recomputed), a sweep killed midway and resumed, refusals.
final class EvaluationSweepTests: TemporaryDirectoryTestCase {
    private func niah(_ out: String, depths: String = "10,90", _ extra: [String] = []) throws -> CommandResult {
        try runCommand(try TestPaths.binary(), [
            "niah", "--model", try TestPaths.smolLM2(), "--lengths", "400", "--depths", depths, "--policies", "full,snapkv",
            "--budgets", "32", "--window", "16", "--out", out, "--progress", "always",
        ] + extra)
    }

    private func checkWithPython(_ out: String, line: UInt = #line) throws {
        let check = try runCommand(try TestPaths.python(), [
            TestPaths.packageRoot.appendingPathComponent("Tests/python/check_eval.py").path, out, EvaluationFile.csvPath(for: out),
        ])
        XCTAssertEqual(check.status, 0, "check_eval.py:\n\(check.stdout)\n\(check.stderr)", line: line)
        XCTAssertTrue(check.stdout.hasSuffix("eval OK\n"), check.stdout, line: line)
    }

    func testNIAHSmallGridFilesSummaryAndRefusals() throws {
        let out = path("niah.h5")
        let result = try niah(out)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("full cache (reference)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("snapkv"), result.stdout)
        try checkWithPython(out)
        let contents = try EvaluationFile.read(out)
        XCTAssertEqual(contents.rows.count, 2 * (1 + 1))
        XCTAssertEqual(contents.rows.map(\.policy), ["full", "snapkv", "full", "snapkv"])
        // The needle's span is known by construction; the whole cache keeps it, the 32 entries of snapkv keep a part at most.
        for row in contents.rows {
            let recall = try XCTUnwrap(row.spanRecall, "\(row.cellName) has no span recall")
            XCTAssertGreaterThan(try XCTUnwrap(row.spanEnd) - (try XCTUnwrap(row.spanStart)), 10, "the needle sentence's tokens")
            if row.policy == "full" { XCTAssertEqual(recall, 1) } else { XCTAssertLessThanOrEqual(try XCTUnwrap(row.spanRecallLayerMin), recall) }
            let heads = try XCTUnwrap(row.spanRecallHeads, "read back per head")
            XCTAssertEqual(heads.count, 30 * 3)
            XCTAssertEqual(heads.reduce(0, +) / 90, recall, accuracy: 1e-6)
        }
        // notebooks-data/eval_table.py reads the file into the README's table: score (span recall) [exact/total].
        let table = try runCommand(try TestPaths.python(), [
            TestPaths.packageRoot.appendingPathComponent("notebooks-data/eval_table.py").path, out, "--exact"])
        XCTAssertEqual(table.status, 0, table.stderr)
        let snap = contents.rows.filter { $0.policy == "snapkv" }
        let mean = { (xs: [Double]) in String(format: "%.2f", xs.reduce(0, +) / Double(xs.count)) }
        let expected = "| `snapkv` | \(mean(snap.map(\.score))) (\(mean(snap.compactMap(\.spanRecall)))) [\(snap.filter { $0.score == 1 }.count)/2] |"
        XCTAssertTrue(table.stdout.contains(expected), "\(expected)\n\(table.stdout)")
        XCTAssertTrue(table.stdout.contains("**task niah, length 400, placement inside** (2 prompts; full cache"), table.stdout)
        // With retrieval heads (here layer 20's KV heads 1 and 2): the kept span over those heads alone, from span_recall_heads.
        let heads = path("retrieval_heads.csv")
        try "# hand-made\nlayer,head,kv_head,retrieval_score,above_threshold,retrieval_kv_head\n20,3,1,0.5,1,1\n20,6,2,0.4,1,1\n20,0,0,0.0,0,0\n"
            .write(toFile: heads, atomically: true, encoding: .utf8)
        let byHeads = try runCommand(try TestPaths.python(), [
            TestPaths.packageRoot.appendingPathComponent("notebooks-data/eval_table.py").path, out, "--retrieval-heads", heads])
        XCTAssertEqual(byHeads.status, 0, byHeads.stderr)
        let retrieval = try snap.map { row -> Double in
            let h = try XCTUnwrap(row.spanRecallHeads)
            return (h[20 * 3 + 1] + h[20 * 3 + 2]) / 2
        }
        let withHeads = "| `snapkv` | \(mean(snap.map(\.score))) (\(mean(snap.compactMap(\.spanRecall))) / \(mean(retrieval))) |"
        XCTAssertTrue(byHeads.stdout.contains(withHeads), "\(withHeads)\n\(byHeads.stdout)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: EvaluationJournal.path(for: out)), "the journal is removed when done")

        let again = try niah(out)
        XCTAssertNotEqual(again.status, 0, "an existing output is refused without --force")
        XCTAssertTrue(again.stderr.contains(out), again.stderr)
        let tooLong = try niah(path("long.h5"), ["--lengths", "9000"])
        XCTAssertNotEqual(tooLong.status, 0)
        XCTAssertTrue(tooLong.stderr.contains("exceed the model's context"), tooLong.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("long.h5")))
    }

    /// `--json`: one object per cell on stdout as its prompt finishes (the CSV's columns), then the summary object;
    /// nothing else on stdout. `--compression-ratio` sizes each prompt's budget as kvpress does (n·(1−R), rounded),
    /// and refuses to be given with `--budgets`.
    func testJSONLinesAndCompressionRatios() throws {
        let out = path("ratio.h5")
        let result = try runCommand(try TestPaths.binary(), [
            "niah", "--model", try TestPaths.smolLM2(), "--lengths", "400", "--depths", "50", "--policies", "full,snapkv",
            "--compression-ratio", "0.5,0.9", "--window", "16", "--out", out, "--json", "--progress", "never",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let objects = try result.stdout.split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], String($0))
        }
        XCTAssertEqual(objects.map { $0["record"] as? String }, ["cell", "cell", "cell", "summary"], result.stdout)
        for cell in objects.dropLast() {
            XCTAssertEqual(Set(cell.keys).subtracting(["record", "compression_ratio", "span_recall_heads"]),
                           Set(EvaluationFile.csvColumns).subtracting(["compression_ratio"]))
            XCTAssertEqual((cell["span_recall_heads"] as? [Double])?.count, 30 * 3, "per (layer, KV head) of SmolLM2")
        }
        let prompt = try XCTUnwrap(objects[1]["prompt_tokens"] as? Int)
        XCTAssertEqual(objects[1]["budget"] as? Int, Int((Double(prompt) * 0.5).rounded()))
        XCTAssertEqual(objects[2]["budget"] as? Int, Int((Double(prompt) * 0.1).rounded()))
        XCTAssertEqual(objects[2]["compression_ratio"] as? Double, 0.9)
        let summary = objects[3]
        XCTAssertEqual(summary["cells"] as? Int, 3)
        let means = try XCTUnwrap(summary["means"] as? [[String: Any]])
        XCTAssertEqual(means.map { $0["budget"] as? String }, ["0", "cr0.5", "cr0.9"])
        try checkWithPython(out)
        let rows = try EvaluationFile.read(out).rows
        XCTAssertEqual(rows.map(\.compressionRatio), [nil, 0.5, 0.9])

        let both = try niah(path("both.h5"), ["--compression-ratio", "0.5"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("give --budgets or --compression-ratio, not both"), both.stderr)
    }

    /// DapQ cells beside the ordinary policies in one sweep, the question outside: the policy column names each
    /// cell, the placement is in the rows, the CSV and the grid, and the files pass the independent check.
    func testNIAHWithDapQCellsAndTheQuestionOutside() throws {
        let out = path("cells.h5")
        let cells = "dapq[content=suffix,position=far],dapq[content=oracle,position=future]"
        let result = try niah(out, depths: "50", ["--policies", "full,snapkv,oracle," + cells, "--pseudo-count", "16",
                                                 "--question-placement", "outside", "--budgets", "48",
                                                 "--save-prompts", path("prompts")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("dapq[content=suffix,position=far]"), result.stdout)
        try checkWithPython(out)
        let contents = try EvaluationFile.read(out)
        XCTAssertEqual(contents.rows.map(\.policy), ["full", "snapkv", "oracle", "dapq[content=suffix,position=far]",
                                                     "dapq[content=oracle,position=future]"])
        XCTAssertTrue(contents.rows.allSatisfy { $0.placement == "outside" })
        XCTAssertEqual(contents.grid.settings["question_placement"], "outside")
        XCTAssertEqual(contents.grid.settings["pseudo_position"], "future")
        let csv = String(decoding: FileManager.default.contents(atPath: EvaluationFile.csvPath(for: out))!, as: UTF8.self)
        XCTAssertTrue(csv.contains("\"dapq[content=suffix,position=far]\",outside,48,"), csv)
        // The saved prompt: its text, tokenized as `capture --prompt-file` does (no chat template: it is in the
        // text), gives the ids the sweep decoded from.
        let text = try String(contentsOfFile: path("prompts/niah_L400_d50.txt"), encoding: .utf8)
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("prompts/niah_L400_d50.json")))) as! [String: Any]
        let tokenizer = try Tokenizer(gguf: try GGUFFile(path: try TestPaths.smolLM2()))
        var ids = tokenizer.encode(text)
        if tokenizer.addsBOS, let bos = tokenizer.bosID { ids.insert(bos, at: 0) }
        XCTAssertEqual(saved["tokens"] as? [Int], ids)
        XCTAssertEqual(ids.count, contents.rows[0].promptTokens)
        XCTAssertEqual(saved["unit"] as? String, "niah/L400/d50")
        XCTAssertEqual(saved["max_new_tokens"] as? Int, 32)
        XCTAssertNotNil(saved["question_token_start"] as? Int)
        // The answer's span as capture --answer-span takes it: the needle's tokens, the eval rows' span.
        let span = try XCTUnwrap(saved["answer_span"] as? String).split(separator: ":").compactMap { Int($0) }
        XCTAssertEqual(span, [contents.rows[0].spanStart, contents.rows[0].spanEnd].compactMap { $0 })
        XCTAssertTrue(tokenizer.decode(Array(ids[span[0]..<span[1]])).contains("Dolores Park"))
        let bad = try niah(path("bad.h5"), ["--question-placement", "sideways"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--question-placement 'sideways'"), bad.stderr)
    }

    func testAKilledSweepResumesWithoutRedoingOrLosingCells() throws {
        let out = path("resumed.h5")
        let journal = EvaluationJournal.path(for: out)
        let journaled = try Self.killAfterFirstPrompt(["niah", "--model", try TestPaths.smolLM2(), "--lengths", "400", "--depths", "0,50,100",
                                                      "--policies", "full,snapkv", "--budgets", "32", "--window", "16", "--out", out,
                                                      "--progress", "never"], journal: journal)
        XCTAssertGreaterThanOrEqual(journaled, 3, "the first prompt was journaled before the kill")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no finished-looking output after a kill")
        let before = String(decoding: FileManager.default.contents(atPath: journal)!, as: UTF8.self)
            .split(separator: "\n").dropFirst().map(String.init)

        let fresh = try niah(out, depths: "0,50,100")
        XCTAssertNotEqual(fresh.status, 0, "an unfinished journal is not silently overwritten")
        XCTAssertTrue(fresh.stderr.contains("--resume"), fresh.stderr)
        let differentGrid = try niah(out, ["--resume"])
        XCTAssertNotEqual(differentGrid.status, 0, "resuming with another grid is refused")
        XCTAssertTrue(differentGrid.stderr.contains("another grid"), differentGrid.stderr)
        let resumed = try niah(out, depths: "0,50,100", ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("done before"), resumed.stderr)
        try checkWithPython(out)
        let rows = try EvaluationFile.read(out).rows
        XCTAssertEqual(rows.count, 3 * 2)
        // The cells finished before the kill are kept as they were (their timings too: not redone).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let kept = try rows.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        for line in before { XCTAssertTrue(kept.contains(line), "cell lost or redone: \(line)") }

        // The same grid run in one go gives the same results.
        let whole = path("whole.h5")
        XCTAssertEqual(try niah(whole, depths: "0,50,100").status, 0)
        let reference = try EvaluationFile.read(whole).rows
        XCTAssertEqual(reference.count, rows.count)
        for (a, b) in zip(rows, reference) { XCTAssertTrue(a.sameResult(as: b), "\(a.cellName)") }
    }

    /// Starts `arguments`, kills it with SIGKILL (no cleanup) once the journal holds the header and the first
    /// prompt's two cells; returns the journal's line count at the kill.
    static func killAfterFirstPrompt(_ arguments: [String], journal: String) throws -> Int {
        func journalLines() -> Int {
            (FileManager.default.contents(atPath: journal).map { $0.filter { $0 == 0x0A }.count }) ?? 0
        }
        _ = try killTool(arguments, within: 120) { journalLines() >= 3 }
        return journalLines()
    }

    func testRulerSmallGrid() throws {
        let out = path("ruler.h5")
        let result = try runCommand(try TestPaths.binary(), [
            "ruler", "--model", try TestPaths.smolLM2(), "--task", "niah_single_1,niah_single_3", "--lengths", "400",
            "--samples", "2", "--policies", "full,streaming", "--budgets", "32", "--out", out, "--seed", "7",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        try checkWithPython(out)
        let rows = try EvaluationFile.read(out).rows
        XCTAssertEqual(rows.count, 2 * 2 * 2)
        XCTAssertTrue(rows.allSatisfy { $0.depth == nil && $0.sample >= 0 })
        XCTAssertTrue(rows.filter { $0.task == "niah_single_3" }.allSatisfy { $0.reference.count == 36 }, "UUID references")
    }
}
