import XCTest

@testable import Analysis
@testable import Probe

/// The ablation's metrics, statistics, eviction helpers and importance on hand-made vectors.
final class AblationMetricsTests: XCTestCase {
    let truth: [Float] = [0.5, 0.3, 0.1, 0.1]
    let pseudo: [Float] = [0.1, 0.3, 0.5, 0.1]

    func testRankingBreaksTiesByLowerIndex() {
        XCTAssertEqual(SelectionMetrics.ranking([0.1, 0.3, 0.3, 0.0, 0.3]), [1, 2, 4, 0, 3])
        XCTAssertEqual(SelectionMetrics.topK([0.1, 0.3, 0.3, 0.0, 0.3], 2), [1, 2])
        XCTAssertEqual(SelectionMetrics.topK([1, 2], 5), [1, 0], "k is clipped to the length")
        XCTAssertEqual(SelectionMetrics.ranking([0, -0.0, 0]), [0, 1, 2], "signed zeros tie")
    }

    func testTopKRecall() {
        XCTAssertEqual(SelectionMetrics.topKRecall(truth: truth, pseudo: pseudo, k: 1), 0)
        XCTAssertEqual(SelectionMetrics.topKRecall(truth: truth, pseudo: pseudo, k: 2), 0.5)   // {0,1} vs {2,1}
        XCTAssertEqual(SelectionMetrics.topKRecall(truth: truth, pseudo: pseudo, k: 3), 1)     // {0,1,2} vs {2,1,0}
        XCTAssertEqual(SelectionMetrics.topKRecall(truth: truth, pseudo: pseudo, k: 10), 1, "k clipped to n")
        XCTAssertEqual(SelectionMetrics.topKRecall(truth: truth, pseudo: truth, k: 2), 1)
    }

    func testMassRecall() {
        XCTAssertEqual(SelectionMetrics.massRecall(truth: truth, pseudo: pseudo, k: 1), 0.1 / 0.5, accuracy: 1e-7)
        XCTAssertEqual(SelectionMetrics.massRecall(truth: truth, pseudo: pseudo, k: 2), 0.4 / 0.8, accuracy: 1e-7)
        XCTAssertEqual(SelectionMetrics.massRecall(truth: truth, pseudo: pseudo, k: 3), 1, accuracy: 1e-7)
        XCTAssertEqual(SelectionMetrics.massRecall(truth: truth, pseudo: truth, k: 2), 1)
        XCTAssertEqual(SelectionMetrics.massRecall(truth: [0, 0], pseudo: [1, 0], k: 1), 0, "no true mass: 0, not NaN")
    }

    func testOverlap() {
        // min(.5,.1) + min(.3,.3) + min(.1,.5) + min(.1,.1)
        XCTAssertEqual(SelectionMetrics.overlap(truth: truth, pseudo: pseudo), 0.6, accuracy: 1e-7)
        XCTAssertEqual(SelectionMetrics.overlap(truth: truth, pseudo: truth.map { $0 * 7 }), 1, accuracy: 1e-7, "scale-free")
        XCTAssertEqual(SelectionMetrics.overlap(truth: [1, 0], pseudo: [0, 1]), 0)
    }

    func testCosine() {
        XCTAssertEqual(SelectionMetrics.cosine([1, 0], [1, 1]), 1 / 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(SelectionMetrics.cosine([1, 2, 3], [2, 4, 6]), 1, accuracy: 1e-12)
        XCTAssertEqual(SelectionMetrics.cosine([1, 0], [-1, 0]), -1, accuracy: 1e-12)
        XCTAssertEqual(SelectionMetrics.cosine([0, 0], [1, 0]), 0)
    }

    func testHeadlineBudgetIsTheListEntryNearestThreePercent() {
        let ks = [16, 32, 64, 128, 256]
        XCTAssertEqual(ks[SelectionMetrics.headlineIndex(kValues: ks, promptLength: 2048)], 64)   // 61.4
        XCTAssertEqual(ks[SelectionMetrics.headlineIndex(kValues: ks, promptLength: 1000)], 32)   // 30
        XCTAssertEqual(ks[SelectionMetrics.headlineIndex(kValues: ks, promptLength: 100)], 16)    // 3
        XCTAssertEqual(SelectionMetrics.headlineIndex(kValues: [2, 4], promptLength: 100), 0, "ties go to the smaller budget")
        XCTAssertEqual(SelectionMetrics.headlineIndex(kValues: [256, 8], promptLength: 10), 1, "clipped to n first: 10 vs 8")
    }

    func testStatistics() {
        XCTAssertEqual(Statistics.mean([1, 2, 3]), 2)
        XCTAssertEqual(Statistics.standardDeviation([1, 2, 3]), 1, accuracy: 1e-12)
        XCTAssertEqual(Statistics.halfWidth95([1, 2, 3]), 4.302653 / 3.0.squareRoot(), accuracy: 1e-9)
        XCTAssertTrue(Statistics.halfWidth95([5]).isNaN)
        // Beyond the table: close to the exact quantiles (df 40: 2.021075, df 120: 1.979930).
        XCTAssertEqual(Statistics.tQuantile975(degreesOfFreedom: 40), 2.021075, accuracy: 2e-4)
        XCTAssertEqual(Statistics.tQuantile975(degreesOfFreedom: 120), 1.979930, accuracy: 1e-4)
        XCTAssertGreaterThan(Statistics.tQuantile975(degreesOfFreedom: 30), Statistics.tQuantile975(degreesOfFreedom: 31))
    }

    func testMaxPoolAndKeep() {
        XCTAssertEqual(Eviction.maxPool([1, 5, 2, 0, 0, 3], kernel: 3), [5, 5, 5, 2, 3, 3])
        XCTAssertEqual(Eviction.maxPool([1, 5, 2], kernel: 1), [1, 5, 2])
        XCTAssertEqual(Eviction.maxPool([1, 0, 0, 0, 0, 0, 0, 0, 2], kernel: 7), [1, 1, 1, 1, 0, 2, 2, 2, 2])
        // The last 2 always, then the best 2 older ones; ascending.
        XCTAssertEqual(Eviction.keep(scores: [0.1, 0.9, 0.2, 0.8, 0.0, 0.0], budget: 4, recent: 2), [1, 3, 4, 5])
        XCTAssertEqual(Eviction.keep(scores: [0.5, 0.5, 0.5, 0.0], budget: 3, recent: 1), [0, 1, 3], "ties: lower index")
        XCTAssertEqual(Eviction.keep(scores: [1, 2, 3], budget: 5, recent: 1), [0, 1, 2], "budget ≥ n keeps all")
        XCTAssertEqual(Eviction.keep(scores: [1, 2, 3, 4], budget: 2, recent: 3), [2, 3], "recent is capped by the budget")
        // SnapKV: the window (last 2) is kept; older keys by pooled score (kernel 3): pooled [0.9, 0.9, 0.9, 0.1].
        XCTAssertEqual(Eviction.snapKV(windowImportance: [0.0, 0.9, 0.0, 0.1, 0.5, 0.5], budget: 4, window: 2, kernel: 3),
                       [0, 1, 4, 5])
    }

    /// One layer, one KV head with two query heads, d = 2: the scorer's softmax checked by hand.
    func testImportanceByHand() {
        let n = 3, d = 2
        let promptKeys: [Float] = [1, 0, 0, 1, 1, 1]                 // [L=1, G=1, n=3, d=2]
        let scorer = ImportanceScorer(promptKeys: promptKeys, nLayers: 1, nHeads: 2, nKVHeads: 1, dHead: d, promptLength: n)
        // One row after the prompt (sees 3 prompt keys and its own key [0, 0]); heads q = [√2, 0] and [0, 0].
        let q: [Float] = [Float(2).squareRoot(), 0, 0, 0]                 // [L, H=2, R=1, d]
        let set = QuerySet(nLayers: 1, nHeads: 2, nKVHeads: 1, dHead: d, fileQueries: q, fileKeys: [0, 0], positions: [3],
                           tokens: [7], visiblePrompt: [3], visibleOwn: [1])
        let values = scorer.importance(of: set).values
        // Head 0: scores q·k/√2 = [1, 0, 1, 0] → softmax e/(2e+2), 1/(2e+2), …; head 1: uniform 1/4.
        let e = M_E, z = 2 * e + 2
        let expected = [(e / z + 0.25) / 2, (1 / z + 0.25) / 2, (e / z + 0.25) / 2]
        for j in 0..<n { XCTAssertEqual(Double(values[j]), expected[j], accuracy: 1e-7) }
        // A prompt query at position 1 sees keys 0 and 1 only.
        let inside = QuerySet(nLayers: 1, nHeads: 2, nKVHeads: 1, dHead: d, fileQueries: q, fileKeys: [0, 1], positions: [1],
                              tokens: [7], visiblePrompt: [2], visibleOwn: [0])
        let v2 = scorer.importance(of: inside).values
        let z2 = e + 1
        XCTAssertEqual(Double(v2[0]), (e / z2 + 0.5) / 2, accuracy: 1e-7)
        XCTAssertEqual(Double(v2[1]), (1 / z2 + 0.5) / 2, accuracy: 1e-7)
        XCTAssertEqual(v2[2], 0)
    }

    /// The per-(layer, KV head, k) arrays and their means on a synthetic two-layer case.
    func testVariantMetricsArrays() {
        let n = 4, L = 2, G = 1, H = 1, d = 2
        let T: [Float] = truth + [0.25, 0.25, 0.25, 0.25]
        let P: [Float] = pseudo + [0.4, 0.3, 0.2, 0.1]
        let truthQueries = QuerySet(nLayers: L, nHeads: H, nKVHeads: G, dHead: d, fileQueries: [1, 0, 0, 1, 1, 0, 0, 1],
                                    fileKeys: Array(repeating: 0, count: 8), positions: [4, 5], tokens: [1, 2],
                                    visiblePrompt: [4, 4], visibleOwn: [1, 2])
        let pseudoQueries = QuerySet(nLayers: L, nHeads: H, nKVHeads: G, dHead: d, fileQueries: [1, 1, 0, 1, -1, 0, 0, 1],
                                     fileKeys: Array(repeating: 0, count: 8), positions: [4, 5], tokens: [1, 2],
                                     visiblePrompt: [4, 4], visibleOwn: [1, 2])
        let m = VariantMetrics(truth: T, truthRankings: VariantMetrics.rankings(T, rows: L * G, promptLength: n), pseudo: P,
                               promptLength: n, kValues: [1, 2], queries: pseudoQueries, truthQueries: truthQueries, cosineRows: 2)
        XCTAssertEqual(m.topKRecall[0], 0)      // layer 0, k 1
        XCTAssertEqual(m.topKRecall[1], 0.5)    // layer 0, k 2
        XCTAssertEqual(m.topKRecall[2], 1)      // layer 1, k 1: a uniform truth ranks position 0 first, as P does
        XCTAssertEqual(m.massRecall[3], 1, accuracy: 1e-7)
        XCTAssertEqual(m.overlap[0], 0.6, accuracy: 1e-7)
        XCTAssertEqual(m.overlap[1], 0.25 + 0.25 + 0.2 + 0.1, accuracy: 1e-7)
        XCTAssertEqual(m.queryCosine[0], (1 / 2.0.squareRoot() + 1) / 2, accuracy: 1e-12)
        XCTAssertEqual(m.queryCosine[1], (-1 + 1) / 2, accuracy: 1e-12)
        XCTAssertEqual(m.meanTopKRecall(1), 0.75)
        XCTAssertEqual(m.byLayer(m.topKRecall, k: 0), [0, 1])
    }
}
