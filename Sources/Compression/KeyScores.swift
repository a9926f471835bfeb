import Analysis

/// How much each prompt key is worth keeping, per (layer, KV head): `values[(l·G + g)·n + j]`, higher is
/// better. Every score-based policy produces one; `KeySelection` turns it into kept entries.
public struct KeyScores: Sendable {
    public let nLayers: Int, nKVHeads: Int, promptLength: Int
    public var values: [Double]

    public init(nLayers: Int, nKVHeads: Int, promptLength: Int, values: [Double]) {
        precondition(values.count == nLayers * nKVHeads * promptLength, "scores do not fill [L, G, n]")
        self.nLayers = nLayers
        self.nKVHeads = nKVHeads
        self.promptLength = promptLength
        self.values = values
    }

    /// The scores of (layer, KV head).
    public func row(layer: Int, head: Int) -> [Double] {
        let start = (layer * nKVHeads + head) * promptLength
        return Array(values[start..<(start + promptLength)])
    }

    /// The scores of the first `length` positions of every (layer, KV head).
    public func prefix(_ length: Int) -> KeyScores {
        precondition(length <= promptLength)
        let rows = (0..<(nLayers * nKVHeads)).flatMap { r in values[(r * promptLength)..<(r * promptLength + length)] }
        return KeyScores(nLayers: nLayers, nKVHeads: nKVHeads, promptLength: length, values: rows)
    }

    /// Per-query-head values `[L, H, n]` combined over each KV head's group of `H / G` query heads.
    public init(perQueryHead: [Double], nLayers: Int, nHeads: Int, nKVHeads: Int, promptLength n: Int,
                aggregation: GroupAggregation) {
        precondition(perQueryHead.count == nLayers * nHeads * n)
        let group = nHeads / nKVHeads
        var values = [Double](repeating: aggregation == .max ? -.infinity : 0, count: nLayers * nKVHeads * n)
        for l in 0..<nLayers {
            for h in 0..<nHeads {
                let source = (l * nHeads + h) * n
                // `layer`: every KV head of the layer takes the mean over all its query heads.
                let targets = aggregation == .layer ? Array(0..<nKVHeads) : [h / group]
                for target in targets.map({ (l * nKVHeads + $0) * n }) {
                    for j in 0..<n {
                        switch aggregation {
                        case .mean: values[target + j] += perQueryHead[source + j] / Double(group)
                        case .max: values[target + j] = max(values[target + j], perQueryHead[source + j])
                        case .layer: values[target + j] += perQueryHead[source + j] / Double(nHeads)
                        }
                    }
                }
            }
        }
        self.init(nLayers: nLayers, nKVHeads: nKVHeads, promptLength: n, values: values)
    }

    /// The importance a query set gives the prompt keys (`Importance` with per-query-head sums), as the mean
    /// over its rows, combined over each group.
    public init(importance: Importance, nHeads: Int, rows: Int, aggregation: GroupAggregation) {
        guard let headSums = importance.headSums else { preconditionFailure("the importance lacks per-query-head sums") }
        self.init(perQueryHead: headSums.map { $0 / Double(max(rows, 1)) }, nLayers: importance.nLayers, nHeads: nHeads,
                  nKVHeads: importance.nKVHeads, promptLength: importance.promptLength, aggregation: aggregation)
    }

    /// These scores with every (layer, KV head) row pooled over its first `n − protectedTail` positions (the
    /// always-kept tail is neither pooled nor pooled into).
    public func pooled(kernel: Int, pooling: Pooling, protectedTail: Int) -> KeyScores {
        let n = promptLength, older = max(0, n - protectedTail)
        var out = values
        for r in 0..<(nLayers * nKVHeads) {
            let head = Array(values[(r * n)..<(r * n + older)])
            let smooth = pooling == .max ? Eviction.maxPool(head, kernel: kernel) : Eviction.averagePool(head, kernel: kernel)
            for j in 0..<older { out[r * n + j] = smooth[j] }
        }
        return KeyScores(nLayers: nLayers, nKVHeads: nKVHeads, promptLength: n, values: out)
    }
}
