/// The answer-level metrics of docs/metrics.md: whether a selection keeps the prompt positions
/// the answer copies (`prompt/answer_span`), per (layer, KV head) and budget `k`.
public enum SpanMetrics {
    /// |topk(P) ∩ span| / |span| from P's ranking (`k` clipped to its length); NaN when the span is empty.
    public static func spanRecall(pseudoRanking: [Int], span: [Bool], k: Int) -> Double {
        let size = span.reduce(0) { $0 + ($1 ? 1 : 0) }
        guard size > 0 else { return .nan }
        let kept = pseudoRanking.prefix(min(k, pseudoRanking.count)).reduce(0) { $0 + (span[$1] ? 1 : 0) }
        return Double(kept) / Double(size)
    }

    /// `[L, K]`: the minimum over a layer's KV heads of `spanRecall` (`[L, G, K]`): a KV head that drops the
    /// span loses it for its whole query group.
    public static func layerMinimum(_ spanRecall: [Double], nLayers L: Int, nKVHeads G: Int, budgets K: Int) -> [Double] {
        precondition(spanRecall.count == L * G * K)
        var out = [Double](repeating: .infinity, count: L * K)
        for l in 0..<L {
            for g in 0..<G {
                for k in 0..<K { out[l * K + k] = Swift.min(out[l * K + k], spanRecall[(l * G + g) * K + k]) }
            }
        }
        return out
    }

    /// `[K]`: the mean of `spanRecall` (`[L, G, K]`) over the KV heads marked in `heads` (`[L, G]`); NaN where
    /// none is marked.
    public static func retrievalMean(_ spanRecall: [Double], heads: [Bool], budgets K: Int) -> [Double] {
        precondition(spanRecall.count == heads.count * K)
        let count = heads.reduce(0) { $0 + ($1 ? 1 : 0) }
        guard count > 0 else { return Array(repeating: .nan, count: K) }
        return (0..<K).map { k in
            heads.indices.reduce(0.0) { $0 + (heads[$1] ? spanRecall[$1 * K + k] : 0) } / Double(count)
        }
    }

    /// The span recall of a cache that was really cut: `kept[l][g]` lists the prompt positions (layer l, KV head g)
    /// holds, `span` the answer's positions. Returns |kept ∩ span| / |span| per (layer, KV head) (layer-major), their
    /// mean, and the mean over layers of the minimum over the layer's KV heads (`layerMinimum`'s view of the same cut);
    /// NaN means and no heads when the span is empty.
    public static func keptSpanRecall(kept: [[[Int]]], span: Range<Int>) -> (perHead: [Double], mean: Double, layerMinimum: Double) {
        guard !span.isEmpty, let heads = kept.first?.count, heads > 0 else { return ([], .nan, .nan) }
        let perHead = kept.flatMap { layer in
            layer.map { positions in Double(positions.reduce(0) { $0 + (span.contains($1) ? 1 : 0) }) / Double(span.count) }
        }
        let minima = layerMinimum(perHead, nLayers: kept.count, nKVHeads: heads, budgets: 1)
        return (perHead, perHead.reduce(0, +) / Double(perHead.count), minima.reduce(0, +) / Double(minima.count))
    }
}
