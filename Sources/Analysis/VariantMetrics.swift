/// The metrics of one query set against the truth (docs/metrics.md), per (layer, KV head) and budget `k`.
public struct VariantMetrics: Sendable {
    public let nLayers: Int, nHeads: Int, nKVHeads: Int
    /// The budgets as requested (`k` dimension); each is clipped to the prompt length when used.
    public let kValues: [Int]
    /// `[L, G, K]`: |topk(T) ∩ topk(P)| / k.
    public let topKRecall: [Double]
    /// `[L, G, K]`: Σ_{topk(P)} T / Σ_{topk(T)} T.
    public let massRecall: [Double]
    /// `[L, G]`: Σ min(T̂, P̂).
    public let overlap: [Double]
    /// `[L, H]`: mean over the first `cosineRows` rows of cos(pseudo query r, true decoding query r).
    public let queryCosine: [Double]
    /// Rows compared by `queryCosine`: `min(rows at future offsets, S)`.
    public let cosineRows: Int
    /// `[L, G, K]`: |topk(P) ∩ span| / |span| (`SpanMetrics`); nil when the capture has no answer span.
    public let spanRecall: [Double]?

    /// Compares `pseudo` with `truth` (both `[L, G, n]`, `truthRankings[l * G + g]` the ranking of truth's row)
    /// and the first `cosineRows` rows of `queries` with those of `truthQueries`; with `answerSpan` (`[n]`) also
    /// the span recall.
    public init(truth: [Float], truthRankings: [[Int]], pseudo: [Float], promptLength n: Int, kValues: [Int],
                queries: QuerySet, truthQueries: QuerySet, cosineRows: Int, answerSpan: [Bool]? = nil) {
        let L = queries.nLayers, G = queries.nKVHeads, H = queries.nHeads, K = kValues.count
        precondition(truth.count == L * G * n && pseudo.count == L * G * n && truthRankings.count == L * G)
        precondition(cosineRows <= queries.rows && cosineRows <= truthQueries.rows)
        nLayers = L
        nHeads = H
        nKVHeads = G
        self.kValues = kValues
        self.cosineRows = cosineRows
        var topK = [Double](repeating: 0, count: L * G * K)
        var mass = [Double](repeating: 0, count: L * G * K)
        var overlap = [Double](repeating: 0, count: L * G)
        precondition(answerSpan == nil || answerSpan!.count == n)
        var span = answerSpan.map { _ in [Double](repeating: 0, count: L * G * K) }
        truth.withUnsafeBufferPointer { t in
            pseudo.withUnsafeBufferPointer { p in
                for row in 0..<(L * G) {
                    let tRow = UnsafeBufferPointer(rebasing: t[(row * n)..<((row + 1) * n)])
                    let pRow = UnsafeBufferPointer(rebasing: p[(row * n)..<((row + 1) * n)])
                    let pRanking = SelectionMetrics.ranking(pRow)
                    for (ki, k) in kValues.enumerated() {
                        topK[row * K + ki] = SelectionMetrics.topKRecall(truthRanking: truthRankings[row], pseudoRanking: pRanking, k: k)
                        mass[row * K + ki] = SelectionMetrics.massRecall(truth: tRow, truthRanking: truthRankings[row],
                                                                         pseudoRanking: pRanking, k: k)
                        if let answerSpan {
                            span![row * K + ki] = SpanMetrics.spanRecall(pseudoRanking: pRanking, span: answerSpan, k: k)
                        }
                    }
                    overlap[row] = SelectionMetrics.overlap(truth: tRow, pseudo: pRow)
                }
            }
        }
        topKRecall = topK
        massRecall = mass
        self.overlap = overlap
        spanRecall = span
        var cosine = [Double](repeating: 0, count: L * H)
        let d = queries.dHead
        if cosineRows > 0 {
            for l in 0..<L {
                queries.queries[l].withUnsafeBufferPointer { q in
                    truthQueries.queries[l].withUnsafeBufferPointer { tq in
                        for h in 0..<H {
                            var sum = 0.0
                            for r in 0..<cosineRows {
                                sum += SelectionMetrics.cosine(q.baseAddress! + (r * H + h) * d, tq.baseAddress! + (r * H + h) * d, count: d)
                            }
                            cosine[l * H + h] = sum / Double(cosineRows)
                        }
                    }
                }
            }
        } else {
            cosine = Array(repeating: .nan, count: L * H)
        }
        queryCosine = cosine
    }

    /// The rankings of every (layer, KV head) row of an `[L, G, n]` importance.
    public static func rankings(_ importance: [Float], rows: Int, promptLength n: Int) -> [[Int]] {
        importance.withUnsafeBufferPointer { x in
            (0..<rows).map { SelectionMetrics.ranking(UnsafeBufferPointer(rebasing: x[($0 * n)..<(($0 + 1) * n)])) }
        }
    }

    /// Means over layers and heads: top-k and mass recall at budget index `k`, overlap, query cosine.
    public func meanTopKRecall(_ k: Int) -> Double { mean(topKRecall, at: k) }
    public func meanMassRecall(_ k: Int) -> Double { mean(massRecall, at: k) }
    public var meanOverlap: Double { overlap.reduce(0, +) / Double(overlap.count) }
    public var meanQueryCosine: Double { queryCosine.reduce(0, +) / Double(queryCosine.count) }

    /// Span recall at budget index `k`: the mean over layers and KV heads, the mean over the KV heads marked in
    /// `heads` (`[L, G]`, the retrieval heads), and the mean over layers of the minimum over a layer's KV heads.
    /// NaN without a span.
    public func meanSpanRecall(_ k: Int) -> Double { spanRecall.map { mean($0, at: k) } ?? .nan }
    public func retrievalSpanRecall(_ k: Int, heads: [Bool]) -> Double {
        spanRecall.map { SpanMetrics.retrievalMean($0, heads: heads, budgets: kValues.count)[k] } ?? .nan
    }
    public func layerMinimumSpanRecall(_ k: Int) -> Double {
        guard let spanRecall else { return .nan }
        let minimum = SpanMetrics.layerMinimum(spanRecall, nLayers: nLayers, nKVHeads: nKVHeads, budgets: kValues.count)
        return (0..<nLayers).reduce(0.0) { $0 + minimum[$1 * kValues.count + k] } / Double(nLayers)
    }

    /// `[L]`: mean over KV heads of `metric` (`[L, G, K]`) at budget index `k`: a recall-by-layer curve.
    public func byLayer(_ metric: [Double], k: Int) -> [Double] {
        let K = kValues.count
        return (0..<nLayers).map { l in
            (0..<nKVHeads).reduce(0.0) { $0 + metric[(l * nKVHeads + $1) * K + k] } / Double(nKVHeads)
        }
    }

    private func mean(_ metric: [Double], at k: Int) -> Double {
        let K = kValues.count
        var sum = 0.0
        for row in 0..<(nLayers * nKVHeads) { sum += metric[row * K + k] }
        return sum / Double(nLayers * nKVHeads)
    }
}
