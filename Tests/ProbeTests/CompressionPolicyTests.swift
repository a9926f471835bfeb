import Analysis
import Foundation
import XCTest

@testable import Compression
@testable import Probe

/// The pieces every policy is built from, on hand-made numbers, and each policy's definition on the real model:
/// exactly B entries per (layer, KV head), what it must keep, budgets at or above n, the oracle against a capture.
final class CompressionPolicyTests: XCTestCase {
    // MARK: Shared pieces, by hand

    func testPoolingAsDefined() {
        let s = [1.0, 5, 2, 0, 0, 3, 1]
        XCTAssertEqual(Eviction.maxPool(s, kernel: 3), [5, 5, 5, 2, 3, 3, 3])
        // Zero padding counted: the first output is (0 + 1 + 5) / 3.
        let third = 1.0 / 3
        let expectedAverage: [Double] = [6 * third, 8 * third, 7 * third, 2 * third, 3 * third, 4 * third, 4 * third]
        for (a, b) in zip(Eviction.averagePool(s, kernel: 3), expectedAverage) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        XCTAssertEqual(Eviction.averagePool(s, kernel: 1), s)
        // Pooling leaves the protected tail as it is and does not pool it into the older entries.
        let scores = KeyScores(nLayers: 1, nKVHeads: 1, promptLength: 7, values: s)
        XCTAssertEqual(scores.pooled(kernel: 3, pooling: .max, protectedTail: 2).values, [5, 5, 5, 2, 0, 3, 1])
        let expectedTail: [Double] = [6 * third, 8 * third, 7 * third, 2 * third, 0, 3, 1]
        for (a, b) in zip(scores.pooled(kernel: 3, pooling: .avg, protectedTail: 2).values, expectedTail) { XCTAssertEqual(a, b, accuracy: 1e-12) }
    }

    func testGroupAggregation() {
        // 1 layer, 4 query heads over 2 KV heads, 3 positions.
        let perHead: [Double] = [1, 2, 3, /**/ 3, 2, 1, /**/ 0, 0, 9, /**/ 4, 0, 0]
        let mean = KeyScores(perQueryHead: perHead, nLayers: 1, nHeads: 4, nKVHeads: 2, promptLength: 3, aggregation: .mean)
        XCTAssertEqual(mean.values, [2, 2, 2, 2, 0, 4.5])
        let max = KeyScores(perQueryHead: perHead, nLayers: 1, nHeads: 4, nKVHeads: 2, promptLength: 3, aggregation: .max)
        XCTAssertEqual(max.values, [3, 2, 3, 4, 0, 9])
        let layer = KeyScores(perQueryHead: perHead, nLayers: 1, nHeads: 4, nKVHeads: 2, promptLength: 3, aggregation: .layer)
        XCTAssertEqual(layer.values, [2, 1, 3.25, 2, 1, 3.25], "every KV head: the mean of the layer's 4 query heads")
    }

    func testKeepTopWithRecentWindowAndTies() {
        let scores = KeyScores(nLayers: 1, nKVHeads: 1, promptLength: 8, values: [0.5, 0.9, 0.1, 0.9, 0.3, 0.8, 0.0, 0.0])
        XCTAssertEqual(KeySelection.keep(scores, budgets: [4], recent: 2)[0][0], [1, 3, 6, 7], "ties keep the lower position")
        XCTAssertEqual(KeySelection.keep(scores, budgets: [3], recent: 0)[0][0], [1, 3, 5])
        XCTAssertEqual(KeySelection.keep(scores, budgets: [2], recent: 5)[0][0], [6, 7], "the recent window is clipped to the budget")
    }

    func testPyramidBudgetsFallWithDepthKeepTheWindowAndTheMean() {
        for (budget, window, layers) in [(64, 32, 30), (128, 32, 30), (100, 8, 7), (33, 32, 30)] {
            let b = KeySelection.pyramid(budget, window: window, beta: 20, layers: layers, promptLength: 10_000)
            XCTAssertEqual(b.count, layers)
            XCTAssertEqual(b.reduce(0, +), budget * layers, "same mean as the uniform budget")
            XCTAssertTrue(b.allSatisfy { $0 >= window }, "every layer keeps the window: \(b)")
            XCTAssertTrue(zip(b, b.dropFirst()).allSatisfy { $0 >= $1 - 1 }, "non-increasing with depth up to the remainder: \(b)")
            XCTAssertGreaterThan(b.first!, b.last!)
        }
        XCTAssertEqual(KeySelection.pyramid(16, window: 32, beta: 20, layers: 4, promptLength: 100), [16, 16, 16, 16])
    }

    func testBudgetAndPolicyParsing() throws {
        XCTAssertEqual(try Budget(parsing: "64"), .entries(64))
        XCTAssertEqual(try Budget(parsing: "3%").entries(promptLength: 2000), 60)
        XCTAssertEqual(Budget.fraction(0.03).description, "3%")
        for bad in ["0", "-5", "101%", "0%", "abc", ""] { XCTAssertThrowsError(try Budget(parsing: bad), bad) }
        XCTAssertEqual(try PolicySpec.parseList("snapkv,dapq"), [PolicySpec(.snapkv), PolicySpec(.dapq)])
        XCTAssertEqual(try PolicySpec.parseList("all"), PolicyName.allCases.map { PolicySpec($0) })
        XCTAssertThrowsError(try PolicySpec.parseList("snapkv,fancy")) { error in
            XCTAssertTrue("\(error)".contains("unknown policy 'fancy'"), "\(error)")
        }
        XCTAssertThrowsError(try PolicySpec.parseList("tova,tova"))
    }

    func testTokenAgreement() {
        XCTAssertEqual(CompressionResult.tokenAgreement([1, 2, 3, 4], [1, 2, 3, 4]), 1)
        XCTAssertEqual(CompressionResult.tokenAgreement([1, 2, 3, 4], [1, 9, 3]), 0.5)
        XCTAssertEqual(CompressionResult.tokenAgreement([], []), 1)
        XCTAssertEqual(CompressionResult.tokenAgreement([5], []), 0)
    }

    // MARK: The policies on the real model

    /// Every policy, each once with the default settings.
    static let allPolicies = PolicyName.allCases.map { PolicySpec($0) }

    nonisolated(unsafe) private static var loaded: LanguageModel?
    static func model() throws -> LanguageModel {
        if let loaded { return loaded }
        ComputeThreads.set(2)
        let model = try LanguageModel(path: try TestPaths.smolLM2())
        loaded = model
        return model
    }

    /// A short needle prompt the full cache answers ("4721"), 300–400 tokens.
    static func needlePrompt(_ model: LanguageModel) throws -> (tokens: [Int], needle: Range<Int>) {
        let essays = try Haystack().text
        let filler = String(essays.prefix(1500))
        let cut = filler.range(of: ". ", range: filler.index(filler.startIndex, offsetBy: 700)..<filler.endIndex)!.upperBound
        let before = String(filler[..<cut]), needle = "The secret code of the vault is 4721. ", after = String(filler[cut...])
        let builder = PromptBuilder(model: model)
        let tokens = try builder.tokens(text: before + needle + after + "\n\nWhat is the secret code of the vault?", chat: true)
        // The needle's tokens: where the prompts with and without it start to differ, for the needle's length.
        let without = try builder.tokens(text: before + after + "\n\nWhat is the secret code of the vault?", chat: true)
        let start = zip(tokens, without).prefix { $0 == $1 }.count
        let length = tokens.count - without.count
        return (tokens, (start - 1)..<(start + length + 1))
    }

    func testEveryPolicyKeepsExactlyBEntriesAndWhatItsDefinitionSays() throws {
        let model = try Self.model()
        let prompt = try Self.needlePrompt(model).tokens
        let n = prompt.count, c = model.config
        var settings = CompressionSettings()
        settings.window = 8
        settings.pseudoCount = 8
        let compressor = try Compressor(model: model, settings: settings)
        let evidence = try compressor.evidence(prompt: prompt, policies: Self.allPolicies, maxTokens: 4)
        let budget = 24
        let selections = try compressor.select(evidence, policies: Self.allPolicies, budgets: [.entries(budget)])
        for s in selections {
            XCTAssertEqual(s.kept.count, c.nLayers)
            for (l, layer) in s.kept.enumerated() {
                XCTAssertEqual(layer.count, c.nKVHeads)
                for kept in layer {
                    XCTAssertEqual(kept, kept.sorted(), "\(s.policy) ascending")
                    XCTAssertEqual(Set(kept).count, kept.count, "\(s.policy) no duplicates")
                    XCTAssertTrue(kept.allSatisfy { (0..<n).contains($0) })
                    switch s.policy.name {
                    case .full: XCTAssertEqual(kept, Array(0..<n))
                    case .pyramidkv:
                        let budgets = KeySelection.pyramid(budget, window: 8, beta: 20, layers: c.nLayers, promptLength: n)
                        XCTAssertEqual(kept.count, budgets[l])
                    default: XCTAssertEqual(kept.count, budget, "\(s.policy) keeps exactly B")
                    }
                    switch s.policy.name {
                    case .streaming: XCTAssertEqual(kept, Array(0..<4) + Array((n - 20)..<n), "sinks and the tail")
                    case .snapkv, .pyramidkv, .laq, .dapq: XCTAssertEqual(Array(kept.suffix(8)), Array((n - 8)..<n), "\(s.policy) keeps its window")
                    case .expected: XCTAssertEqual(Array(kept.prefix(4)), [0, 1, 2, 3], "expected keeps its sinks")
                    default: break
                    }
                }
            }
        }
        // Different policies choose differently (none silently falls back to another).
        let chosen = Dictionary(uniqueKeysWithValues: selections.map { ($0.policy.name, $0.kept) })
        for a in [PolicyName.random, .h2o, .snapkv, .tova, .expected, .laq, .dapq, .oracle, .lookaheadFull] {
            for b in [PolicyName.random, .h2o, .snapkv, .tova, .expected, .laq, .dapq, .oracle, .lookaheadFull] where a.rawValue < b.rawValue {
                XCTAssertNotEqual(chosen[a]!, chosen[b]!, "\(a) and \(b) keep the same entries")
            }
        }
        // SnapKV's scores are the pooled importance of the last w prompt queries, recomputed here from the
        // scorer and the definition (mean over window rows and group heads, max-pooled, window excluded).
        let importance = evidence.scorer.importance(of: evidence.lastPromptQueries(8))
        let raw = importance.sums.map { $0 / Double(importance.terms) }
        for (l, g) in [(0, 0), (14, 2), (29, 1)] {
            let row = Array(raw[((l * c.nKVHeads + g) * n)..<((l * c.nKVHeads + g) * n + n - 8)])
            var pooled = Eviction.maxPool(row, kernel: 7)
            pooled += Array(repeating: 0, count: 8)
            XCTAssertEqual(chosen[.snapkv]![l][g], Eviction.keep(scores: pooled, budget: budget, recent: 8), "layer \(l) head \(g)")
        }
    }

    func testBudgetsAtOrAboveThePromptEqualFull() throws {
        let model = try Self.model()
        let prompt = try PromptBuilder(model: model).tokens(text: "Name three colours of the rainbow.", chat: true)
        var settings = CompressionSettings()
        settings.window = 4
        settings.pseudoCount = 4
        settings.pseudoPrefixCount = 2
        settings.lookaheadPromptQueries = 4
        let result = try Compressor(model: model, settings: settings)
            .run(prompt: prompt, policies: Self.allPolicies, budgets: [.entries(prompt.count), .entries(prompt.count + 50), .fraction(1)],
                 maxTokens: 8)
        XCTAssertEqual(result.cells.count, 1 + (PolicyName.allCases.count - 1) * 3)
        for cell in result.cells {
            XCTAssertEqual(cell.tokens, result.fullTokens, "\(cell.policy) at \(cell.budget)")
            XCTAssertEqual(cell.entries, prompt.count)
            XCTAssertEqual(cell.cacheBytes, prompt.count * model.config.nLayers * model.config.nKVHeads * model.config.dHead * 2 * model.cacheType.bytesPerValue)
        }
    }

    func testOracleKeepsTheTopBByTheCapturesTrueImportance() throws {
        let model = try Self.model()
        let prompt = try Self.needlePrompt(model).tokens
        let n = prompt.count, c = model.config
        let capture = try Capture(model: model).run(prompt: prompt, options: CaptureOptions(steps: 12, window: 8, recordValues: false,
                                                                                            recordAttention: false))
        let compressor = try Compressor(model: model)
        let evidence = try compressor.evidence(prompt: prompt, policies: [PolicySpec(.oracle)], maxTokens: 12)
        XCTAssertEqual(evidence.truthTokens, capture.generatedTokens)
        let budget = 40
        let kept = try compressor.select(evidence, policies: [PolicySpec(.oracle)], budgets: [.entries(budget)])[0].kept
        for l in 0..<c.nLayers {
            for g in 0..<c.nKVHeads {
                let truth = Array(capture.importance[((l * c.nKVHeads + g) * n)..<((l * c.nKVHeads + g + 1) * n)])
                let top = (0..<n).sorted { truth[$0] > truth[$1] || (truth[$0] == truth[$1] && $0 < $1) }.prefix(budget).sorted()
                XCTAssertEqual(kept[l][g], top, "layer \(l) KV head \(g)")
            }
        }
    }

    func testPoliciesThatNeedAWindowRefuseShorterPrompts() throws {
        let model = try Self.model()
        let prompt = Array(model.tokenizer.encode("A very short prompt."))
        let compressor = try Compressor(model: model)
        for policy in [PolicyName.snapkv, .pyramidkv, .laq, .dapq] {
            XCTAssertThrowsError(try compressor.check(promptLength: prompt.count, policies: [PolicySpec(policy)], maxTokens: 4)) { error in
                XCTAssertTrue("\(error)".contains("policy \(policy.rawValue) needs a window"), "\(error)")
            }
        }
        XCTAssertNoThrow(try compressor.check(promptLength: prompt.count, policies: [PolicyName.streaming, .tova, .h2o, .random].map { PolicySpec($0) },
                                              maxTokens: 4))
    }
}
