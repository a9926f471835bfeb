/// The metrics of DESIGN.md ("Metrics") comparing a pseudo importance `P` with the true importance `T` over
/// the prompt's keys. Ties in top-k are broken by the lower position, so results are deterministic.
public enum SelectionMetrics {
    /// Indices of the `k` largest values, largest first (lower index first on ties).
    public static func topK(_ values: [Float], _ k: Int) -> [Int] {
        let k = min(k, values.count)
        return values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
            .prefix(k).map { $0 }
    }

    /// |topk(T) ∩ topk(P)| / k.
    public static func topKRecall(truth: [Float], pseudo: [Float], k: Int) -> Double {
        let k = min(k, truth.count)
        guard k > 0 else { return 0 }
        let t = Set(topK(truth, k))
        return Double(topK(pseudo, k).filter(t.contains).count) / Double(k)
    }

    /// Σ_{j∈topk(P)} T[j] / Σ_{j∈topk(T)} T[j]: the share of the best achievable true attention mass that
    /// the pseudo selection keeps.
    public static func massRecall(truth: [Float], pseudo: [Float], k: Int) -> Double {
        let best = topK(truth, k).reduce(0.0) { $0 + Double(truth[$1]) }
        guard best > 0 else { return 0 }
        return topK(pseudo, k).reduce(0.0) { $0 + Double(truth[$1]) } / best
    }

    /// Σ_j min(T̂[j], P̂[j]) with both normalised to sum 1.
    public static func overlap(truth: [Float], pseudo: [Float]) -> Double {
        let st = truth.reduce(0.0) { $0 + Double($1) }, sp = pseudo.reduce(0.0) { $0 + Double($1) }
        guard st > 0, sp > 0 else { return 0 }
        var sum = 0.0
        for j in truth.indices { sum += min(Double(truth[j]) / st, Double(pseudo[j]) / sp) }
        return sum
    }
}
