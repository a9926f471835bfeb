import Analysis

/// Kept prompt entries per (layer, KV head): `kept[layer][kvHead]` lists prompt positions in ascending order.
public typealias KeptEntries = [[[Int]]]

/// Turning scores into kept entries, and the per-layer budgets: the pieces every policy is built from.
public enum KeySelection {
    /// Per (layer, KV head): the last `recent` entries always, then the best scores until `budgets[layer]`
    /// entries (lower position first on ties).
    public static func keep(_ scores: KeyScores, budgets: [Int], recent: Int) -> KeptEntries {
        precondition(budgets.count == scores.nLayers)
        return (0..<scores.nLayers).map { l in
            (0..<scores.nKVHeads).map { g in
                Eviction.keep(scores: scores.row(layer: l, head: g), budget: budgets[l], recent: recent)
            }
        }
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
