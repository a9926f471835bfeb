import Analysis
import Foundation
import XCTest

@testable import Compression
@testable import Probe

/// `laq[first=dapq]`: LAQ's lookahead decodes on the cache DapQ keeps instead of SnapKV's; its selection
/// recomputed from the two stages' definitions on the real model.
final class LookaheadFirstStageTests: XCTestCase {
    func testTheLookaheadDecodesOnTheCacheDapQKeeps() throws {
        let model = try CompressionPolicyTests.model()
        let prompt = try CompressionPolicyTests.needlePrompt(model).tokens
        let n = prompt.count, budget = 48
        var settings = CompressionSettings()
        (settings.window, settings.pseudoCount, settings.lookaheadSteps) = (8, 8, 4)
        let dapqFirst = PolicySpec(.laq, firstStage: .dapq), snapFirst = PolicySpec(.laq)
        let compressor = try Compressor(model: model, settings: settings)
        let evidence = try compressor.evidence(prompt: prompt, policies: [dapqFirst, snapFirst], maxTokens: 4)
        let selections = try compressor.select(evidence, policies: [dapqFirst, snapFirst], budgets: [.entries(budget)])

        // By hand: DapQ's selection, the lookahead on it, its queries with the last 8 prompt queries, pooled, top B.
        let dapqSettings = dapqFirst.settings(settings)
        XCTAssertEqual(dapqSettings.lookaheadFirstStage, .dapq)
        let first = DapQPolicy(settings: dapqSettings)
        let firstKept = try first.keep(try first.scores(evidence), budget: budget, evidence: evidence)
        let lookahead = LookaheadQueries(budget: budget, window: 8, kernel: 7, steps: 4)
            .run(model: model, cache: evidence.cache, promptLength: n, firstToken: evidence.firstToken, kept: firstKept)
        XCTAssertEqual(lookahead.kept, firstKept, "the lookahead decodes on DapQ's cache")
        let queries = lookahead.queries.appending(evidence.lastPromptQueries(8))
        let scores = evidence.scores(of: queries, aggregation: .mean).pooled(kernel: 7, pooling: .max, protectedTail: 8)
        let expected = KeySelection.keep(scores, budgets: KeySelection.uniform(budget, layers: model.config.nLayers), recent: 8)
        XCTAssertEqual(selections[0].kept, expected)
        XCTAssertTrue(selections[0].kept.allSatisfy { $0.allSatisfy { $0.count == budget } }, "exactly B per (layer, KV head)")
        XCTAssertEqual(dapqFirst.description, "laq[first=dapq]")
        XCTAssertThrowsError(try PolicySpec(parsing: "snapkv[first=dapq]")) { XCTAssertTrue("\($0)".contains("expected aggregation=")) }
    }
}
