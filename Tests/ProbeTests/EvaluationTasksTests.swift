import Foundation
import XCTest
@testable import Compression
import Probe

/// Evaluation task builders and scorers (docs/evaluation.md): scoring on hand-written answers, then NIAH and
/// RULER samples built with the real SmolLM2 tokenizer and chat template and the cached Paul Graham essays.
final class EvaluationTasksTests: XCTestCase {
    // MARK: - shared inputs

    nonisolated(unsafe) static var cachedFormat: EvaluationPromptFormat?
    nonisolated(unsafe) static var cachedEssays: Haystack?
    nonisolated(unsafe) static var cachedWords: RulerWordList?
    static let lock = NSLock()

    /// SmolLM2's tokenizer and chat template (the GGUF is memory-mapped; no weights are read).
    func format() throws -> EvaluationPromptFormat {
        Self.lock.lock()
        defer { Self.lock.unlock() }
        if let f = Self.cachedFormat { return f }
        let f = try EvaluationPromptFormat(gguf: try GGUFFile(path: try TestPaths.smolLM2()))
        Self.cachedFormat = f
        return f
    }

    static var essayDirectory: String { TestPaths.cache.appendingPathComponent("corpus/PaulGrahamEssays").path }

    func essays() throws -> Haystack {
        Self.lock.lock()
        defer { Self.lock.unlock() }
        if let h = Self.cachedEssays { return h }
        guard FileManager.default.fileExists(atPath: Self.essayDirectory) else {
            throw MissingPrerequisite("essays missing at \(Self.essayDirectory): run `make setup` first")
        }
        let h = try Haystack(path: Self.essayDirectory)
        Self.cachedEssays = h
        return h
    }

    func wordList() throws -> RulerWordList {
        Self.lock.lock()
        defer { Self.lock.unlock() }
        if let w = Self.cachedWords { return w }
        guard FileManager.default.fileExists(atPath: RulerWordList.defaultPath) else {
            throw MissingPrerequisite("word list missing at \(RulerWordList.defaultPath): run `make setup` (Debian package wamerican)")
        }
        let w = try RulerWordList()
        Self.cachedWords = w
        return w
    }

    /// Occurrences of `needle` in `text` (non-overlapping).
    func occurrences(of needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    // MARK: - scoring

    func testNIAHScoreCountsReferenceWordsPresent() {
        let reference = NeedleTask.defaultAnswer  // 12 words, 11 distinct ("a" twice)
        XCTAssertEqual(AnswerScoring.niahScore(answer: " eat a sandwich and sit in Dolores Park on a sunny day.", reference: reference), 1)
        XCTAssertEqual(AnswerScoring.niahScore(answer: "EAT A SANDWICH, and sit in dolores park -- on a sunny day!!", reference: reference), 1)
        XCTAssertEqual(AnswerScoring.niahScore(answer: "Eat a sandwich and sit in Dolores Park.", reference: reference), 8.0 / 11, accuracy: 1e-12)
        XCTAssertEqual(AnswerScoring.niahScore(answer: "to visit the Golden Gate Bridge", reference: reference), 0)
        XCTAssertEqual(AnswerScoring.niahScore(answer: "", reference: reference), 0)
        // Words, not substrings: "parking" is not "park"; "sandwiches" is not "sandwich".
        XCTAssertEqual(AnswerScoring.niahScore(answer: "parking sandwiches", reference: "park sandwich"), 0)
        XCTAssertEqual(AnswerScoring.niahScore(answer: "anything", reference: " ,.! "), 0)
        XCTAssertEqual(AnswerScoring.words("Don't stop—it's 9:30, O’Brien."), ["dont", "stop", "its", "9", "30", "obrien"])
    }

    func testRulerStringMatchAllSingleAndMultipleReferences() {
        XCTAssertEqual(AnswerScoring.rulerStringMatchAll(prediction: " 4817203.", references: ["4817203"]), 1)
        XCTAssertEqual(AnswerScoring.rulerStringMatchAll(prediction: "48172031", references: ["4817203"]), 1)  // a substring counts, as in RULER
        XCTAssertEqual(AnswerScoring.rulerStringMatchAll(prediction: "481 7203", references: ["4817203"]), 0)
        XCTAssertEqual(AnswerScoring.rulerStringMatchAll(prediction: "UUID: 3F2A-BB", references: ["3f2a-bb"]), 1)  // case-insensitive
        // Several references: the fraction found.
        let refs = ["1111111", "2222222", "3333333"]
        XCTAssertEqual(AnswerScoring.rulerStringMatchAll(prediction: "2222222 and 1111111", references: refs), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(AnswerScoring.rulerStringMatchAll(prediction: "1111111, 2222222, 3333333", references: refs), 1)
        XCTAssertEqual(AnswerScoring.rulerStringMatchAll(prediction: "none", references: refs), 0)
        XCTAssertEqual(AnswerScoring.rulerStringMatchAll(prediction: "anything", references: []), 0)
    }

    func testRulerPostprocessStripsAndReplacesControlCharacters() {
        XCTAssertEqual(AnswerScoring.rulerPostprocess("  1234567\t\n"), "1234567")
        XCTAssertEqual(AnswerScoring.rulerPostprocess("a\tb\u{0}c\u{1B}d"), "a\nb\nc\nd")
        XCTAssertEqual(AnswerScoring.rulerPostprocess("\u{1F} x \u{1C}"), "x")  // Python's strip() takes U+001C…U+001F
        XCTAssertEqual(AnswerScoring.rulerPostprocess(" \n "), "")
    }

    func testSampleScoreDispatchesByTask() {
        var sample = EvaluationSample(task: .niah, length: 10, depthPercent: 0, sampleIndex: nil, promptTokens: [1],
                                      promptText: "", references: ["sit in the park"], needle: "", key: nil, value: nil,
                                      maxNewTokens: 32, answerPrefix: "", needleDepthPercent: 0, needleTokenRange: nil)
        XCTAssertEqual(sample.score(answer: "Sit in the PARK."), 1)
        XCTAssertEqual(sample.score(answer: "sit"), 0.25)
        sample.task = .niahSingle2
        sample.references = ["1234567"]
        XCTAssertEqual(sample.score(answer: " 1234567."), 1)
        XCTAssertEqual(sample.score(answer: "123456"), 0)
    }

    func testTaskNames() throws {
        XCTAssertEqual(try EvaluationTask.parseList("niah_single_3,niah"), [.niahSingle3, .niah])
        XCTAssertEqual(try EvaluationTask.parseList("ruler"), [.niahSingle1, .niahSingle2, .niahSingle3])
        XCTAssertThrowsError(try EvaluationTask.parseList("niah_single_4"))
        XCTAssertEqual(EvaluationTask.niah.maxNewTokens, 32)
        XCTAssertEqual(EvaluationTask.niahSingle3.maxNewTokens, 128)
    }

    // MARK: - pieces of RULER

    func testUUIDAndDepthsMatchPython() {
        // uuid.UUID(int=0x0123456789abcdef_fedcba9876543210, version=4) and int=2**128-1.
        XCTAssertEqual(RulerTask.uuid4(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210), "01234567-89ab-4def-bedc-ba9876543210")
        XCTAssertEqual(RulerTask.uuid4(high: .max, low: .max), "ffffffff-ffff-4fff-bfff-ffffffffffff")
        XCTAssertEqual(RulerTask.uuid4(high: 0, low: 0), "00000000-0000-4000-8000-000000000000")
        // np.round(np.linspace(0, 100, 40)).astype(int)
        XCTAssertEqual(RulerTask.depths, [0, 3, 5, 8, 10, 13, 15, 18, 21, 23, 26, 28, 31, 33, 36, 38, 41, 44, 46, 49, 51,
                                          54, 56, 59, 62, 64, 67, 69, 72, 74, 77, 79, 82, 85, 87, 90, 92, 95, 97, 100])
    }

    func testSentenceSplitter() {
        let words = "He said \"Stop.\" Then e.g. we left. Mr. Smith came! Why? J. Doe stayed".split(separator: " ")
        let sentences = SentenceSplitter.sentenceRanges(words).map { words[$0].joined(separator: " ") }
        XCTAssertEqual(sentences, ["He said \"Stop.\"", "Then e.g. we left.", "Mr. Smith came!", "Why?", "J. Doe stayed"])
        XCTAssertEqual(SentenceSplitter.sentenceRanges([String]()), [])
    }

    func testWordListFilter() throws {
        let list = try RulerWordList(words: ["apple", "Apple", "apple's", "café", "ox", "zebra", "apple", "b2b"])
        XCTAssertEqual(list.words, ["apple", "zebra"])
        XCTAssertThrowsError(try RulerWordList(words: ["A", "b"]))
        let missing = "/nonexistent/words-\(UUID().uuidString)"
        XCTAssertThrowsError(try RulerWordList(path: missing)) { error in
            XCTAssertTrue("\(error)".contains(missing) && "\(error)".contains("wamerican"), "\(error)")
        }
        let real = try wordList()
        XCTAssertGreaterThan(real.words.count, 50_000)
        XCTAssertTrue(real.words.allSatisfy { $0.count >= 3 && $0.allSatisfy { ("a"..."z").contains($0) } })
        XCTAssertEqual(real.sha256.count, 64)
    }

    // MARK: - haystack

    func testHaystackErrorsNameThePath() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("nowhere").path
        XCTAssertThrowsError(try Haystack(path: missing)) { XCTAssertTrue("\($0)".contains(missing), "\($0)") }
        XCTAssertThrowsError(try Haystack(path: dir.path)) { XCTAssertTrue("\($0)".contains("no .txt files"), "\($0)") }
        let blank = dir.appendingPathComponent("blank.txt")
        try " \n ".write(to: blank, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Haystack(path: dir.path)) { XCTAssertTrue("\($0)".contains("empty"), "\($0)") }
        // Files in sorted name order, concatenated as they are; a file path works too.
        try "second.".write(to: dir.appendingPathComponent("b.txt"), atomically: true, encoding: .utf8)
        try "First.".write(to: dir.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try Haystack(path: dir.path).text, "First.second. \n ")
        XCTAssertEqual(try Haystack(path: dir.appendingPathComponent("b.txt").path).text, "second.")
        XCTAssertEqual(Haystack(text: "abc").prefix(characters: 7), "abcabca")
    }

    func testEssaysLoad() throws {
        let h = try essays()
        XCTAssertEqual(h.files.map { URL(fileURLWithPath: $0).lastPathComponent }, h.files.map { URL(fileURLWithPath: $0).lastPathComponent }.sorted())
        XCTAssertGreaterThan(h.files.count, 10)
        XCTAssertGreaterThan(h.words.count, 100_000)
    }

    // MARK: - NIAH

    func testNIAHPlacesTheNeedleOnceAtSentenceBoundariesInDepthOrder() throws {
        let task = NeedleTask(haystack: try essays(), format: try format())
        let length = 1000
        var starts: [Int] = []
        for depth in [0.0, 25, 50, 75, 100] {
            let s = try task.sample(length: length, depthPercent: depth)
            XCTAssertEqual(s.task, .niah)
            XCTAssertEqual(s.depthPercent, depth)
            XCTAssertNil(s.sampleIndex)
            XCTAssertEqual(s.references, [NeedleTask.defaultAnswer])
            XCTAssertEqual(s.maxNewTokens, 32)
            // Length: at most L, within a few tokens of it.
            XCTAssertLessThanOrEqual(s.promptTokens.count, length)
            XCTAssertGreaterThanOrEqual(s.promptTokens.count, length - 3, "depth \(depth)")
            // The ids are the text's, the text the chat prompt: system turn, user turn ending in the question,
            // assistant header, answer prefix.
            XCTAssertEqual(s.promptTokens, task.format.tokenizer.encode(s.promptText))
            XCTAssertTrue(s.promptText.hasPrefix("<|im_start|>system\n"))
            XCTAssertTrue(s.promptText.hasSuffix("\n\n\(NeedleTask.defaultQuestion)<|im_end|>\n<|im_start|>assistant\n\(NeedleTask.defaultAnswerPrefix)"),
                          String(s.promptText.suffix(200)))
            // Once, after a sentence end (or at the very start of the haystack), followed by whitespace.
            XCTAssertEqual(occurrences(of: NeedleTask.defaultNeedle, in: s.promptText), 1)
            let parts = s.promptText.components(separatedBy: NeedleTask.defaultNeedle)
            let before = parts[0], after = parts[1]
            if depth == 0 {
                XCTAssertTrue(before.hasSuffix("<|im_start|>user\n"), String(before.suffix(40)))
            } else if depth < 100 {
                XCTAssertEqual(before.last, ".", String(before.suffix(40)))
                XCTAssertTrue(after.first?.isWhitespace ?? false, String(after.prefix(40)))
            } else {
                XCTAssertTrue(after.hasPrefix("\n\n\(NeedleTask.defaultQuestion)"), String(after.prefix(40)))
            }
            let range = try XCTUnwrap(s.needleTokenRange)
            XCTAssertTrue(task.format.tokenizer.decode(Array(s.promptTokens[range])).contains(NeedleTask.defaultNeedle.trimmingCharacters(in: .newlines)))
            XCTAssertEqual(s.answerTokenRange, range, "NIAH's answer restates the needle")
            starts.append(range.lowerBound)
        }
        XCTAssertEqual(starts, starts.sorted())
        XCTAssertEqual(Set(starts).count, starts.count, "\(starts)")
        XCTAssertLessThan(starts[0], 40)  // after the system prompt and the user header only
        // Deterministic.
        XCTAssertEqual(try task.sample(length: length, depthPercent: 50), try task.sample(length: length, depthPercent: 50))
    }

    func testNIAHOverridesLengthsAndErrors() throws {
        var task = NeedleTask(haystack: try essays(), format: try format(), needle: " The secret code is tangerine.",
                              question: "What is the secret code?", answerPrefix: "The secret code is", answer: "tangerine")
        let s = try task.sample(length: 3000, depthPercent: 40)
        XCTAssertLessThanOrEqual(s.promptTokens.count, 3000)
        XCTAssertGreaterThanOrEqual(s.promptTokens.count, 2997)
        XCTAssertEqual(occurrences(of: " The secret code is tangerine.", in: s.promptText), 1)
        XCTAssertEqual(s.references, ["tangerine"])
        XCTAssertTrue(s.promptText.hasSuffix("assistant\nThe secret code is"))
        XCTAssertThrowsError(try task.sample(length: 30, depthPercent: 50)) { XCTAssertTrue("\($0)".contains("too short"), "\($0)") }
        XCTAssertThrowsError(try task.sample(length: 1000, depthPercent: 101))
        // Without a chat template: the user text, the answer prefix on the next line.
        let plain = NeedleTask(haystack: try essays(), format: EvaluationPromptFormat(tokenizer: try format().tokenizer, chatTemplate: nil))
        let p = try plain.sample(length: 500, depthPercent: 50)
        XCTAssertFalse(p.promptText.contains("<|im_start|>"))
        XCTAssertTrue(p.promptText.hasSuffix("\n\n\(NeedleTask.defaultQuestion)\n\(NeedleTask.defaultAnswerPrefix)"))
        XCTAssertLessThanOrEqual(p.promptTokens.count, 500)
        XCTAssertGreaterThanOrEqual(p.promptTokens.count, 497)
        // A haystack shorter than the context repeats.
        task.haystack = Haystack(text: "Short essay. It repeats. ")
        let repeated = try task.sample(length: 400, depthPercent: 50)
        XCTAssertGreaterThanOrEqual(repeated.promptTokens.count, 397)
        XCTAssertLessThanOrEqual(repeated.promptTokens.count, 400)
    }

    // MARK: - RULER

    func rulerTask(_ task: EvaluationTask, seed: UInt64 = 42) throws -> RulerTask {
        try RulerTask(task: task, format: try format(), wordList: try wordList(),
                      haystack: task == .niahSingle1 ? nil : try essays(), seed: seed)
    }

    func testRulerSamplesAreDeterministicAndDistinct() throws {
        for kind in EvaluationTask.rulerTasks {
            let a = try rulerTask(kind), b = try rulerTask(kind)
            let s0 = try a.sample(length: 800, index: 0)
            XCTAssertEqual(s0, try b.sample(length: 800, index: 0), kind.name)
            let s1 = try a.sample(length: 800, index: 1)
            XCTAssertNotEqual(s0.key, s1.key, kind.name)
            XCTAssertNotEqual(s0.value, s1.value, kind.name)
            XCTAssertNotEqual(try rulerTask(kind, seed: 43).sample(length: 800, index: 0).value, s0.value, kind.name)
        }
    }

    func testRulerSamplesFollowRulersTemplates() throws {
        let digits = try NSRegularExpression(pattern: "^[1-9][0-9]{6}$")
        let uuid = try NSRegularExpression(pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        func matches(_ re: NSRegularExpression, _ s: String) -> Bool {
            re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
        }
        let length = 1000
        for kind in EvaluationTask.rulerTasks {
            let task = try rulerTask(kind)
            for index in 0..<3 {
                let s = try task.sample(length: length, index: index)
                let key = try XCTUnwrap(s.key), value = try XCTUnwrap(s.value)
                let type = kind == .niahSingle3 ? "uuid" : "number"
                XCTAssertEqual(s.task, kind)
                XCTAssertEqual(s.sampleIndex, index)
                XCTAssertNil(s.depthPercent)
                XCTAssertEqual(s.references, [value])
                XCTAssertEqual(s.maxNewTokens, 128)
                XCTAssertTrue(matches(kind == .niahSingle3 ? uuid : digits, value), "\(kind.name): \(value)")
                XCTAssertTrue(task.wordList.words.contains(key))
                XCTAssertEqual(s.needle, "One of the special magic \(type)s for \(key) is: \(value).")
                XCTAssertEqual(s.answerPrefix, " The special magic \(type) for \(key) mentioned in the provided text is")
                XCTAssertEqual(occurrences(of: value, in: s.promptText), 1, "\(kind.name) #\(index)")
                XCTAssertEqual(occurrences(of: s.needle, in: s.promptText), 1)
                XCTAssertTrue(s.promptText.contains("<|im_start|>user\nA special magic \(type) is hidden within the following text. Make sure to memorize it. I will quiz you about the \(type) afterwards.\n"))
                XCTAssertTrue(s.promptText.hasSuffix("\nWhat is the special magic \(type) for \(key) mentioned in the provided text?<|im_end|>\n<|im_start|>assistant\n\(s.answerPrefix)"))
                XCTAssertEqual(s.promptTokens, task.format.tokenizer.encode(s.promptText))
                // Length: at most L, within one haystack unit of it (a word; a noise block of ~20 tokens).
                XCTAssertLessThanOrEqual(s.promptTokens.count, length)
                XCTAssertGreaterThanOrEqual(s.promptTokens.count, length - (kind == .niahSingle1 ? 30 : 6), kind.name)
                let range = try XCTUnwrap(s.needleTokenRange)
                XCTAssertTrue(task.format.tokenizer.decode(Array(s.promptTokens[range])).contains(value))
                // The answer's span: the value's tokens alone (a token straddling its edge included), inside the needle's.
                let span = try XCTUnwrap(s.answerTokenRange)
                XCTAssertTrue(range.contains(span.lowerBound) && span.upperBound <= range.upperBound, "\(span) in \(range)")
                let spanText = task.format.tokenizer.decode(Array(s.promptTokens[span]))
                XCTAssertTrue(spanText.contains(value), spanText)
                XCTAssertFalse(spanText.contains(key), spanText)
                XCTAssertLessThan(spanText.count, value.count + 4, spanText)
                if kind == .niahSingle1 {
                    XCTAssertTrue(s.promptText.contains(RulerTask.noiseHaystack + "\n" + s.needle + "\n" + RulerTask.noiseHaystack)
                                  || s.promptText.contains("afterwards.\n" + s.needle + "\n"))
                } else {
                    XCTAssertTrue(RulerTask.depths.map(Double.init).contains(s.needleDepthPercent))
                }
            }
        }
    }

    func testRulerDepthsAreDrawnAcrossTheHaystack() throws {
        let task = try rulerTask(.niahSingle2)
        let depths = (0..<200).map { task.draw(length: 2000, index: $0).placement }
        XCTAssertGreaterThan(Set(depths).count, 30)  // most of RULER's 40 depths
        XCTAssertTrue(depths.allSatisfy { RulerTask.depths.contains(Int($0)) })
        let noise = try rulerTask(.niahSingle1)
        let us = (0..<200).map { noise.draw(length: 2000, index: $0).placement }
        XCTAssertTrue(us.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertLessThan(us.min()!, 0.05)
        XCTAssertGreaterThan(us.max()!, 0.95)
        XCTAssertThrowsError(try RulerTask(task: .niah, format: try format(), wordList: try wordList(), haystack: nil, seed: 0))
        XCTAssertThrowsError(try RulerTask(task: .niahSingle2, format: try format(), wordList: try wordList(), haystack: nil, seed: 0))
    }
}
