import Analysis
import Foundation
import XCTest

@testable import Compression
@testable import Probe

/// `--head-budgets adaptive`: a layer's KV heads share its G·B entries. Budgets are exact, the selection is
/// recomputed here by another route (a score threshold over the layer), and on the real model a policy's
/// adaptive cache holds as many entries as its uniform one.
final class HeadBudgetsTests: XCTestCase {
    /// Distinct scores, one head concentrated on a few keys, one flat, one in between.
    private func scores(layers: Int = 2, heads: Int = 3, n: Int = 60, seed: UInt64 = 7) -> KeyScores {
        var rng = SeededGenerator(seed: seed)
        var values: [Double] = []
        for _ in 0..<layers {
            for g in 0..<heads {
                let spread = [0.02, 1.0, 0.3][g % 3]
                values += (0..<n).map { _ in Double.random(in: 0..<1, using: &rng) * spread }
            }
        }
        return KeyScores(nLayers: layers, nKVHeads: heads, promptLength: n, values: values)
    }

    func testBudgetsAreExactAndTheSelectionIsTheLayersBestScores() {
        let s = scores(), n = s.promptLength, recent = 5
        for (budget, floor) in [(12, 0.2), (20, 0.0), (30, 0.5), (59, 0.2), (6, 0.2), (5, 0.2)] {
            let kept = KeySelection.keep(s, budgets: KeySelection.uniform(budget, layers: s.nLayers), recent: recent,
                                         adaptiveFloor: floor)
            let free = budget - recent, guaranteed = Int((floor * Double(free)).rounded(.down))
            for l in 0..<s.nLayers {
                XCTAssertEqual(kept[l].map(\.count).reduce(0, +), s.nKVHeads * budget, "G·B entries in layer \(l), B = \(budget)")
                var pool: [(score: Double, head: Int, position: Int)] = []
                for g in 0..<s.nKVHeads {
                    let heads = kept[l][g], row = s.row(layer: l, head: g)
                    XCTAssertEqual(heads, heads.sorted(), "ascending positions")
                    XCTAssertEqual(Set(heads).count, heads.count)
                    XCTAssertEqual(Array(heads.suffix(recent)), Array((n - recent)..<n), "the recent entries kept")
                    XCTAssertGreaterThanOrEqual(heads.count, recent + guaranteed, "the floor")
                    // The head's guaranteed best are kept; the rest of its older entries enter the layer's pool.
                    let ranked = (0..<(n - recent)).sorted { row[$0] > row[$1] }
                    XCTAssertTrue(Set(ranked.prefix(guaranteed)).isSubset(of: Set(heads)))
                    pool += ranked.dropFirst(guaranteed).map { (row[$0], g, $0) }
                }
                // Recomputed as a threshold: the pool's entries kept are exactly those scoring above the
                // (G·(B − r − floor))-th best pool score or at it.
                let take = s.nKVHeads * (free - guaranteed)
                let threshold = take == 0 ? .infinity : pool.map(\.score).sorted(by: >)[take - 1]
                for entry in pool {
                    XCTAssertEqual(kept[l][entry.head].contains(entry.position), entry.score >= threshold,
                                   "layer \(l) head \(entry.head) position \(entry.position), B = \(budget)")
                }
            }
        }
        // The concentrated head gives entries to the flat one.
        let kept = KeySelection.keep(s, budgets: KeySelection.uniform(20, layers: s.nLayers), recent: recent, adaptiveFloor: 0.2)
        XCTAssertLessThan(kept[0][0].count, 20)
        XCTAssertGreaterThan(kept[0][1].count, 20)
    }

    func testAFloorOfOneIsUniformAndABudgetAtThePromptKeepsAll() {
        let s = scores()
        let budgets = KeySelection.uniform(17, layers: s.nLayers)
        XCTAssertEqual(KeySelection.keep(s, budgets: budgets, recent: 4, adaptiveFloor: 1),
                       KeySelection.keep(s, budgets: budgets, recent: 4))
        let all = KeySelection.keep(s, budgets: KeySelection.uniform(s.promptLength, layers: s.nLayers), recent: 4, adaptiveFloor: 0.2)
        XCTAssertTrue(all.allSatisfy { $0.allSatisfy { $0 == Array(0..<s.promptLength) } })
        var settings = CompressionSettings()
        settings.adaptiveFloor = 1.5
        XCTAssertThrowsError(try settings.check()) { XCTAssertTrue("\($0)".contains("--adaptive-floor")) }
    }

    /// On the real model: `lookahead-full[heads=adaptive]` keeps what `KeySelection` chooses from the policy's own
    /// scores recomputed here, G·B per layer, heads of unequal sizes, and its compressed cache holds exactly the bytes
    /// of the uniform one; both placements of the question decode from caches of B entries per head on average.
    func testTheAdaptivePolicyOnTheRealModelHoldsTheUniformBytes() throws {
        let model = try CompressionPolicyTests.model()
        let prompt = try CompressionPolicyTests.needlePrompt(model).tokens
        let c = model.config, budget = 40
        var settings = CompressionSettings()
        (settings.fullLookaheadSteps, settings.fullLookaheadMaxSteps) = (4, 4)
        let uniform = PolicySpec(.lookaheadFull), adaptive = PolicySpec(.lookaheadFull, headBudgets: .adaptive)
        let compressor = try Compressor(model: model, settings: settings)
        let evidence = try compressor.evidence(prompt: prompt, policies: [uniform, adaptive], maxTokens: 4)
        let selections = try compressor.select(evidence, policies: [uniform, adaptive], budgets: [.entries(budget)])
        let scores = try XCTUnwrap(try uniform.make(settings).scores(evidence))
        XCTAssertEqual(selections[1].kept, KeySelection.keep(scores, budgets: KeySelection.uniform(budget, layers: c.nLayers),
                                                             recent: FullLookaheadPolicy.defaultRecent, adaptiveFloor: 0.2))
        XCTAssertTrue(selections[1].kept.allSatisfy { $0.map(\.count).reduce(0, +) == c.nKVHeads * budget })
        XCTAssertTrue(selections[1].kept.contains { Set($0.map(\.count)).count > 1 }, "some layer shares unequally")
        let bytes = selections.map { evidence.cache.keeping($0.kept).bytesHeld }
        XCTAssertEqual(bytes[0], bytes[1])
        XCTAssertEqual(bytes[0], c.nLayers * c.nKVHeads * budget * c.dHead * 2 * evidence.cache.kvType.bytesPerValue)
    }
}
