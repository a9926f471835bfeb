import Foundation
import XCTest

@testable import Analysis
@testable import Probe

/// `dapq-probe ablate`: the runner against the capture and the runtime (tiny model, in process), the file
/// against an independent NumPy recomputation, the command line on the real model, refusals, and the plots.
final class AblationTests: TemporaryDirectoryTestCase {
    // MARK: Tiny model, in process

    private var tinyModelPath: String {
        get throws {
            let p = path("tiny.gguf")
            if !FileManager.default.fileExists(atPath: p) { try TinyModel.builder().write(to: URL(fileURLWithPath: p)) }
            return p
        }
    }

    private static let texts = [
        "Where matters more than what, says the paper here.",
        "Pseudo queries at future positions look like real ones?",
        "A third prompt: the cache keeps what decoding will need.",
    ]

    /// Writes a capture of `text` on the tiny model; returns its path and data.
    @discardableResult
    private func tinyCapture(_ name: String, text: String = texts[0], steps: Int = 6, window: Int = 8,
                             edit: ((inout CaptureData) -> Void)? = nil) throws -> (path: String, data: CaptureData) {
        let modelPath = try tinyModelPath
        let model = try LanguageModel(path: modelPath)
        let prompt = Array(text.utf8).map(Int.init)
        var data = try Capture(model: model).run(prompt: prompt, options: CaptureOptions(steps: steps, window: window))
        edit?(&data)
        let metadata = try CaptureMetadata(model: model, modelPath: modelPath, promptText: text, chat: false,
                                           generatedText: model.tokenizer.decode(data.generatedTokens), threads: 1, commandLine: "test")
        let out = path(name)
        try CaptureWriter.write(data, metadata: metadata, toPath: out, overwrite: false)
        return (out, data)
    }

    private func tinyOptions() -> AblationOptions {
        var options = AblationOptions()
        options.pseudoCount = 8
        options.kValues = [4, 8, 16]
        return options
    }

    private func tinyAblation(_ options: AblationOptions? = nil) throws -> Ablation {
        let modelPath = try tinyModelPath
        return try Ablation(model: try LanguageModel(path: modelPath), modelPath: modelPath, options: options ?? tinyOptions())
    }

    func testTruthReproducesTheCaptureBitForBitAndRecallIsExactlyOne() throws {
        let (capturePath, data) = try tinyCapture("c.h5")
        let result = try tinyAblation().run(capture: try CaptureFile(path: capturePath))
        XCTAssertEqual(result.promptKeyMaxDifference, 0, "the re-prefill recomputes the capture's keys exactly")
        XCTAssertEqual(result.windowQueryMaxDifference, 0)
        let truth = try XCTUnwrap(result.result(.truth))
        XCTAssertEqual(truth.importance.map(\.bitPattern), data.importance.map(\.bitPattern),
                       "truth importance recomputed by the Analysis scorer equals decode/importance bit for bit")
        XCTAssertEqual(result.truthImportanceMaxDifference, 0)
        XCTAssertTrue(truth.metrics.topKRecall.allSatisfy { $0 == 1 }, "top-k recall of truth is exactly 1")
        XCTAssertTrue(truth.metrics.massRecall.allSatisfy { $0 == 1 }, "mass recall of truth is exactly 1")
        for o in truth.metrics.overlap { XCTAssertEqual(o, 1, accuracy: 1e-12) }
        for c in truth.metrics.queryCosine { XCTAssertEqual(c, 1, accuracy: 1e-12) }
        XCTAssertEqual(result.variants.count, PseudoContent.allCases.count * PseudoPosition.allCases.count + 3)
        // Every pseudo variant scores n prompt keys with w rows and gives a distribution over the prompt per head.
        for v in result.variants where v.variant.kind == "pseudo" {
            XCTAssertEqual(v.queries?.rows, 8)
            for row in 0..<(TinyModel.layers * TinyModel.kvHeads) {
                let total = v.importance[(row * data.promptLength)..<((row + 1) * data.promptLength)].reduce(0, +)
                XCTAssertGreaterThan(total, 0.2)
                XCTAssertLessThanOrEqual(total, 1 + 1e-5)
            }
        }
    }

    func testOracleAtTheTruePositionsReproducesTheTrueDecodingQueries() throws {
        let (capturePath, data) = try tinyCapture("c.h5")
        var options = tinyOptions()
        options.contents = [.oracle]
        options.positions = [.future]
        let result = try tinyAblation(options).run(capture: try CaptureFile(path: capturePath))
        let oracle = try XCTUnwrap(result.result(.pseudo(.oracle, .future))?.queries)
        XCTAssertEqual(Array(oracle.tokens.prefix(data.steps)), data.generatedTokens)
        XCTAssertEqual(oracle.positions, Array(data.promptLength..<(data.promptLength + 8)))
        // Row s is the true generated token s at position n + s over the prompt and tokens 0…s: the computation
        // of decoding step s. Float tolerance (the batch and the one-token steps round alike here).
        let fileQueries = oracle.fileQueries
        let L = TinyModel.layers, H = TinyModel.heads, d = TinyModel.dHead, S = data.steps
        var firstStep: Float = 0, allSteps: Float = 0, scale: Float = 0
        for l in 0..<L {
            for h in 0..<H {
                for s in 0..<S {
                    for i in 0..<d {
                        let a = fileQueries[((l * H + h) * 8 + s) * d + i], b = data.decodeQueries[((l * H + h) * S + s) * d + i]
                        scale = max(scale, abs(b))
                        if s == 0 { firstStep = max(firstStep, abs(a - b)) }
                        allSteps = max(allSteps, abs(a - b))
                    }
                }
            }
        }
        XCTAssertLessThanOrEqual(firstStep, 1e-5 * scale, "first step: max |oracle query − true query| \(firstStep), scale \(scale)")
        XCTAssertLessThanOrEqual(allSteps, 1e-4 * scale, "all steps: max |oracle query − true query| \(allSteps)")
        let metrics = try XCTUnwrap(result.result(.pseudo(.oracle, .future))?.metrics)
        XCTAssertEqual(metrics.cosineRows, min(8, S))
        for c in metrics.queryCosine { XCTAssertEqual(c, 1, accuracy: 1e-6) }
    }

    /// Forwards to a query recorder and keeps the runtime's own attention rows (float32 softmax).
    private final class Tee: ForwardObserver {
        let recorder: QueryRecorder
        var rows: [[Int: [Float]]]     // layer → head → rows × keyCount
        var keyCount = 0
        init(_ recorder: QueryRecorder, layers: Int) {
            self.recorder = recorder
            rows = Array(repeating: [:], count: layers)
        }
        func didProject(layer: Int, positions: [Int], queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>) {
            recorder.didProject(layer: layer, positions: positions, queries: queries, keys: keys, values: values)
        }
        var wantsAttention: Bool { true }
        func didAttend(layer: Int, head: Int, firstRow: Int, rows count: Int, keyCount: Int, probabilities: UnsafePointer<Float>) {
            self.keyCount = keyCount
            rows[layer][head, default: []] += Array(UnsafeBufferPointer(start: probabilities, count: count * keyCount))
        }
    }

    func testImportanceMatchesTheRuntimesOwnAttention() throws {
        let model = try LanguageModel(path: try tinyModelPath)
        let c = model.config
        let prompt = Array(Self.texts[1].utf8).map(Int.init), n = prompt.count, w = 8
        let cache = model.makeCache(capacity: n + w)
        let keys = QueryRecorder(config: c)
        keys.observe(model, tokens: prompt, positions: Array(0..<n), cache: cache)
        let recorder = QueryRecorder(config: c)
        let tee = Tee(recorder, layers: c.nLayers)
        let tokens = try PseudoContentBuilder(model: model, count: w).tokens(.suffix, prompt: prompt)
        model.forward(tokens: tokens, positions: PseudoPosition.far.positions(promptLength: n, count: w), cache: cache,
                      logits: .none, observer: tee)
        let scorer = ImportanceScorer(promptKeys: keys.set.fileKeys, nLayers: c.nLayers, nHeads: c.nHeads, nKVHeads: c.nKVHeads,
                                      dHead: c.dHead, promptLength: n)
        let importance = scorer.importance(of: recorder.querySet(.afterPrompt(promptLength: n))).values
        XCTAssertEqual(tee.keyCount, n + w)
        for l in 0..<c.nLayers {
            for g in 0..<c.nKVHeads {
                for j in 0..<n {
                    var mean = 0.0
                    for h in (g * c.groupSize)..<((g + 1) * c.groupSize) {
                        for r in 0..<w { mean += Double(tee.rows[l][h]![r * tee.keyCount + j]) }
                    }
                    mean /= Double(w * c.groupSize)
                    let ours = Double(importance[(l * c.nKVHeads + g) * n + j])
                    XCTAssertEqual(ours, mean, accuracy: 1e-5 * max(mean, 1e-3), "l\(l) g\(g) j\(j)")
                }
            }
        }
    }

    func testPromptKeysThatDifferFromTheCaptureAreAClearError() throws {
        let (capturePath, _) = try tinyCapture("edited.h5") { $0.promptKeys[37] += 0.5 }
        XCTAssertThrowsError(try tinyAblation().run(capture: try CaptureFile(path: capturePath))) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(capturePath + ": the recomputed prompt keys differ from the capture's by up to 0.5"), message)
            XCTAssertTrue(message.contains("layer 0, KV head 0, position 4"), message)   // index 37 = position 4, component 5
            XCTAssertFalse(message.contains("\n"))
        }
        // Within a tolerance the run goes on and records the difference.
        var options = tinyOptions()
        options.keyTolerance = 0.6
        options.contents = [.suffix]
        options.positions = [.future]
        let result = try tinyAblation(options).run(capture: try CaptureFile(path: capturePath))
        XCTAssertEqual(result.promptKeyMaxDifference, 0.5, accuracy: 1e-6)
    }

    func testCaptureFileRefusals() throws {
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: path("junk.h5")))
        XCTAssertThrowsError(try CaptureFile(path: path("junk.h5"))) { XCTAssertTrue("\($0)".contains("not a readable HDF5 file"), "\($0)") }
        XCTAssertThrowsError(try CaptureFile(path: path("missing.h5"))) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
        let (capturePath, _) = try tinyCapture("c.h5")
        var options = tinyOptions()
        options.pseudoCount = 500
        XCTAssertThrowsError(try tinyAblation(options).run(capture: try CaptureFile(path: capturePath))) {
            XCTAssertTrue("\($0)".contains("longer than the prompt"), "\($0)")
        }
        XCTAssertFalse(CaptureFile.isCapture(path("junk.h5")))
        XCTAssertTrue(CaptureFile.isCapture(capturePath))
    }

    // MARK: The file against NumPy

    /// The test venv's Python (`make venv-test`).
    private func python() throws -> String {
        let python = TestPaths.packageRoot.appendingPathComponent(".cache/venv-test/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw MissingPrerequisite("\(python) missing: run `make venv-test` (h5py, h5netcdf, xarray, numpy, matplotlib)")
        }
        return python
    }

    private func checkWithNumPy(_ file: String, file line: StaticString = #filePath, at number: UInt = #line) throws -> String {
        let check = try runCommand(try python(), [TestPaths.packageRoot.appendingPathComponent("Tests/python/check_ablation.py").path, file])
        XCTAssertEqual(check.status, 0, "check_ablation.py:\n\(check.stdout)\n\(check.stderr)", file: line, line: number)
        XCTAssertTrue(check.stdout.hasSuffix("ablation OK\n"), check.stdout, file: line, line: number)
        return check.stdout
    }

    /// Runs the ablation of `captures` in process and writes `out`.
    private func writeAblation(_ captures: [String], to out: String, options: AblationOptions? = nil) throws {
        let modelPath = try tinyModelPath
        let model = try LanguageModel(path: modelPath)
        let options = options ?? tinyOptions()
        let ablation = try Ablation(model: model, modelPath: modelPath, options: options)
        let headers = try captures.map(CaptureFile.header)
        let writer = try AblationWriter(output: try AtomicOutputFile(path: out, overwrite: false),
                                        metadata: try AblationMetadata(model: model, modelPath: modelPath, threads: 1, commandLine: "test"),
                                        options: options, config: model.config, headers: headers, seed: 0)
        var summaries: [PromptMetrics] = []
        for (i, capture) in captures.enumerated() {
            let result = try ablation.run(capture: try CaptureFile(path: capture), index: i, count: captures.count)
            try writer.write(result, index: i)
            summaries.append(PromptMetrics(result))
        }
        try writer.finish(summaries)
    }

    /// Answer evidence set by hand (the tiny model's answers copy nothing): a span, and retrieval scores that make
    /// KV head 0 of layer 0 and KV head 1 of layer 1 retrieval heads at the default threshold.
    private func withEvidence(span: Range<Int>, copying: Int = 3) -> (inout CaptureData) -> Void {
        { data in
            data.answerSpan = span
            data.retrievalScore = [0, 0.5, 0, 0, 0, 0, 0.05, 0.2]
            data.copyingSteps = copying
        }
    }

    func testEveryStoredNumberIsRecomputedByNumPyOneAndSeveralCaptures() throws {
        let one = try tinyCapture("one.h5", edit: withEvidence(span: 10..<16)).path
        try writeAblation([one], to: path("single.h5"))
        let single = try checkWithNumPy(path("single.h5"))
        XCTAssertTrue(single.contains("27 variants x 1 prompt(s) match"), single)
        XCTAssertTrue(single.contains("span metrics: 1 prompt(s) with an answer span match"), single)
        XCTAssertTrue(single.contains("2 retrieval KV heads"), single)

        let file = try HDF5File.open(path("single.h5"))
        XCTAssertEqual(try file.stringAttribute("schema"), "dapq-probe/ablation")
        XCTAssertEqual(try file.attribute("complete", as: Int.self), 1)
        XCTAssertEqual(try file.openDataset("variants/prefix+suffix_future/mass_recall").dimensionLabels(), ["layer", "kv_head", "k"])
        XCTAssertEqual(try file.openDataset("variants/suffix_far/rot_q").shape, [TinyModel.layers, TinyModel.heads, 8, TinyModel.dHead])
        XCTAssertEqual(try file.openDataset("variants/lookahead/rot_q").shape, [TinyModel.layers, TinyModel.heads, 16, TinyModel.dHead])
        XCTAssertEqual(try file.openDataset("variants/suffix_far/positions").read(Int.self).first, Self.texts[0].utf8.count + 1024)
        XCTAssertFalse(file.exists("variants/truth/rot_q"))
        XCTAssertEqual(try file.openDataset("variants/suffix_future/span_recall").dimensionLabels(), ["layer", "kv_head", "k"])
        XCTAssertEqual(try file.openDataset("variants/suffix_future/span_recall_layer_min").dimensionLabels(), ["layer", "k"])
        XCTAssertEqual(try file.openDataset("retrieval_kv_heads").read(UInt8.self), [1, 0, 0, 1])
        let truthSpan = try file.openDataset("variants/truth/span_recall").read(Float.self)
        XCTAssertTrue(truthSpan.allSatisfy { $0 >= 0 && $0 <= 1 })
        XCTAssertEqual(try file.attribute("schema_version", as: Int.self), 3)
        // The summary: one 1-D dataset per column over summary_row; the variants' attributes named apart from the dimensions.
        XCTAssertEqual(try file.openDataset("summary/pseudo_position").dimensionLabels(), ["summary_row"])
        XCTAssertEqual(try file.openDataset("summary/k").elementType, .int64)
        XCTAssertEqual(try file.openGroup("variants/suffix_far").stringAttribute("pseudo_position"), "far")
        XCTAssertFalse(try file.openGroup("variants/suffix_far").hasAttribute("position"))
        file.close()

        // Several captures (different lengths): per-prompt groups, aggregates with intervals, padded importance.
        let two = try tinyCapture("two.h5", text: Self.texts[1], steps: 5, edit: withEvidence(span: 3..<9, copying: 1)).path
        let three = try tinyCapture("three.h5", text: Self.texts[2] + " And longer.", steps: 7).path
        var options = tinyOptions()
        options.contents = [.suffix, .oracle, .random]
        options.positions = [.future, .fixed]
        try writeAblation([one, two, three], to: path("several.h5"), options: options)
        let several = try checkWithNumPy(path("several.h5"))
        XCTAssertTrue(several.contains("9 variants x 3 prompt(s) match"), several)
        XCTAssertTrue(several.contains("span metrics: 2 prompt(s) with an answer span match"), several)
        // The summary CSV's span columns and the retrieval heads (CSV and heat map) from the same file.
        let csv = try runCommand(try python(), [
            TestPaths.packageRoot.appendingPathComponent("notebooks-data/ablation_summary.py").path, path("several.h5"),
            "--out", path("summary.csv"), "--retrieval", path("retrieval.csv"),
        ])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        XCTAssertTrue(csv.stdout.contains("2 heads above 0.1, 2 retrieval KV heads"), csv.stdout)
        let summaryHeader = try String(contentsOfFile: path("summary.csv"), encoding: .utf8).split(separator: "\n").first { !$0.hasPrefix("#") }
        XCTAssertTrue(summaryHeader?.contains("span_prompts,span_recall,span_recall_ci95,span_recall_retrieval") == true, "\(summaryHeader ?? "")")
        let plot = try runCommand(try python(), [
            TestPaths.packageRoot.appendingPathComponent("notebooks-data/plot_ablation.py").path, path("several.h5"), "--out", path("plots"),
        ])
        XCTAssertEqual(plot.status, 0, plot.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("plots/ablation_retrieval.png")), plot.stdout)

        // A tampered metric is caught.
        let tampered = path("tampered.h5")
        try FileManager.default.copyItem(atPath: path("single.h5"), toPath: tampered)
        let edit = try runCommand(try python(), ["-c", """
            import sys, h5py
            with h5py.File(sys.argv[1], "r+") as f:
                f["variants/suffix_future/mass_recall"][0, 0, 0] += 1e-4
            """, tampered])
        XCTAssertEqual(edit.status, 0, edit.stderr)
        let caught = try runCommand(try python(), [TestPaths.packageRoot.appendingPathComponent("Tests/python/check_ablation.py").path, tampered])
        XCTAssertNotEqual(caught.status, 0)
        XCTAssertTrue(caught.stdout.contains("variants/suffix_future/mass_recall: differs"), caught.stdout)
        // So is a tampered span recall.
        try FileManager.default.removeItem(atPath: tampered)
        try FileManager.default.copyItem(atPath: path("single.h5"), toPath: tampered)
        let spanEdit = try runCommand(try python(), ["-c", """
            import sys, h5py
            with h5py.File(sys.argv[1], "r+") as f:
                f["variants/random_far/span_recall"][1, 0, 1] += 0.01
            """, tampered])
        XCTAssertEqual(spanEdit.status, 0, spanEdit.stderr)
        let spanCaught = try runCommand(try python(), [TestPaths.packageRoot.appendingPathComponent("Tests/python/check_ablation.py").path, tampered])
        XCTAssertNotEqual(spanCaught.status, 0)
        XCTAssertTrue(spanCaught.stdout.contains("variants/random_far/span_recall: differs"), spanCaught.stdout)
    }

    /// A capture of schema 1 (no answer evidence) is still ablated: span metrics absent, retrieval scores NaN.
    func testCapturesWithoutAnswerEvidenceStillWork() throws {
        let old = try tinyCapture("old.h5").path
        let strip = try runCommand(try python(), ["-c", """
            import sys, h5py
            with h5py.File(sys.argv[1], "r+") as f:
                del f["decode/copy_source"], f["decode/retrieval_score"]
                del f.attrs["copying_steps"]
                f.attrs["schema_version"] = 1
            """, old])
        XCTAssertEqual(strip.status, 0, strip.stderr)
        let capture = try CaptureFile(path: old)
        XCTAssertNil(capture.answerSpan)
        XCTAssertNil(capture.copySource)
        XCTAssertNil(capture.retrievalScore)
        XCTAssertEqual(capture.copyingSteps, 0)
        XCTAssertFalse(try CaptureFile.header(old).hasAnswerSpan)
        try writeAblation([old], to: path("old-ablation.h5"))
        let checked = try checkWithNumPy(path("old-ablation.h5"))
        XCTAssertTrue(checked.contains("span metrics: 0 prompt(s)"), checked)
        let file = try HDF5File.open(path("old-ablation.h5"))
        XCTAssertFalse(file.exists("variants/suffix_future/span_recall"))
        XCTAssertTrue(try file.openDataset("retrieval_score").read(Float.self).allSatisfy(\.isNaN))
        file.close()
    }

    // MARK: The command line

    func testCommandLineOnTinyCapturesInAFolderAndRefusals() throws {
        let binary = try TestPaths.binary()
        let folder = path("captures")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try tinyCapture("captures/a.h5")
        try tinyCapture("captures/b.h5", text: Self.texts[1])
        try Data("not a capture".utf8).write(to: URL(fileURLWithPath: folder + "/notes.h5"))
        let out = path("ablation.h5")
        let args = ["ablate", folder, "--pseudo-count", "8", "--budgets", "4,8,16", "--content", "suffix,prefix+suffix,repeat",
                    "--position", "future,far", "--threads", "1", "--out", out]
        let started = Date()
        let result = try runCommand(binary, args)
        XCTAssertEqual(result.status, 0, result.stderr)
        assertPlainProgressLines(result.stderr, seconds: Date().timeIntervalSince(started))
        for expected in ["a.h5: n = ", "b.h5: n = ", "± 95% interval across 2 prompts", "content", "future", "far",
                         "prefix+suffix", "references:", "truth", "main effects on mass recall", "2 prompts"] {
            XCTAssertTrue(result.stdout.contains(expected), "stdout lacks \(expected):\n\(result.stdout)")
        }
        _ = try checkWithNumPy(out)

        // Refusals: an existing output, a folder without captures, a file that is not a capture. One line each.
        func refused(_ arguments: [String], _ message: String, line: UInt = #line) throws {
            let r = try runCommand(binary, arguments)
            XCTAssertNotEqual(r.status, 0, line: line)
            XCTAssertTrue(r.stderr.contains(message), r.stderr, line: line)
            XCTAssertEqual(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, r.stderr, line: line)
        }
        try refused(args, "already exists (use --force to replace it)")
        let empty = path("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try refused(["ablate", empty, "--out", path("x.h5")], "no complete capture files")
        try refused(["ablate", folder + "/notes.h5", "--out", path("x.h5")], "not a readable HDF5 file")
        try refused(["ablate", folder + "/a.h5", "--out", path("x.h5"), "--pseudo-count", "100"], "longer than the prompt")
        try refused(["ablate", folder + "/a.h5", "--out", path("x.h5"), "--pseudo-count", "8", "--content", "later"], "unknown content 'later'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.h5")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp-") }, [])
        let forced = try runCommand(binary, args + ["--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)

        // Sharded: shard 2/2 of the folder's two captures ablates b.h5 alone and records its share and the whole list.
        let second = path("shard2.h5")
        let sharded = try runCommand(binary, args.dropLast(2) + ["--out", second, "--shard", "2/2"])
        XCTAssertEqual(sharded.status, 0, sharded.stderr)
        XCTAssertTrue(sharded.stdout.contains("b.h5: n = ") && !sharded.stdout.contains("a.h5: n = "), sharded.stdout)
        let file = try HDF5File.open(second)
        XCTAssertEqual(try file.stringAttribute("shard"), "2/2")
        XCTAssertEqual(try file.stringAttribute("grid_captures").split(separator: "\n").map { String($0.split(separator: "/").last!) }, ["a.h5", "b.h5"])
        file.close()
        try refused(["ablate", folder + "/a.h5", "--out", path("x.h5"), "--pseudo-count", "8", "--shard", "2/2"], "no captures fall to this shard")

        // --json: one object per line and nothing else on stdout: a prompt object per capture, the summary rows
        // (the file's summary table), then the file.
        let jsonRun = try runCommand(binary, args.dropLast(2) + ["--out", path("json.h5"), "--json"])
        XCTAssertEqual(jsonRun.status, 0, jsonRun.stderr)
        let objects = try jsonRun.stdout.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], String($0))
        }
        let events = objects.map { $0["record"] as? String ?? "?" }
        XCTAssertEqual(events.filter { $0 == "prompt" }.count, 2, jsonRun.stdout)
        XCTAssertEqual(events.last, "file")
        let jsonRows = objects.filter { $0["record"] as? String == "row" }
        let stored = try HDF5File.open(path("json.h5"))
        XCTAssertEqual(jsonRows.count, try stored.openDataset("summary/capture").shape[0])
        stored.close()
        let headline = try XCTUnwrap(jsonRows.first { $0["capture"] as? String == "all" && $0["variant"] as? String == "truth" && $0["k_rule"] as? String == "3%" })
        XCTAssertEqual(headline["mass_recall"] as? Double, 1)
        XCTAssertEqual(objects.last?["prompts"] as? Int, 2)

        // The plots: a grid heat map and by-layer curves, non-trivial PNGs.
        let plots = path("plots")
        let plot = try runCommand(try python(), [
            TestPaths.packageRoot.appendingPathComponent("notebooks-data/plot_ablation.py").path, out, "--out", plots,
        ])
        XCTAssertEqual(plot.status, 0, plot.stderr)
        for name in ["ablation_grid.png", "ablation_layers.png"] {
            let png = plots + "/" + name
            let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: png)[.size] as? Int)
            XCTAssertGreaterThan(size, 20_000, name)
            let pixels = try runCommand(try python(), ["-c", """
                import sys, matplotlib.image as m, numpy as np
                a = m.imread(sys.argv[1])[..., :3]
                print(len(np.unique(a.reshape(-1, 3), axis=0)))
                """, png])
            XCTAssertGreaterThan(Int(pixels.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 50, "\(name): \(pixels.stdout)")
        }
    }

    func testCommandLineOnTheRealModel() throws {
        let binary = try TestPaths.binary(), model = try TestPaths.smolLM2()
        let capture = path("real.h5")
        let made = try runCommand(binary, [
            "capture", "--model", model, "--chat", "--prompt",
            "Explain in two sentences why the sky is blue, and mention Rayleigh scattering and the wavelength of light.",
            "--steps", "8", "--threads", "2", "--out", capture,
        ])
        XCTAssertEqual(made.status, 0, made.stderr)
        let out = path("real-ablation.h5")
        let result = try runCommand(binary, ["ablate", capture, "--out", out, "--threads", "2"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("(1 prompt)"), result.stdout)
        XCTAssertNotNil(result.stdout.range(of: #"\n  truth +1\.000 / 1\.000\n"#, options: .regularExpression), result.stdout)
        let check = try checkWithNumPy(out)
        XCTAssertTrue(check.contains("27 variants x 1 prompt(s)"), check)

        let a = try HDF5File.open(out), c = try HDF5File.open(capture)
        XCTAssertEqual(try a.attribute("prompt_key_max_abs_diff", as: Double.self), 0)
        XCTAssertEqual(try a.attribute("truth_importance_max_abs_diff", as: Double.self), 0)
        XCTAssertEqual(try a.stringAttribute("model_sha256"), try c.stringAttribute("model_sha256"))
        // The oracle at the future positions: its first row is decoding step 0 (the same computation). With
        // quantized weights the runtime multiplies a batch of 32 through dequantized BLAS and one token through
        // integer dot products (as llama.cpp does), so the two agree to float16 rounding at layer 0 and drift
        // with depth: cosine ≥ 0.999 at every layer and head.
        let oracle = try a.openDataset("variants/oracle_future/rot_q").read(Float.self)
        let truth = try c.openDataset("decode/rot_q").read(Float.self)
        let shape = try c.openDataset("decode/rot_q").shape   // [L, H, S, d]
        let (L, H, S, d) = (shape[0], shape[1], shape[2], shape[3])
        var layer0: Float = 0, scale: Float = 0, worstCosine = 1.0
        for l in 0..<L {
            for h in 0..<H {
                let x = Array(oracle[(((l * H + h) * 32) * d)...].prefix(d)), y = Array(truth[(((l * H + h) * S) * d)...].prefix(d))
                worstCosine = min(worstCosine, SelectionMetrics.cosine(x, y))
                if l == 0 {
                    for i in 0..<d {
                        layer0 = max(layer0, abs(x[i] - y[i]))
                        scale = max(scale, abs(y[i]))
                    }
                }
            }
        }
        XCTAssertLessThanOrEqual(layer0, 1e-3 * scale, "layer 0: oracle row 0 vs decoding step 0: max |diff| \(layer0), scale \(scale)")
        XCTAssertGreaterThanOrEqual(worstCosine, 0.999, "oracle row 0 vs decoding step 0: worst cosine \(worstCosine)")
    }

    /// The same check in float32 arithmetic, where batch and step are the same computation up to summation
    /// order: the oracle's first row equals decoding step 0's query at every layer to float32 tolerance.
    func testOracleReproducesTheDecodingQueriesInFloat32() throws {
        let binary = try TestPaths.binary(), model = try TestPaths.smolLM2()
        let capture = path("real32.h5"), out = path("real32-ablation.h5")
        let made = try runCommand(binary, [
            "capture", "--model", model, "--numerics", "float32", "--chat", "--prompt",
            "Why is the sky blue? Answer in one sentence.", "--steps", "4", "--threads", "2", "--out", capture,
        ])
        XCTAssertEqual(made.status, 0, made.stderr)
        let result = try runCommand(binary, ["ablate", capture, "--out", out, "--threads", "2",
                                             "--content", "oracle", "--position", "future"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let a = try HDF5File.open(out), c = try HDF5File.open(capture)
        XCTAssertEqual(try a.stringAttribute("numerics"), "float32")
        let oracle = try a.openDataset("variants/oracle_future/rot_q").read(Float.self)
        let rows = try a.openDataset("variants/oracle_future/rot_q").shape[2]
        let truth = try c.openDataset("decode/rot_q").read(Float.self)
        let shape = try c.openDataset("decode/rot_q").shape   // [L, H, S, d]
        let (L, H, S, d) = (shape[0], shape[1], shape[2], shape[3])
        var worst: Float = 0
        for l in 0..<L {
            var difference: Float = 0, scale: Float = 0
            for h in 0..<H {
                for i in 0..<d {
                    let x = oracle[((l * H + h) * rows) * d + i], y = truth[((l * H + h) * S) * d + i]
                    difference = max(difference, abs(x - y))
                    scale = max(scale, abs(y))
                }
            }
            worst = max(worst, difference / scale)
        }
        print("float32 oracle row 0 vs decoding step 0: worst relative difference over layers \(worst)")
        XCTAssertLessThanOrEqual(worst, 1e-4)
    }
}
