import Foundation
import XCTest

@testable import Analysis
@testable import Compression
@testable import Probe

/// What a researcher reads without the tool: progress lines (throttled on a clock the test drives), one-line CSV
/// answers, the JSON rows, and the one rounding of every fraction-of-the-prompt budget.
final class OutputFormatTests: XCTestCase {
    /// A reporter on a fake clock that records what it writes.
    private func reporter(_ style: ProgressReporter.Style) -> (ProgressReporter, () -> [String], (Double) -> Void) {
        final class Box: @unchecked Sendable { var now = 100.0; var written: [String] = [] }
        let box = Box()
        let reporter = ProgressReporter(style: style, clock: { box.now }, write: { box.written.append($0) })
        return (reporter, { box.written }, { box.now += $0 })
    }

    func testPlainLinesComeEveryFiveSecondsNeverPerToken() {
        let (progress, written, advance) = reporter(.lines(interval: 5, immediate: false))
        // 1000 decoding steps, 10 ms apart: 10 s of work.
        for step in 1...1000 {
            advance(0.01)
            progress.update(done: step, total: 1000, unit: "steps", elapsed: Double(step) * 0.01, force: step == 1)
        }
        XCTAssertEqual(written().count, 2, "one line at 5 s and one at 10 s: \(written())")
        XCTAssertTrue(written().allSatisfy { $0.hasSuffix("\n") && !$0.contains("\r") }, "plain lines")
        XCTAssertTrue(written()[0].hasPrefix("[#####.....]  50%  500/1000 steps  ETA 5s"), written()[0])

        // `always`: the first line and each forced phase at once, otherwise the same throttle.
        let (eager, eagerWritten, eagerAdvance) = reporter(.lines(interval: 5, immediate: true))
        eager.status("prefill", force: true)
        eagerAdvance(1)
        eager.status("still prefill")
        eager.status("decoding", force: true)
        eagerAdvance(1)
        eager.status("decoding on")
        XCTAssertEqual(eagerWritten(), ["prefill\n", "decoding\n"])
    }

    func testTerminalBarRedrawsInPlaceAtMostTenTimesASecond() {
        let (progress, written, advance) = reporter(.terminal)
        for prompt in 0..<27 {
            for _ in 0..<50 {
                advance(0.01)
                progress.update(done: prompt, total: 27, unit: "prompts", elapsed: 3)
            }
        }
        progress.finish()
        XCTAssertEqual(written().count, 27 * 50 / 10 + 1, "a redraw every 0.1 s, then the erase")
        XCTAssertTrue(written().dropLast().allSatisfy { $0.hasPrefix("\r\u{1B}[K[") }, "redrawn in place")
        XCTAssertEqual(written().last, "\r\u{1B}[K")
        XCTAssertEqual(ProgressReporter.bar(done: 12, total: 27), "[####......]  44%")
        XCTAssertEqual(ProgressReporter.duration(80), "1m20s")
        XCTAssertEqual(ProgressReporter.duration(7260), "2h01m")
    }

    func testAnswersStayOnOneLineInCSVAndTables() {
        XCTAssertEqual(OneLineText.escaped("it's\n\n\nfine\\ok\t"), "it's\\n\\n\\nfine\\\\ok\\t")
        XCTAssertEqual(OneLineText.csvField("a, \"b\"\nc"), "\"a, \"\"b\"\"\\nc\"")
        var row = EvaluationRow(task: "niah", length: 300, depth: 50, sample: -1, policy: "snapkv", placement: "inside", budget: 32,
                                entries: 32, score: 0.5, answer: " to eat.\n\n\nThe end, \"really\".", reference: "eat",
                                needleDepth: 50, promptTokens: 300, generatedTokens: 9, cacheBytes: 1000, prefillMs: 1,
                                scoreMs: 2, decodeMs: 3)
        let csv = EvaluationFile.csvText([row])
        XCTAssertEqual(csv.split(separator: "\n", omittingEmptySubsequences: false).count, 3, "header, one row, final newline: \(csv)")
        XCTAssertTrue(csv.contains("\" to eat.\\n\\n\\nThe end, \"\"really\"\".\""), csv)

        // The JSON row carries the CSV's columns under the same names (compression_ratio only when set, the span's
        // columns only where the span is known, with the per-head values beside them).
        let spanColumns: Set<String> = ["span_start", "span_end", "span_recall", "span_recall_layer_min"]
        XCTAssertEqual(Set(row.jsonObject.keys).subtracting(["record"]),
                       Set(EvaluationFile.csvColumns).subtracting(spanColumns.union(["compression_ratio"])))
        row.compressionRatio = 0.5
        (row.spanStart, row.spanEnd, row.spanRecall, row.spanRecallLayerMin, row.spanRecallHeads) = (3, 7, 0.5, 0.25, [0.25, 0.75])
        let object = row.jsonObject
        XCTAssertEqual(object["record"] as? String, "cell")
        XCTAssertEqual(Set(object.keys).subtracting(["record", "span_recall_heads"]), Set(EvaluationFile.csvColumns))
        XCTAssertEqual(object["span_recall_heads"] as? [Double], [0.25, 0.75])
        XCTAssertEqual(object["answer"] as? String, row.answer, "JSON keeps the raw answer")
        XCTAssertEqual(object["compression_ratio"] as? Double, 0.5)
        XCTAssertEqual(row.cellName, "niah/L300/d50/snapkv/cr0.5")
    }

    /// `compress --budget 3%`, `--compression-ratio` and `ablate`'s headline k round through one function: 3% of 50
    /// is 1.5, which rounds to 2 in both (the headline picks k = 2 over k = 1, where the unrounded 1.5 was a tie).
    func testOneRoundingForEveryFractionOfThePrompt() throws {
        XCTAssertEqual(PromptFraction.entries(0.03, of: 50), 2)
        XCTAssertEqual(try Budget(parsing: "3%").entries(promptLength: 50), 2)
        XCTAssertEqual(SelectionMetrics.headlineIndex(kValues: [1, 2], promptLength: 50), 1)
        XCTAssertEqual(try Budget(compressionRatio: 0.97).entries(promptLength: 50), 2)
        XCTAssertEqual(try Budget(compressionRatio: 0.5).entries(promptLength: 301), 151)
        XCTAssertEqual(try Budget(compressionRatio: 0).entries(promptLength: 40), 40)
        XCTAssertThrowsError(try Budget(compressionRatio: 1))
        XCTAssertThrowsError(try Budget(compressionRatio: -0.1))
    }

    func testBudgetsOrCompressionRatiosNeverBoth() throws {
        let ratios = try BudgetList(budgets: nil, ratios: "0.5,0.9", budgetOption: "--budgets", fallback: "64")
        XCTAssertEqual(ratios.compressionRatios, [0.5, 0.9])
        XCTAssertEqual(try ratios.entryCounts(budgetOption: "--budgets"), [], "a grid holds ratios apart")
        XCTAssertEqual(try BudgetList(budgets: nil, ratios: nil, budgetOption: "--budget", fallback: "64").budgets, [.entries(64)])
        func message(_ body: () throws -> Any) -> String {
            do { _ = try body(); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(message { try BudgetList(budgets: "32", ratios: "0.5", budgetOption: "--budgets", fallback: "") }
            .contains("give --budgets or --compression-ratio, not both"))
        XCTAssertTrue(message { try BudgetList(budgets: nil, ratios: "0.5,x", budgetOption: "--budget", fallback: "") }
            .contains("'x' is not a number"))
        XCTAssertTrue(message { try BudgetList(budgets: "32,3%", ratios: nil, budgetOption: "--budgets", fallback: "")
            .entryCounts(budgetOption: "--budgets") }.contains("not percentages"))
        XCTAssertTrue(message { try BudgetList(budgets: nil, ratios: "0.5,0.5", budgetOption: "--budget", fallback: "") }
            .contains("listed twice"))
    }
}
