import Foundation
import XCTest

@testable import Compression
@testable import Probe

/// Query-agnostic compression (`--question-placement outside`): the prompt is the same tokens cut at a token
/// boundary before the question; both placements decode from caches of the same size; the truth of the outside
/// placement is the full-cache run with the question appended.
final class QuestionPlacementTests: XCTestCase {
    private func format() throws -> EvaluationPromptFormat {
        try EvaluationPromptFormat(gguf: try GGUFFile(path: try TestPaths.smolLM2()))
    }

    /// The context and question tokens of `outside`, joined, are the `inside` prompt's tokens exactly; the context
    /// holds the needle and not the question, the question part holds the question and ends with the answer prefix.
    func testOutsideIsTheInsidePromptCutAtATokenBoundaryBeforeTheQuestion() throws {
        let format = try format()
        let essays = try Haystack()
        var samples: [(EvaluationSample, question: String)] = []
        let needle = NeedleTask(haystack: essays, format: format)
        for length in [300, 1000] {
            for depth in [0.0, 50, 100] { samples.append((try needle.sample(length: length, depthPercent: depth), NeedleTask.defaultQuestion)) }
        }
        for task in EvaluationTask.rulerTasks {
            let ruler = try RulerTask(task: task, format: format, wordList: try RulerWordList(), haystack: essays, seed: 3)
            for index in 0..<2 {
                let sample = try ruler.sample(length: 500, index: index)
                samples.append((sample, "What is the special magic \(RulerTask.valueKind(of: task).singular) for \(sample.key!) mentioned"))
            }
        }
        let tokenizer = format.tokenizer
        for (sample, question) in samples {
            let name = "\(sample.task.name) L\(sample.length) \(sample.depthPercent.map { "d\($0)" } ?? "s\(sample.sampleIndex!)")"
            let inside = try sample.split(.inside)
            XCTAssertEqual(inside.context, sample.promptTokens, name)
            XCTAssertEqual(inside.question, [], name)
            let outside = try sample.split(.outside)
            XCTAssertEqual(outside.context + outside.question, sample.promptTokens, "\(name): the same tokens, cut once")
            let contextText = String(decoding: outside.context.flatMap { tokenizer.pieceBytes($0) }, as: UTF8.self)
            let questionText = String(decoding: outside.question.flatMap { tokenizer.pieceBytes($0) }, as: UTF8.self)
            XCTAssertEqual(contextText + questionText, sample.promptText, "\(name): the cut is a boundary of the prompt's own tokens")
            XCTAssertTrue(questionText.hasPrefix(question) || questionText.dropFirst().hasPrefix(question) || questionText.hasPrefix("\n" + question),
                          "\(name): the question part starts at the question: \(questionText.prefix(60).debugDescription)")
            XCTAssertTrue(questionText.hasSuffix(sample.answerPrefix), name)
            XCTAssertFalse(contextText.contains(question), "\(name): the context does not hold the question")
            XCTAssertTrue(contextText.contains(sample.needle.trimmingCharacters(in: .whitespacesAndNewlines)), "\(name): the needle is in the context")
            XCTAssertLessThan(outside.question.count, 64, name)
        }
    }

    /// A needle prompt of SmolLM2 with its question, and the token where the question starts.
    private func needlePrompt(_ model: LanguageModel) throws -> (tokens: [Int], questionStart: Int) {
        let filler = String(try Haystack().text.prefix(1500))
        let cut = filler.range(of: ". ", range: filler.index(filler.startIndex, offsetBy: 700)..<filler.endIndex)!.upperBound
        let context = String(filler[..<cut]) + "The secret code of the vault is 4721. " + String(filler[cut...])
        let (rendered, start) = try EvaluationPromptFormat(model: model).render(context: context, question: "What is the secret code of the vault?")
        return (rendered.tokens, try XCTUnwrap(start))
    }

    func testBothPlacementsDecodeFromCachesOfTheSameSize() throws {
        let model = try CompressionPolicyTests.model()
        let c = model.config
        let (prompt, cut) = try needlePrompt(model)
        let (context, question) = try QuestionPlacement.outside.split(prompt, questionStart: cut)
        let n = prompt.count, q = question.count
        XCTAssertGreaterThan(q, 5)
        var settings = CompressionSettings()
        settings.window = 8
        settings.pseudoCount = 8
        let policies = try PolicySpec.parseList("full,random,streaming,h2o,snapkv,pyramidkv,tova,expected,laq,dapq,dapq[content=oracle,position=far],oracle")
        let budgets: [Budget] = [.entries(q + 16), .entries(96)]
        let compressor = try Compressor(model: model, settings: settings)
        let inside = try compressor.run(prompt: prompt, policies: policies, budgets: budgets, maxTokens: 12)
        let outside = try compressor.run(prompt: context, question: question, policies: policies, budgets: budgets, maxTokens: 12)
        XCTAssertEqual(inside.promptLength, n)
        XCTAssertEqual(outside.promptLength, n)
        XCTAssertEqual(inside.cells.count, outside.cells.count)
        let entryBytes = c.nLayers * c.nKVHeads * c.dHead * 2 * model.cacheType.bytesPerValue
        for (a, b) in zip(inside.cells, outside.cells) {
            XCTAssertEqual(a.policy, b.policy)
            XCTAssertEqual(a.entries, b.entries, "\(a.policy) \(a.budget)")
            XCTAssertEqual(b.cacheBytes, a.cacheBytes, "\(a.policy) \(a.budget): the same cache size when decoding starts")
            XCTAssertEqual(b.cacheBytes, b.entries * entryBytes)
            for layer in b.kept {
                for held in layer {
                    XCTAssertEqual(Array(held.suffix(q)), Array(context.count..<n), "\(b.policy) \(b.budget): the question is held whole")
                    XCTAssertTrue(held.dropLast(q).allSatisfy { $0 < context.count }, "\(b.policy): the rest is context")
                    if b.policy != "pyramidkv" { XCTAssertEqual(held.count, b.entries, "\(b.policy) \(b.budget)") }
                }
            }
        }
        // The outside full cache answers as the outside truth (the same computation), and that truth is the
        // plain runtime's: the context prefilled, then the question, then greedy decoding.
        let plain = model.makeCache(capacity: n + 16)
        model.forward(tokens: context, positions: Array(0..<context.count), cache: plain, logits: .none)
        var logits = model.forward(tokens: question, positions: Array(context.count..<n), cache: plain, logits: .last)
        var answer: [Int] = []
        while answer.count < 12 {
            let next = GreedyDecoder.argmax(logits)
            if model.tokenizer.endOfGenerationIDs.contains(next) { break }
            answer.append(next)
            logits = model.forward(tokens: [next], positions: [n + answer.count - 1], cache: plain, logits: .last)
        }
        XCTAssertEqual(outside.fullTokens, answer)
        XCTAssertTrue(model.tokenizer.decode(answer).contains("4721"), model.tokenizer.decode(answer))
        XCTAssertEqual(outside.cells.first { $0.policy == "full" }?.tokens, answer)
        // Query-agnostic SnapKV scores with the context's last queries, not the question's: it keeps other entries.
        let snap = { (r: CompressionResult) in r.cells.first { $0.policy == "snapkv" && $0.budget == .entries(96) }!.kept }
        XCTAssertNotEqual(snap(inside), snap(outside))
    }

    func testABudgetWithoutRoomForTheContextIsRefused() throws {
        let model = try CompressionPolicyTests.model()
        let (prompt, cut) = try needlePrompt(model)
        let (context, question) = try QuestionPlacement.outside.split(prompt, questionStart: cut)
        var settings = CompressionSettings()
        settings.window = 8
        XCTAssertThrowsError(try Compressor(model: model, settings: settings)
            .run(prompt: context, question: question, policies: [PolicySpec(.snapkv)], budgets: [.entries(question.count)], maxTokens: 4)) { error in
            XCTAssertTrue("\(error)".contains("leaves no entry for the context"), "\(error)")
        }
        XCTAssertThrowsError(try QuestionPlacement.outside.split(prompt, questionStart: nil))
        XCTAssertEqual(try QuestionPlacement.inside.split(prompt, questionStart: nil).context, prompt)
    }
}
