import Analysis
import Foundation
import XCTest

@testable import Compression
@testable import Probe

/// `lookahead-full`: when its lookahead goes on, and its selection recomputed from the definition on the real model.
final class FullLookaheadPolicyTests: XCTestCase {
    func testTheLookaheadGoesOnWhileTheAnswerCopiesThePrompt() {
        let prompt = CopySource.Prompt([5, 6, 7, 8, 9, 10, 11, 12, 1, 2])
        func continues(_ tokens: [Int]) -> Bool {
            LookaheadQueries.continues(tokens, prompt: prompt, minimumSteps: 3, maximumSteps: 6, stops: [0])
        }
        XCTAssertTrue(continues([40]), "below the minimum it always goes on")
        XCTAssertTrue(continues([40, 41]))
        XCTAssertFalse(continues([40, 41, 42]), "at the minimum, not copying: it stops")
        XCTAssertTrue(continues([40, 7, 8]), "the last token continues a copied run (7, 8)")
        XCTAssertTrue(continues([40, 7, 8, 9, 10]))
        XCTAssertFalse(continues([7, 8, 9, 10, 11, 12]), "never past the maximum")
        XCTAssertFalse(continues([40, 7, 8, 41]), "the copied run ended")
        XCTAssertFalse(continues([40, 7, 8, 0]), "an end-of-generation token stops it")
        XCTAssertFalse(continues([0]), "even below the minimum")
    }

    /// On the full cache the lookahead is the full-cache answer itself: its queries are the true decoding queries'
    /// first rows, and the selection is the importance of those rows and the last prompt queries (unpooled by
    /// default; max-pooled with `pool=7`), top B with the recent entries kept — exactly B per (layer, KV head).
    func testSelectionIsTheFullCacheAnswersFirstQueries() throws {
        let model = try CompressionPolicyTests.model()
        let prompt = try CompressionPolicyTests.needlePrompt(model).tokens
        let n = prompt.count, c = model.config
        var settings = CompressionSettings()
        settings.fullLookaheadSteps = 5
        settings.fullLookaheadMaxSteps = 5
        settings.lookaheadPromptQueries = 8
        let spec = PolicySpec(.lookaheadFull)
        let compressor = try Compressor(model: model, settings: settings)
        let evidence = try compressor.evidence(prompt: prompt, policies: [spec, PolicySpec(.oracle)], maxTokens: 8)
        let truth = try XCTUnwrap(evidence.truth)
        XCTAssertGreaterThanOrEqual(truth.rows, 5, "the full-cache answer is longer than the lookahead")
        let budget = 40
        let pooledSpec = PolicySpec(.lookaheadFull, poolKernel: 7)
        let selections = try compressor.select(evidence, policies: [spec, pooledSpec], budgets: [.entries(budget)])
        let kept = selections[0].kept
        let queries = truth.rows(0..<5).appending(evidence.lastPromptQueries(8))
        let scores = evidence.scores(of: queries, aggregation: .mean)
        let budgets = KeySelection.uniform(budget, layers: c.nLayers)
        XCTAssertEqual(kept, KeySelection.keep(scores, budgets: budgets, recent: FullLookaheadPolicy.defaultRecent))
        let pooled = scores.pooled(kernel: 7, pooling: .max, protectedTail: FullLookaheadPolicy.defaultRecent)
        XCTAssertEqual(selections[1].kept, KeySelection.keep(pooled, budgets: budgets, recent: FullLookaheadPolicy.defaultRecent))
        XCTAssertNotEqual(selections[1].kept, kept, "pooling changes the choice")
        for layer in kept {
            for heads in layer {
                XCTAssertEqual(heads.count, budget, "exactly B entries")
                XCTAssertEqual(Array(heads.suffix(FullLookaheadPolicy.defaultRecent)), Array((n - FullLookaheadPolicy.defaultRecent)..<n))
            }
        }
    }

    /// With a probe (a generic question for query-agnostic use), the probe's tokens are fed after the prompt and the
    /// lookahead answers them: the query rows are the probe's then the answer's, at n, n+1, …, and the prompt cache
    /// is left exactly as it was; the probe is the blank line, the text and the template's end of turn.
    func testAProbeIsFedAfterThePromptAndDroppedBeforeEviction() throws {
        let model = try CompressionPolicyTests.model()
        let prompt = try CompressionPolicyTests.needlePrompt(model).tokens
        let n = prompt.count
        let probe = try FullLookaheadPolicy.probeTokens("Which numbers does the text mention?", model: model)
        XCTAssertEqual(model.tokenizer.decode(probe), "\n\nWhich numbers does the text mention?<|im_end|>\n<|im_start|>assistant\n")
        var settings = CompressionSettings()
        (settings.fullLookaheadSteps, settings.fullLookaheadMaxSteps, settings.lookaheadProbe) = (4, 4, "Which numbers does the text mention?")
        let compressor = try Compressor(model: model, settings: settings)
        let evidence = try compressor.evidence(prompt: prompt, policies: [PolicySpec(.lookaheadFull)], maxTokens: 4)
        let lookahead = LookaheadQueries.onFullCache(model: model, cache: evidence.cache, prompt: prompt, firstToken: evidence.firstToken,
                                                     minimumSteps: 4, maximumSteps: 4, probe: probe)
        XCTAssertEqual(lookahead.queries.rows, probe.count + 4)
        XCTAssertEqual(lookahead.queries.positions, Array(n..<(n + probe.count + 4)))
        XCTAssertEqual(Array(lookahead.queries.tokens.prefix(probe.count)), probe)
        XCTAssertTrue(evidence.cache.lengths.allSatisfy { $0 == n }, "the probe and its answer are dropped")
        // The policy scores with exactly those rows (and the last prompt queries), and keeps B entries.
        let kept = try compressor.select(evidence, policies: [PolicySpec(.lookaheadFull)], budgets: [.entries(40)])[0].kept
        let queries = lookahead.queries.appending(evidence.lastPromptQueries(settings.lookaheadPromptQueries))
        let scores = evidence.scores(of: queries, aggregation: .mean)
            .pooled(kernel: settings.fullLookaheadPoolKernel, pooling: .max, protectedTail: FullLookaheadPolicy.defaultRecent)
        XCTAssertEqual(kept, KeySelection.keep(scores, budgets: KeySelection.uniform(40, layers: model.config.nLayers),
                                               recent: FullLookaheadPolicy.defaultRecent))
        settings.lookaheadProbe = " "
        XCTAssertThrowsError(try settings.check())
    }
}
