import Foundation
import XCTest

@testable import Analysis
@testable import Compression
@testable import Probe

/// The pooling design key (`pool=K`) and `lookahead-full`'s own kernel: the spec syntax, the settings each
/// applies, and on a tiny synthetic model each design's selection recomputed here from the policy's unpooled
/// scores by a max pooling and a top-B written in this file; budgets exact per (layer, KV head).
final class PoolingDesignTests: TemporaryDirectoryTestCase {
    func testThePoolKeyParsesAndAppliesToTheRightKernel() throws {
        let spec = try PolicySpec(parsing: "lookahead-full[pool=7, aggregation=max]")
        XCTAssertEqual(spec, PolicySpec(.lookaheadFull, aggregation: .max, poolKernel: 7))
        XCTAssertEqual(spec.description, "lookahead-full[aggregation=max,pool=7]", "pool is the last key")
        let base = CompressionSettings()
        XCTAssertEqual(base.fullLookaheadPoolKernel, 1, "lookahead-full does not pool by default")
        XCTAssertEqual(base.poolKernel, 7, "the SnapKV family pools with 7")
        XCTAssertEqual(spec.settings(base).fullLookaheadPoolKernel, 7)
        XCTAssertEqual(try PolicySpec(parsing: "snapkv[pool=3]").settings(base).poolKernel, 3)
        XCTAssertEqual(PolicySpec(.snapkv).settings(base).poolKernel, 7, "no key, the setting's kernel")
        XCTAssertEqual(base.record["full_lookahead_pool_kernel"], "1", "files record lookahead-full's kernel")
        for (bad, fragment) in [("lookahead-full[pool=4]", "unknown pool '4'"), ("snapkv[pool=0]", "unknown pool '0'"),
                                ("tova[pool=x]", "unknown pool 'x'"), ("laq[pool=3,pool=5]", "at most once"),
                                ("random[pool=3]", "only policies that choose by scores")] {
            XCTAssertThrowsError(try PolicySpec.parseList(bad), bad) { XCTAssertTrue("\($0)".contains(fragment), "\(bad): \($0)") }
        }
        var even = CompressionSettings()
        even.fullLookaheadPoolKernel = 2
        XCTAssertThrowsError(try even.check()) { XCTAssertTrue("\($0)".contains("--full-lookahead-pool-kernel must be odd")) }
    }

    /// `lookahead-full` (kernel 1) and `lookahead-full[pool=5]` on one prompt of a tiny model: each keeps the
    /// recent entries and the best older ones of its scores, where the pooled scores are the unpooled ones
    /// max-pooled here (a window cut at the edges, the recent tail untouched); B entries per (layer, KV head).
    func testEachKernelKeepsTheTopOfItsOwnPooledScores() throws {
        let (model, _) = try tinyModel()
        let prompt = Array("Where matters more than what, says the paper.".utf8).map(Int.init)
        var settings = CompressionSettings()
        (settings.fullLookaheadSteps, settings.fullLookaheadMaxSteps) = (4, 4)
        let unpooled = PolicySpec(.lookaheadFull), pooled = PolicySpec(.lookaheadFull, poolKernel: 5)
        let compressor = try Compressor(model: model, settings: settings)
        let evidence = try compressor.evidence(prompt: prompt, policies: [unpooled, pooled], maxTokens: 4)
        let budget = 16, recent = FullLookaheadPolicy.defaultRecent, n = prompt.count
        let selections = try compressor.select(evidence, policies: [unpooled, pooled], budgets: [.entries(budget)])
        let raw = try XCTUnwrap(try unpooled.make(settings).scores(evidence))
        let c = model.config
        var differs = false
        for l in 0..<c.nLayers {
            for g in 0..<c.nKVHeads {
                let row = raw.row(layer: l, head: g), older = n - recent
                let pooledRow = (0..<n).map { i -> Double in
                    guard i < older else { return row[i] }
                    return (max(0, i - 2)...min(older - 1, i + 2)).map { row[$0] }.max()!
                }
                for (which, scores) in [(0, row), (1, pooledRow)] {
                    let best = (0..<older).sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
                    let expected = best.prefix(budget - recent).sorted() + Array(older..<n)
                    XCTAssertEqual(selections[which].kept[l][g], expected, "layer \(l) head \(g), policy \(which)")
                    XCTAssertEqual(selections[which].kept[l][g].count, budget)
                }
                differs = differs || selections[0].kept[l][g] != selections[1].kept[l][g]
            }
        }
        XCTAssertTrue(differs, "pooling changes some head's choice on this prompt")
    }
}
