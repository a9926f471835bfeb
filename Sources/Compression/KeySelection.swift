import Analysis

/// Kept prompt entries per (layer, KV head): `kept[layer][kvHead]` lists prompt positions in ascending order.
public typealias KeptEntries = [[[Int]]]

/// Turning scores into kept entries, and the per-layer budgets: the pieces every policy is built from.
public enum KeySelection {
    /// Per (layer, KV head): the last `recent` entries always, then the best scores until `budgets[layer]`
    /// entries (lower position first on ties). With an `adaptiveFloor` (`HeadBudgets.adaptive`) a layer's G heads
    /// share G·`budgets[layer]` entries instead (`adaptive`).
    public static func keep(_ scores: KeyScores, budgets: [Int], recent: Int, adaptiveFloor: Double? = nil) -> KeptEntries {
        precondition(budgets.count == scores.nLayers)
        return (0..<scores.nLayers).map { l in
            if let adaptiveFloor { return adaptive(scores, layer: l, budget: budgets[l], recent: recent, floor: adaptiveFloor) }
            return (0..<scores.nKVHeads).map { g in
                Eviction.keep(scores: scores.row(layer: l, head: g), budget: budgets[l], recent: recent)
            }
        }
    }

    /// One layer's kept entries when its G KV heads share G·`budget`: each head keeps its last `recent` entries
    /// and its best ⌊`floor`·(budget − recent)⌋ older ones; the layer's remaining entries go to the best older
    /// scores over all its heads (ties: lower head, then lower position). Exactly G·`budget` in all (a budget at
    /// or above the prompt keeps everything); a head never holds more than the prompt.
    public static func adaptive(_ scores: KeyScores, layer l: Int, budget: Int, recent: Int, floor: Double) -> [[Int]] {
        let n = scores.promptLength, heads = 0..<scores.nKVHeads
        guard budget < n else { return heads.map { _ in Array(0..<n) } }
        let recent = min(max(recent, 0), budget), older = n - recent
        let free = budget - recent, guaranteed = Int((floor * Double(free)).rounded(.down))
        let rows = heads.map { scores.row(layer: l, head: $0) }
        let ranked = rows.map { row in (0..<older).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) } }
        // The pool: every head's older entries past its guaranteed ones, best first.
        let pool = heads.flatMap { g in ranked[g][guaranteed...].map { (head: g, position: $0) } }
            .sorted { a, b in
                let sa = rows[a.head][a.position], sb = rows[b.head][b.position]
                return sa > sb || (sa == sb && (a.head, a.position) < (b.head, b.position))
            }
        var counts = Array(repeating: guaranteed, count: heads.count)
        for entry in pool.prefix(heads.count * (free - guaranteed)) { counts[entry.head] += 1 }
        return heads.map { g in ranked[g].prefix(counts[g]).sorted() + Array(older..<n) }
    }

    /// The same budget in every layer.
    public static func uniform(_ budget: Int, layers: Int) -> [Int] { Array(repeating: budget, count: layers) }

    /// PyramidKV's budgets (as in its reference implementation): the `window` recent entries in every layer, and
    /// the rest, `B − window` on average, falling linearly from the first layer to the last, where it is
    /// `(B − window)/β`; the total is exactly `layers × B` (any remainder of the integer steps goes to the first
    /// layers), and no layer exceeds the prompt.
    public static func pyramid(_ budget: Int, window: Int, beta: Int, layers: Int, promptLength n: Int) -> [Int] {
        let window = min(window, budget)
        let free = budget - window
        guard layers > 1, free > 0 else { return uniform(budget, layers: layers) }
        let lowest = Double(free) / Double(beta)
        let highest = 2 * Double(free) - lowest
        var budgets = (0..<layers).map { l in
            window + Int((highest - (highest - lowest) * Double(l) / Double(layers - 1)).rounded(.down))
        }
        var missing = layers * budget - budgets.reduce(0, +)
        var l = 0
        while missing > 0 {
            budgets[l % layers] += 1
            missing -= 1
            l += 1
        }
        return budgets.map { min($0, n) }
    }

    /// Entries held by a selection (summed over layers and KV heads).
    public static func count(_ kept: KeptEntries) -> Int { kept.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } } }
}
