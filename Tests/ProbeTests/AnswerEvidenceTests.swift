import Foundation
import XCTest

@testable import Analysis
@testable import Probe

/// The answer evidence (docs/metrics.md): copy-source alignment, retrieval scores from hand-set
/// attention and from the recorder on the tiny model, answer spans, the span metrics and pooled retrieval heads,
/// and `capture --answer-span/--needle` on the real model (checked by NumPy).
final class AnswerEvidenceTests: TemporaryDirectoryTestCase {
    // MARK: Copy source

    func testCopySourceAlignsTheLongestRunFirstAndMarksStepsThatCopyNothing() {
        //              0   1   2   3   4   5   6   7   8   9
        let prompt = [10, 11, 12, 13, 14, 20, 11, 12, 13, 30]
        // 11 12 13 occurs twice (positions 1-3 and 6-8); 11 12 13 14 only at 1-4: the longer run wins.
        XCTAssertEqual(CopySource.align(generated: [99, 11, 12, 13, 14, 98], prompt: prompt), [-1, 1, 2, 3, 4, -1])
        // Two runs in the answer: the longest (20 11 12 13 at 5-8) first, then 10 11 at 0-1.
        XCTAssertEqual(CopySource.align(generated: [20, 11, 12, 13, 7, 10, 11], prompt: prompt), [5, 6, 7, 8, -1, 0, 1])
        // Equal runs: the latest prompt copy (11 12 13 at 6-8, not 1-3).
        XCTAssertEqual(CopySource.align(generated: [11, 12, 13], prompt: prompt), [6, 7, 8])
        // A lone token present in the prompt is no copy at the default minimum run of two; with one it is.
        XCTAssertEqual(CopySource.align(generated: [30, 99, 14], prompt: prompt), [-1, -1, -1])
        XCTAssertEqual(CopySource.align(generated: [30, 99, 14], prompt: prompt, minimumRun: 1), [9, -1, 4])
        // Nothing in common, an empty answer.
        XCTAssertEqual(CopySource.align(generated: [1, 2, 3], prompt: prompt), [-1, -1, -1])
        XCTAssertEqual(CopySource.align(generated: [], prompt: prompt), [])
        // Equal runs from different steps: the earlier step first (2 3 4 5 at 1-4, not 3 4 5 6 at 6-9); the
        // 6 left over is a lone token.
        XCTAssertEqual(CopySource.align(generated: [2, 3, 4, 5, 6], prompt: [1, 2, 3, 4, 5, 9, 3, 4, 5, 6]), [1, 2, 3, 4, -1])
        // An answer that repeats the needle copies the same positions twice.
        XCTAssertEqual(CopySource.align(generated: [13, 14, 0, 13, 14], prompt: prompt), [3, 4, -1, 3, 4])
    }

    // MARK: Retrieval score

    func testRetrievalScoreFromHandSetAttention() {
        // 1 layer, 2 heads, prompt of 4 tokens, 3 generated tokens: token 0 copies position 2, token 1 copies 3,
        // token 2 copies nothing. Attention rows of the choosing queries (token s: prompt + s generated keys).
        let attention: [[[Double]]] = [   // [token][head][key]
            [[0.1, 0.1, 0.7, 0.1], [0.6, 0.1, 0.2, 0.1]],                       // head 0 hits 2, head 1 looks at 0
            [[0.1, 0.1, 0.1, 0.6, 0.1], [0.1, 0.1, 0.1, 0.3, 0.4]],             // head 0 hits 3, head 1 at a generated key
            [[0.9, 0.02, 0.02, 0.02, 0.02, 0.02], [0.1, 0.1, 0.1, 0.1, 0.1, 0.5]], // not a copying step: ignored
        ]
        let strongest = attention.map { $0.map(RetrievalScore.strongestKey) }
        XCTAssertEqual(strongest, [[2, 0], [3, 4], [0, 5]])
        let score = RetrievalScore(strongestKeys: strongest, copySource: [2, 3, -1], nLayers: 1, nHeads: 2)
        XCTAssertEqual(score.copyingSteps, 2)
        XCTAssertEqual(score.scores, [1.0, 0.0])
        // Ties go to the first (lowest) position; no copying step gives NaN, not 0.
        XCTAssertEqual(RetrievalScore.strongestKey([0.25, 0.5, 0.5, 0.25]), 1)
        let none = RetrievalScore(strongestKeys: strongest, copySource: [-1, -1, -1], nLayers: 1, nHeads: 2)
        XCTAssertEqual(none.copyingSteps, 0)
        XCTAssertTrue(none.scores.allSatisfy(\.isNaN))
        let half = RetrievalScore(strongestKeys: strongest, copySource: [2, 0, -1], nLayers: 1, nHeads: 2)
        XCTAssertEqual(half.scores, [0.5, 0.0])
    }

    /// On the tiny model, teacher-forced with an answer copied from the prompt: every strongest key the recorder
    /// notes is the argmax of the choosing query's scores recomputed here from the recorded queries and keys, and
    /// the retrieval score is their hit rate over the aligned copy.
    func testRecorderNotesTheChoosingQueriesStrongestKeys() throws {
        let model = try TinyModel.load()
        let c = model.config, d = c.dHead, L = c.nLayers, H = c.nHeads, G = c.nKVHeads
        let prompt = Array("Zebras quietly vanish; the needle is 4721 near here.".utf8).map(Int.init)
        let n = prompt.count
        let copied = Array("is 4721 ".utf8).map(Int.init)   // once in the prompt
        let start = try XCTUnwrap((0..<(n - copied.count)).first { Array(prompt[$0..<($0 + copied.count)]) == copied })
        let answer = [Int(UInt8(ascii: "A"))] + copied
        let recorder = CaptureRecorder(config: c, promptLength: n, window: 4, maxSteps: answer.count)
        let cache = model.makeCache(capacity: n + answer.count)
        _ = model.forward(tokens: prompt, positions: Array(0..<n), cache: cache, observer: recorder)
        for (s, token) in answer.enumerated() {
            _ = model.forward(tokens: [token], positions: [n + s], cache: cache, observer: recorder)
        }
        let data = recorder.result(promptTokens: prompt, generated: answer, requestedSteps: answer.count, stoppedAtEndOfGeneration: false)
        XCTAssertEqual(data.copySource, [-1] + Array(start..<(start + copied.count)))
        XCTAssertEqual(data.copyingSteps, copied.count)

        let S = answer.count, group = H / G
        var hits = [Int](repeating: 0, count: L * H)
        for token in 0..<S {
            for l in 0..<L {
                for h in 0..<H {
                    let g = h / group
                    // The choosing query: the last prompt row for token 0, step token-1 after.
                    let query: [Float] = token == 0
                        ? Array(data.windowQueries[(((l * H + h) * 4 + 3) * d)...].prefix(d))
                        : Array(data.decodeQueries[(((l * H + h) * S + token - 1) * d)...].prefix(d))
                    var keys: [[Float]] = (0..<n).map { Array(data.promptKeys[(((l * G + g) * n + $0) * d)...].prefix(d)) }
                    keys += (0..<token).map { Array(data.decodeKeys[(((l * G + g) * S + $0) * d)...].prefix(d)) }
                    let dots = keys.map { k in zip(query, k).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
                    let expected = RetrievalScore.strongestKey(dots)
                    XCTAssertEqual(recorder.strongestKeys[token][l * H + h], expected, "token \(token) layer \(l) head \(h)")
                    if data.copySource[token] >= 0 && expected == data.copySource[token] { hits[l * H + h] += 1 }
                }
            }
        }
        XCTAssertEqual(data.retrievalScore, hits.map { Double($0) / Double(copied.count) })
    }

    // MARK: Answer span

    func testAnswerSpanParsingAndNeedleLookup() throws {
        XCTAssertEqual(try AnswerSpan.parse("3:7", promptLength: 10), 3..<7)
        XCTAssertEqual(try AnswerSpan.parse("0:10", promptLength: 10), 0..<10)
        for bad in ["7:3", "3:3", "3:11", "-1:4", "3", "a:b", "3:4:5", ""] {
            XCTAssertThrowsError(try AnswerSpan.parse(bad, promptLength: 10), bad) { error in
                XCTAssertTrue("\(error)".contains("--answer-span"), "\(error)")
            }
        }
        let pieces: [[UInt8]] = ["The", " number", " is", " 4", "7", "21", ".", " The", " number", " is", " é", "!"].map { Array($0.utf8) }
        // The last occurrence, and every token it touches (the value's first token starts with a space).
        XCTAssertEqual(AnswerSpan.covering("number is", pieces: pieces), 8..<10)
        XCTAssertEqual(AnswerSpan.covering("4721", pieces: pieces), 3..<6)
        XCTAssertEqual(AnswerSpan.covering("72", pieces: pieces), 4..<6)   // a text cutting tokens covers both
        XCTAssertEqual(AnswerSpan.covering("é!", pieces: pieces), 10..<12)
        XCTAssertNil(AnswerSpan.covering("4722", pieces: pieces))
        XCTAssertNil(AnswerSpan.covering("", pieces: pieces))
        XCTAssertEqual(AnswerSpan.mask(2..<4, promptLength: 5), [0, 0, 1, 1, 0])
    }

    // MARK: Span metrics and retrieval heads

    func testSpanMetricsByHand() {
        let span = [false, true, true, false, false, true]
        // A ranking keeping 1 and 5 among its first three, all three span positions among its first five.
        let ranking = [5, 0, 1, 4, 2, 3]
        XCTAssertEqual(SpanMetrics.spanRecall(pseudoRanking: ranking, span: span, k: 1), 1.0 / 3)
        XCTAssertEqual(SpanMetrics.spanRecall(pseudoRanking: ranking, span: span, k: 3), 2.0 / 3)
        XCTAssertEqual(SpanMetrics.spanRecall(pseudoRanking: ranking, span: span, k: 5), 1)
        XCTAssertEqual(SpanMetrics.spanRecall(pseudoRanking: ranking, span: span, k: 100), 1, "k is clipped to n")
        XCTAssertTrue(SpanMetrics.spanRecall(pseudoRanking: ranking, span: Array(repeating: false, count: 6), k: 3).isNaN)
        // [L = 2, G = 2, K = 2]
        let recall = [0.5, 1.0, /* l0 g1 */ 0.25, 0.75, /* l1 g0 */ 1.0, 1.0, /* l1 g1 */ 0.0, 0.5]
        XCTAssertEqual(SpanMetrics.layerMinimum(recall, nLayers: 2, nKVHeads: 2, budgets: 2), [0.25, 0.75, 0.0, 0.5])
        XCTAssertEqual(SpanMetrics.retrievalMean(recall, heads: [true, false, true, false], budgets: 2), [0.75, 1.0])
        XCTAssertTrue(SpanMetrics.retrievalMean(recall, heads: [false, false, false, false], budgets: 2).allSatisfy(\.isNaN))
    }

    func testKeptSpanRecallOfACutCacheByHand() {
        // Span 10..<14 (4 tokens); [L = 2][G = 2] kept positions, the question's appended positions (20, 21) included.
        let kept = [[[10, 11, 12, 13, 20], [0, 1, 11]], [[12, 13, 5], [10, 11, 12, 21]]]
        let recall = SpanMetrics.keptSpanRecall(kept: kept, span: 10..<14)
        XCTAssertEqual(recall.mean, (1.0 + 0.25 + 0.5 + 0.75) / 4, accuracy: 1e-12)
        XCTAssertEqual(recall.layerMinimum, (0.25 + 0.5) / 2, accuracy: 1e-12)
        XCTAssertEqual(recall.perHead, [1.0, 0.25, 0.5, 0.75])
        XCTAssertTrue(SpanMetrics.keptSpanRecall(kept: kept, span: 3..<3).mean.isNaN)
    }

    func testRetrievalHeadsArePooledByCopyingStepsAndThresholded() {
        // L = 1, H = 4, G = 2: query heads 0,1 → KV head 0; 2,3 → KV head 1.
        let a = [0.0, 0.4, 0.0, 0.05], b = [0.0, 0.0, 0.0, 0.2]
        let heads = RetrievalHeads(scores: [a, b, nil, [1, 1, 1, 1]], copyingSteps: [3, 1, 5, 0], threshold: 0.1,
                                   nLayers: 1, nHeads: 4, nKVHeads: 2)
        XCTAssertEqual(heads.copyingSteps, 4, "a prompt without scores or without copying steps is left out")
        XCTAssertEqual(heads.prompts, 2)
        XCTAssertEqual(heads.scores[1], 1.2 / 4, accuracy: 1e-15)
        XCTAssertEqual(heads.scores[3], (0.15 + 0.2) / 4, accuracy: 1e-15)
        XCTAssertEqual(heads.kvHeads, [true, false], "0.3 > 0.1 in KV head 0; 0.0875 (though 0.2 in one prompt) in KV head 1")
        XCTAssertEqual(heads.count, 1)
        XCTAssertEqual(heads.layers, [0])
        XCTAssertTrue(heads.description.contains("L0H1 0.30"), heads.description)
        let none = RetrievalHeads(scores: [nil], copyingSteps: [0], threshold: 0.1, nLayers: 1, nHeads: 4, nKVHeads: 2)
        XCTAssertTrue(none.scores.allSatisfy(\.isNaN))
        XCTAssertEqual(none.kvHeads, [false, false])
        XCTAssertTrue(none.description.contains("no copying steps"), none.description)
    }

    // MARK: The command line on the real model

    func testCaptureCommandRecordsTheNeedleSpanAndRefusesBadSpans() throws {
        let binary = try TestPaths.binary(), model = try TestPaths.smolLM2()
        let text = "The weather was mild and the streets were busy. The special magic number for the blue lighthouse is 4721. "
            + "Later he walked home along the river.\n\nQuestion: What is the special magic number for the blue lighthouse?"
        try text.write(toFile: path("prompt.txt"), atomically: true, encoding: .utf8)
        func capture(_ out: String, _ extra: [String]) throws -> CommandResult {
            try runCommand(binary, ["capture", "--model", model, "--chat", "--prompt-file", path("prompt.txt"), "--steps", "16",
                                    "--out", out] + extra)
        }
        let out = path("needle.h5")
        let made = try capture(out, ["--needle", "4721"])
        XCTAssertEqual(made.status, 0, made.stderr)
        XCTAssertTrue(made.stdout.contains("answer evidence: "), made.stdout)
        let file = try HDF5File.open(out)
        let mask = try file.openDataset("prompt/answer_span").read(UInt8.self)
        let prompt = try file.openDataset("tokens/prompt").read(Int.self)
        let marked = mask.indices.filter { mask[$0] == 1 }
        let loaded = try LanguageModel(path: model)
        XCTAssertEqual(loaded.tokenizer.decode(marked.map { prompt[$0] }).trimmingCharacters(in: .whitespaces), "4721")
        XCTAssertEqual(marked, Array(marked.first!...marked.last!), "one contiguous span")
        XCTAssertEqual(try file.attribute("schema_version", as: Int.self), 2)
        file.close()
        // NumPy: the span, the copy source and the retrieval score from the stored tensors.
        let check = try runCommand(try TestPaths.python(), [
            TestPaths.packageRoot.appendingPathComponent("Tests/python/check_capture.py").path, out,
            "--span", "\(marked.first!):\(marked.last! + 1)",
        ])
        XCTAssertEqual(check.status, 0, "check_capture.py:\n\(check.stdout)\n\(check.stderr)")
        XCTAssertTrue(check.stdout.contains("decode/copy_source, decode/retrieval_score: match"), check.stdout)
        // The retrieval heads' heat map beside the attention plot.
        let plot = try runCommand(try TestPaths.python(), [
            TestPaths.packageRoot.appendingPathComponent("notebooks-data/plot_capture.py").path, out, "--out", path("plots"),
        ])
        XCTAssertEqual(plot.status, 0, plot.stderr)
        XCTAssertTrue(plot.stdout.contains("needle_retrieval.png"), plot.stdout)
        XCTAssertTrue(plot.stdout.contains("answer span \(marked.first!):\(marked.last! + 1) marked"), plot.stdout)
        let png = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path("plots/needle_retrieval.png"))[.size] as? Int)
        XCTAssertGreaterThan(png, 20_000)

        // --answer-span gives the same mask; inspect shows the datasets and the retrieval heads.
        let bySpan = path("span.h5")
        let spanned = try capture(bySpan, ["--answer-span", "\(marked.first!):\(marked.last! + 1)"])
        XCTAssertEqual(spanned.status, 0, spanned.stderr)
        XCTAssertEqual(try HDF5File.open(bySpan).openDataset("prompt/answer_span").read(UInt8.self), mask)
        let inspect = try runCommand(binary, ["inspect", bySpan])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        for expected in ["/prompt/answer_span", "uint8", "/decode/copy_source", "/decode/retrieval_score", "(layer, head)",
                         "retrieval heads (score > 0.1"] {
            XCTAssertTrue(inspect.stdout.contains(expected), "inspect lacks \(expected):\n\(inspect.stdout)")
        }
        // inspect --json: the file with its attributes, one object per dataset, the retrieval heads; nothing else.
        let json = try runCommand(binary, ["inspect", "--json", bySpan])
        XCTAssertEqual(json.status, 0, json.stderr)
        let objects = try json.stdout.split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], String($0))
        }
        XCTAssertEqual(objects.first?["record"] as? String, "file")
        XCTAssertEqual((objects.first?["attributes"] as? [String: Any])?["answer_span"] as? [Int], [marked.first!, marked.last! + 1])
        let span = try XCTUnwrap(objects.first { $0["path"] as? String == "/prompt/answer_span" })
        XCTAssertEqual(span["type"] as? String, "uint8")
        XCTAssertEqual(span["dimensions"] as? [String], ["position"])
        XCTAssertEqual(objects.last?["record"] as? String, "retrieval_heads")
        XCTAssertEqual(objects.dropFirst().dropLast().count, try HDF5Inspection(path: bySpan).datasets.count)

        // Refusals: one line, non-zero exit, no output file.
        func refused(_ extra: [String], _ message: String, line: UInt = #line) throws {
            let target = path("refused.h5")
            let r = try capture(target, extra)
            XCTAssertNotEqual(r.status, 0, line: line)
            XCTAssertTrue(r.stderr.contains(message), r.stderr, line: line)
            XCTAssertEqual(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, r.stderr, line: line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: target), line: line)
        }
        try refused(["--needle", "9999"], "prompt.txt: --needle '9999' does not occur in the prompt")
        try refused(["--answer-span", "5:2"], "--answer-span 5:2: needs 0 ≤ START < END ≤")
        try refused(["--answer-span", "0:100000"], "(the prompt has")
        try refused(["--answer-span", "five"], "--answer-span 'five': expected START:END")
        try refused(["--answer-span", "1:2", "--needle", "4721"], "give at most one of --answer-span and --needle")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp-") }, [])
    }
}
