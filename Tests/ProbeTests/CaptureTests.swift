import Foundation
import XCTest

import Analysis
@testable import Probe

/// `dapq-probe capture` and `inspect`: the recorder against the runtime (tiny model), the file against
/// readers outside our code (h5py, xarray/h5netcdf, NumPy, h5dump; real model), determinism, crash safety,
/// refusals, and the plot script.
final class CaptureTests: TemporaryDirectoryTestCase {
    // MARK: SHA-256

    func testSHA256KnownVectors() throws {
        let vectors: [(String, String)] = [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
            ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
             "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        ]
        for (message, digest) in vectors {
            XCTAssertEqual(SHA256.hex(of: Array(message.utf8)), digest, message)
        }
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        XCTAssertEqual(SHA256.hex(of: million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")

        // Streaming a file in chunks of any size gives the one-shot digest (block boundaries crossed).
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: path("bytes.bin")))
        let oneShot = SHA256.hex(of: bytes)
        for chunk in [1, 3, 63, 64, 65, 1 << 20] {
            XCTAssertEqual(try SHA256.hex(ofFileAt: path("bytes.bin"), chunkSize: chunk), oneShot, "chunk \(chunk)")
        }
        XCTAssertThrowsError(try SHA256.hex(ofFileAt: path("missing.bin")))
    }

    // MARK: The recorder against the runtime (tiny model)

    /// Forwards to the recorder and keeps what the runtime shows: queries per position and layer, and the
    /// runtime's own attention rows of decoding steps.
    private final class Tap: ForwardObserver {
        let recorder: CaptureRecorder
        let promptLength: Int
        var queries: [Int: [Int: [Float]]] = [:]   // layer → position → [H * d]
        var attention: [[Int: [Float]]]              // layer → head → rows of every decoding step, keyCount each
        var currentPositions: [Int: [Int]] = [:]
        let qDim: Int

        init(recorder: CaptureRecorder, config: ModelConfig, promptLength: Int) {
            self.recorder = recorder
            self.promptLength = promptLength
            qDim = config.nHeads * config.dHead
            attention = Array(repeating: [:], count: config.nLayers)
        }

        func didProject(layer: Int, positions: [Int], queries q: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                        values: UnsafePointer<Float>) {
            recorder.didProject(layer: layer, positions: positions, queries: q, keys: keys, values: values)
            currentPositions[layer] = positions
            for (t, p) in positions.enumerated() {
                queries[layer, default: [:]][p] = Array(UnsafeBufferPointer(start: q + t * qDim, count: qDim))
            }
        }

        var wantsAttention: Bool { true }

        func didAttend(layer: Int, head: Int, firstRow: Int, rows: Int, keyCount: Int, probabilities: UnsafePointer<Float>) {
            let positions = currentPositions[layer]!
            for r in 0..<rows where positions[firstRow + r] >= promptLength {
                attention[layer][head, default: []].append(contentsOf:
                    UnsafeBufferPointer(start: probabilities + r * keyCount, count: promptLength))
            }
        }
    }

    func testRecorderHoldsWhatTheRuntimeComputes() throws {
        let model = try TinyModel.load()
        let c = model.config, d = c.dHead
        let prompt = Array("The keys are what the cache holds.".utf8).map(Int.init)
        let n = prompt.count, steps = 6, window = 5
        let recorder = CaptureRecorder(config: c, promptLength: n, window: window, maxSteps: steps,
                                       recordValues: true, recordAttention: true)
        let tap = Tap(recorder: recorder, config: c, promptLength: n)
        let cache = model.makeCache(capacity: n + steps)
        var logits = model.forward(tokens: prompt, positions: Array(0..<n), cache: cache, observer: tap)
        var generated: [Int] = []
        for s in 0..<steps {
            let next = GreedyDecoder.argmax(logits)
            logits = model.forward(tokens: [next], positions: [n + s], cache: cache, observer: tap)
            generated.append(next)
        }
        let data = recorder.result(promptTokens: prompt, generated: generated, requestedSteps: steps,
                                   stoppedAtEndOfGeneration: false)
        XCTAssertEqual(data.steps, steps)
        XCTAssertEqual(data.windowPositions, Array((n - window)..<n))

        for l in 0..<c.nLayers {
            for g in 0..<c.nKVHeads {
                let keys = cache.keys(layer: l, head: g), values = cache.values(layer: l, head: g)
                for p in 0..<n {
                    let stored = Array(data.promptKeys[(((l * c.nKVHeads + g) * n + p) * d)...].prefix(d))
                    XCTAssertEqual(stored, Array(keys[(p * d)..<(p * d + d)]), "rot_k l\(l) g\(g) p\(p)")
                    let storedValues = Array(data.promptValues![(((l * c.nKVHeads + g) * n + p) * d)...].prefix(d))
                    XCTAssertEqual(storedValues, Array(values[(p * d)..<(p * d + d)]))
                }
                for s in 0..<steps {
                    let stored = Array(data.decodeKeys[(((l * c.nKVHeads + g) * steps + s) * d)...].prefix(d))
                    XCTAssertEqual(stored, Array(keys[((n + s) * d)..<((n + s) * d + d)]), "decode rot_k s\(s)")
                }
            }
            for h in 0..<c.nHeads {
                for (w, p) in data.windowPositions.enumerated() {
                    let stored = Array(data.windowQueries[(((l * c.nHeads + h) * window + w) * d)...].prefix(d))
                    XCTAssertEqual(stored, Array(tap.queries[l]![p]![(h * d)...].prefix(d)), "window query p\(p)")
                }
                for s in 0..<steps {
                    let stored = Array(data.decodeQueries[(((l * c.nHeads + h) * steps + s) * d)...].prefix(d))
                    XCTAssertEqual(stored, Array(tap.queries[l]![n + s]![(h * d)...].prefix(d)), "decode rot_q s\(s)")
                }
            }
            // Importance and attention against the runtime's own softmax (float32 scores: agree to ~1e-6).
            for g in 0..<c.nKVHeads {
                for j in 0..<n {
                    var mean = 0.0
                    for h in (g * c.groupSize)..<((g + 1) * c.groupSize) {
                        for s in 0..<steps {
                            let runtime = Double(tap.attention[l][h]![s * n + j])
                            mean += runtime
                            let stored = Double(data.attention![((l * c.nHeads + h) * steps + s) * n + j])
                            XCTAssertEqual(stored, runtime, accuracy: 1e-5 * max(runtime, 1e-3))
                        }
                    }
                    mean /= Double(steps * c.groupSize)
                    let stored = Double(data.importance[(l * c.nKVHeads + g) * n + j])
                    XCTAssertEqual(stored, mean, accuracy: 1e-5 * max(mean, 1e-3), "importance l\(l) g\(g) j\(j)")
                }
            }
        }
    }

    func testCaptureDecodesLikeGenerateAndFeedsEveryGeneratedToken() throws {
        let model = try TinyModel.load()
        let prompt = Array("Greedy steps.".utf8).map(Int.init)
        let cache = model.makeCache(capacity: 64)
        var events: [CaptureProgress] = []
        let data = try Capture(model: model).run(prompt: prompt, options: CaptureOptions(steps: 7, window: 64),
                                                 cache: cache) { events.append($0) }
        let expected = try GreedyDecoder(model: model).generate(prompt: prompt, maxTokens: 7)
        XCTAssertEqual(data.generatedTokens, expected.ids)
        XCTAssertEqual(data.window, prompt.count, "the window is clipped to the prompt")
        // Every generated token was fed: the cache holds the prompt plus one entry per step.
        XCTAssertEqual(cache.length(layer: 0, head: 0), prompt.count + data.steps)
        XCTAssertEqual(cache.positions(layer: 0, head: 0).map(Int.init), Array(0..<(prompt.count + data.steps)))
        XCTAssertEqual(events.filter { if case .decoding = $0 { true } else { false } }.count, data.steps)
        guard case .prefill(let done, let layers, _, _)? = events.first(where: { if case .prefill = $0 { true } else { false } }) else {
            return XCTFail("no prefill progress")
        }
        XCTAssertEqual(done, 0)
        XCTAssertEqual(layers, TinyModel.layers)
        // Importance is a mean of softmax rows restricted to the prompt: within (0, 1] per (layer, KV head).
        for row in 0..<(TinyModel.layers * TinyModel.kvHeads) {
            let total = data.importance[(row * prompt.count)..<((row + 1) * prompt.count)].reduce(0, +)
            XCTAssertGreaterThan(total, 0)
            XCTAssertLessThanOrEqual(total, 1 + 1e-5)
        }
        XCTAssertThrowsError(try Capture(model: model).run(prompt: prompt, options: CaptureOptions(steps: 0)))
        XCTAssertThrowsError(try Capture(model: model).run(prompt: prompt, options: CaptureOptions(steps: TinyModel.context)))
    }

    // MARK: Writing (tiny model, in process)

    private func tinyCapture(steps: Int = 5, values: Bool = true, attention: Bool = true) throws -> (CaptureData, CaptureMetadata) {
        let modelURL = directory.appendingPathComponent("tiny.gguf")
        if !FileManager.default.fileExists(atPath: modelURL.path) { try TinyModel.builder().write(to: modelURL) }
        let model = try LanguageModel(path: modelURL.path)
        let prompt = Array("Where matters more than what.".utf8).map(Int.init)
        let data = try Capture(model: model).run(
            prompt: prompt, options: CaptureOptions(steps: steps, window: 4, recordValues: values, recordAttention: attention))
        let metadata = try CaptureMetadata(model: model, modelPath: modelURL.path, promptText: "Where matters more than what.",
                                           chat: false, generatedText: model.tokenizer.decode(data.generatedTokens),
                                           threads: 1, commandLine: "test")
        return (data, metadata)
    }

    func testWriterRoundTripsTheSchema() throws {
        let (data, metadata) = try tinyCapture()
        XCTAssertEqual(metadata.modelSHA256, try SHA256.hex(ofFileAt: path("tiny.gguf")))
        let target = path("tiny.h5")
        try CaptureWriter.write(data, metadata: metadata, toPath: target, overwrite: false)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp-") }, [],
                       "no temporary file left")

        let file = try HDF5File.open(target)
        XCTAssertEqual(try file.stringAttribute("schema"), "dapq-probe/capture")
        XCTAssertEqual(try file.attribute("schema_version", as: Int.self), 2)
        XCTAssertEqual(try file.attribute("complete", as: Int.self), 1)
        XCTAssertEqual(try file.attribute("n_prompt", as: Int.self), data.promptLength)
        XCTAssertEqual(try file.attribute("n_decode", as: Int.self), data.steps)
        XCTAssertEqual(try file.stringAttribute("rope_layout"), "gguf_adjacent_pairs")
        XCTAssertEqual(try file.stringAttribute("model_sha256"), metadata.modelSHA256)
        XCTAssertEqual(try file.openDataset("prompt/rot_k").read(Float.self), data.promptKeys)
        XCTAssertEqual(try file.openDataset("prompt/v").read(Float.self), data.promptValues)
        XCTAssertEqual(try file.openDataset("decode/rot_q").read(Float.self), data.decodeQueries)
        XCTAssertEqual(try file.openDataset("decode/importance").read(Float.self), data.importance)
        XCTAssertEqual(try file.openDataset("decode/attention").read(Float.self), data.attention)
        XCTAssertEqual(try file.openDataset("tokens/generated").read(Int.self), data.generatedTokens)
        XCTAssertEqual(try file.openDataset("decode/importance").dimensionLabels(), ["layer", "kv_head", "position"])
        XCTAssertEqual(try file.openDataset("prompt/rot_q_window").shape, [TinyModel.layers, TinyModel.heads, 4, TinyModel.dHead])
        XCTAssertEqual(try file.openDataset("window").read(Int.self), Array((data.promptLength - 4)..<data.promptLength))
        XCTAssertEqual(try file.openDataset("decode/copy_source").read(Int.self), data.copySource)
        XCTAssertEqual(try file.openDataset("decode/copy_source").dimensionLabels(), ["step"])
        let retrieval = try file.openDataset("decode/retrieval_score").read(Float.self)
        XCTAssertEqual(retrieval.count, TinyModel.layers * TinyModel.heads)
        XCTAssertEqual(retrieval.map(\.isNaN), data.retrievalScore.map(\.isNaN))
        XCTAssertEqual(try file.attribute("copying_steps", as: Int.self), data.copyingSteps)
        XCTAssertFalse(file.exists("prompt/answer_span"), "no span given, none written")
        file.close()
        // With a span: the uint8 mask over the prompt, round-tripped through CaptureFile.
        var spanned = data
        spanned.answerSpan = 2..<5
        try CaptureWriter.write(spanned, metadata: metadata, toPath: path("spanned.h5"), overwrite: false)
        let read = try CaptureFile(path: path("spanned.h5"))
        XCTAssertEqual(read.answerSpan, (0..<data.promptLength).map { (2..<5).contains($0) })
        XCTAssertEqual(read.copySource, data.copySource)
        XCTAssertTrue(try CaptureFile.header(path("spanned.h5")).hasAnswerSpan)

        let summary = try HDF5Inspection(path: target)
        XCTAssertTrue(summary.attributes.contains { $0.name == "complete" && $0.value == "1" })
        XCTAssertTrue(summary.attributes.contains { $0.name == "rope_base" && $0.value == "10000.0" })
        let importance = try XCTUnwrap(summary.datasets.first { $0.path == "/decode/importance" })
        XCTAssertEqual(importance.dimensions, ["layer", "kv_head", "position"])
        XCTAssertEqual(importance.type, "float32")
        XCTAssertTrue(summary.text.contains("/decode/rot_q"))
    }

    func testExistingOutputIsRefusedUnlessOverwriteAndFailuresLeaveNothing() throws {
        let (data, metadata) = try tinyCapture(values: false, attention: false)
        let target = path("exists.h5")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: target))
        XCTAssertThrowsError(try CaptureWriter.write(data, metadata: metadata, toPath: target, overwrite: false)) {
            XCTAssertTrue("\($0)".contains("already exists (use --force"), "\($0)")
        }
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "keep me")
        try CaptureWriter.write(data, metadata: metadata, toPath: target, overwrite: true)
        XCTAssertEqual(try HDF5File.open(target).attribute("complete", as: Int.self), 1)

        // A write that fails halfway (inconsistent tensors) removes its temporary file and leaves no target.
        var broken = data
        broken.decodeKeys.removeLast()
        XCTAssertThrowsError(try CaptureWriter.write(broken, metadata: metadata, toPath: path("broken.h5"), overwrite: false)) {
            XCTAssertTrue("\($0)".contains("writing the capture failed"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("broken.h5")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp-") }, [])

        XCTAssertThrowsError(try AtomicOutputFile(path: path("no/such/dir/x.h5"), overwrite: false)) {
            XCTAssertTrue("\($0)".contains("does not exist"), "\($0)")
        }
        XCTAssertThrowsError(try AtomicOutputFile(path: directory.path, overwrite: true)) {
            XCTAssertTrue("\($0)".contains("is a directory"), "\($0)")
        }
    }

    func testTemporaryFilesOfDeadProcessesAreCleanedUp() throws {
        // A pid far above the kernel's limit never exists.
        let stale = path(".x.h5.tmp-99999999")
        XCTAssertTrue(FileManager.default.createFile(atPath: stale, contents: Data([1, 2, 3])))
        let output = try AtomicOutputFile(path: path("x.h5"), overwrite: false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
        XCTAssertTrue(FileManager.default.fileExists(atPath: output.temporaryPath))
        output.discard()
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.temporaryPath))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.h5")))
    }

    // MARK: The command line on the real model

    private static let question = "What is the capital of France? Answer in one sentence."

    /// Runs `dapq-probe capture` on the real model; fails the test on a non-zero exit.
    @discardableResult
    private func captureCommand(_ out: String, _ extra: [String] = [], steps: Int = 8,
                                file: StaticString = #filePath, line: UInt = #line) throws -> CommandResult {
        let result = try runCommand(try TestPaths.binary(), [
            "capture", "--model", try TestPaths.smolLM2(), "--chat", "--prompt", Self.question,
            "--steps", String(steps), "--window", "4", "--threads", "2", "--out", out,
        ] + extra)
        XCTAssertEqual(result.status, 0, "capture failed: \(result.stderr)", file: file, line: line)
        return result
    }

    /// The test venv's Python (`make venv-test`).
    private func python() throws -> String {
        let python = TestPaths.packageRoot.appendingPathComponent(".cache/venv-test/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw MissingPrerequisite("\(python) missing: run `make venv-test` (h5py, h5netcdf, xarray, numpy, matplotlib)")
        }
        return python
    }

    private func h5dump() throws -> String {
        for candidate in ["/usr/bin/h5dump", "/usr/local/bin/h5dump"] where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw MissingPrerequisite("h5dump missing: run `make setup` (Debian package hdf5-tools)")
    }

    func testCaptureFileReadsOutsideOurCode() throws {
        let out = path("capture.h5")
        let started = Date()
        let result = try captureCommand(out, ["--values", "--attention"])
        XCTAssertTrue(result.stdout.contains("decoding steps"), result.stdout)
        assertPlainProgressLines(result.stderr, seconds: Date().timeIntervalSince(started))

        // h5py, xarray/h5netcdf, and the NumPy recomputation of importance and attention.
        let check = try runCommand(try python(), [
            TestPaths.packageRoot.appendingPathComponent("Tests/python/check_capture.py").path, out, "--values", "--attention",
        ])
        XCTAssertEqual(check.status, 0, "check_capture.py:\n\(check.stdout)\n\(check.stderr)")
        XCTAssertTrue(check.stdout.contains("decode/importance: matches the NumPy recomputation"), check.stdout)
        XCTAssertTrue(check.stdout.hasSuffix("capture OK\n"), check.stdout)

        // h5dump, the HDF5 project's own reader.
        let dump = try runCommand(try h5dump(), ["-H", out])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        for name in ["prompt", "rot_k", "rot_q_window", "v", "decode", "rot_q", "importance", "attention",
                     "tokens", "generated", "text", "layer", "kv_head", "position", "step", "window", "d_head"] {
            XCTAssertTrue(dump.stdout.contains("DATASET \"\(name)\"") || dump.stdout.contains("GROUP \"\(name)\""),
                          "h5dump -H does not list \(name)")
        }

        // inspect: attributes, datasets, shapes and dimension names.
        let inspect = try runCommand(try TestPaths.binary(), ["inspect", out])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        for expected in ["schema", "dapq-probe/capture", "model_sha256", "complete", "n_decode",
                         "/decode/importance", "(layer, kv_head, position)", "/prompt/rot_k", "(layer, kv_head, position, d_head)",
                         "/prompt/rot_q_window", "(layer, head, window, d_head)", "[30, 3, "] {
            XCTAssertTrue(inspect.stdout.contains(expected), "inspect output lacks \(expected):\n\(inspect.stdout)")
        }
        let notHDF5 = try runCommand(try TestPaths.binary(), ["inspect", try TestPaths.smolLM2()])
        XCTAssertNotEqual(notHDF5.status, 0)
        XCTAssertTrue(notHDF5.stderr.contains("not an HDF5 file"), notHDF5.stderr)
        XCTAssertEqual(notHDF5.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1)

        // The plot script draws a non-trivial heat map PNG from the same capture.
        let plots = path("plots")
        let plot = try runCommand(try python(), [
            TestPaths.packageRoot.appendingPathComponent("notebooks-data/plot_capture.py").path, out, "--out", plots,
        ])
        XCTAssertEqual(plot.status, 0, plot.stderr)
        let png = plots + "/capture_attention.png"
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: png)[.size] as? Int)
        XCTAssertGreaterThan(size, 50_000, "PNG too small to hold 30 heat maps")
        let pixels = try runCommand(try python(), ["-c", """
            import sys, matplotlib.image as m, numpy as np
            a = m.imread(sys.argv[1])[..., :3]
            print(len(np.unique(a.reshape(-1, 3), axis=0)), float(a.std()))
            """, png])
        let fields = pixels.stdout.split(separator: " ")
        XCTAssertEqual(pixels.status, 0, pixels.stderr)
        XCTAssertGreaterThan(Int(fields.first ?? "") ?? 0, 100, "the PNG has too few colours: \(pixels.stdout)")
        XCTAssertGreaterThan(Double(fields.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0, 0.05)
    }

    func testSameThreadsGiveByteIdenticalTensors() throws {
        let first = path("first.h5"), second = path("second.h5")
        try captureCommand(first)
        try captureCommand(second)
        let a = try HDF5File.open(first), b = try HDF5File.open(second)
        for name in ["prompt/rot_k", "prompt/rot_q_window", "decode/rot_q", "decode/rot_k", "decode/importance"] {
            let x = try a.openDataset(name).read(Float.self), y = try b.openDataset(name).read(Float.self)
            XCTAssertFalse(x.isEmpty)
            XCTAssertEqual(x.map(\.bitPattern), y.map(\.bitPattern), "\(name) differs between two runs")
        }
        XCTAssertEqual(try a.openDataset("tokens/generated").read(Int32.self), try b.openDataset("tokens/generated").read(Int32.self))
        XCTAssertEqual(try a.stringAttribute("model_sha256"), try b.stringAttribute("model_sha256"))
        XCTAssertEqual(try a.attribute("threads", as: Int.self), 2)
    }

    func testKilledCaptureLeavesNoFileUnderTheTargetName() throws {
        // A long prompt and many steps, so the run is still decoding when it is killed.
        let prompt = (0..<30).map { "Item \($0): the quick brown fox jumps over the lazy dog near river number \($0 * 7)." }
            .joined(separator: " ")
        try prompt.write(toFile: path("prompt.txt"), atomically: true, encoding: .utf8)
        let target = path("killed.h5")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestPaths.binary())
        process.arguments = ["capture", "--model", try TestPaths.smolLM2(), "--prompt-file", path("prompt.txt"),
                             "--steps", "400", "--threads", "2", "--progress", "always", "--out", target]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait until the temporary file exists and decoding has begun (plain progress lines on stderr).
        var seen = ""
        while !seen.contains("decoding") {
            let chunk = stderr.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        let temporary = path(".killed.h5.tmp-\(process.processIdentifier)")
        XCTAssertTrue(seen.contains("decoding"), "the run ended before decoding: \(seen)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: temporary), "no temporary file while decoding")
        XCTAssertTrue(process.isRunning)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        XCTAssertFalse(FileManager.default.fileExists(atPath: target), "a killed capture left a file under the target name")
        // The next output in that directory removes the dead run's temporary file.
        try AtomicOutputFile(path: target, overwrite: false).discard()
        XCTAssertFalse(FileManager.default.fileExists(atPath: temporary))

        // SIGTERM (like Ctrl-C) is caught: the run removes its own temporary file and exits with 128 + 15.
        let terminated = Process()
        terminated.executableURL = process.executableURL
        terminated.arguments = process.arguments
        let terminatedErr = Pipe()
        terminated.standardError = terminatedErr
        terminated.standardOutput = FileHandle.nullDevice
        try terminated.run()
        seen = ""
        while !seen.contains("prefill") {
            let chunk = terminatedErr.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        let terminatedTemporary = path(".killed.h5.tmp-\(terminated.processIdentifier)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: terminatedTemporary))
        kill(terminated.processIdentifier, SIGTERM)
        terminated.waitUntilExit()
        XCTAssertEqual(terminated.terminationStatus, 128 + SIGTERM)
        XCTAssertFalse(FileManager.default.fileExists(atPath: terminatedTemporary))
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
    }

    func testRefusalsAreOneLineErrors() throws {
        let binary = try TestPaths.binary(), model = try TestPaths.smolLM2()
        let existing = path("existing.h5")
        try Data("old".utf8).write(to: URL(fileURLWithPath: existing))
        func run(_ out: String, _ extra: [String] = []) throws -> CommandResult {
            try runCommand(binary, ["capture", "--model", model, "--prompt", "Hi", "--steps", "2", "--out", out] + extra)
        }
        let refused = try run(existing)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("already exists (use --force to replace it)"), refused.stderr)
        XCTAssertEqual(refused.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, refused.stderr)
        XCTAssertEqual(try String(contentsOfFile: existing, encoding: .utf8), "old")

        let missingDirectory = try run(path("nowhere/out.h5"))
        XCTAssertNotEqual(missingDirectory.status, 0)
        XCTAssertTrue(missingDirectory.stderr.contains("does not exist"), missingDirectory.stderr)

        // A directory nobody may write in: /proc refuses new files even to root.
        let unwritable = try run("/proc/dapq-probe-test.h5")
        XCTAssertNotEqual(unwritable.status, 0)
        XCTAssertTrue(unwritable.stderr.contains("cannot write in /proc"), unwritable.stderr)
        XCTAssertEqual(unwritable.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1)

        let noSteps = try runCommand(binary, ["capture", "--model", model, "--prompt", "Hi", "--steps", "0", "--out", path("z.h5")])
        XCTAssertNotEqual(noSteps.status, 0)
        XCTAssertEqual(noSteps.stderr.trimmingCharacters(in: .whitespacesAndNewlines), "Error: --steps must be at least 1")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("z.h5")))

        let forced = try run(existing, ["--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(try HDF5File.open(existing).attribute("complete", as: Int.self), 1)
    }
}
