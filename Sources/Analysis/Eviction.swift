/// Small building blocks of score-based eviction, shared by the ablation's LAQ reference and the
/// compression policies: pooling scores over neighbouring positions, and choosing the entries to keep.
public enum Eviction {
    /// 1-D max pooling with stride 1 and an odd `kernel` centred on each position; at the edges the window
    /// is cut to the positions that exist (PyTorch's `max_pool1d(kernel, stride=1, padding=kernel/2)` with
    /// −∞ padding). `kernel` 1 returns `scores` unchanged.
    public static func maxPool(_ scores: [Double], kernel: Int) -> [Double] {
        precondition(kernel >= 1 && kernel % 2 == 1, "the pooling kernel must be odd, got \(kernel)")
        let half = kernel / 2, n = scores.count
        guard half > 0 else { return scores }
        return (0..<n).map { i in
            var m = -Double.infinity
            for j in max(0, i - half)...min(n - 1, i + half) { m = max(m, scores[j]) }
            return m
        }
    }

    /// 1-D average pooling with stride 1 and an odd `kernel` centred on each position, zero padding counted
    /// in the mean (PyTorch's `avg_pool1d(kernel, stride=1, padding=kernel/2)`, its default
    /// `count_include_pad`): every output is the window's sum divided by `kernel`.
    public static func averagePool(_ scores: [Double], kernel: Int) -> [Double] {
        precondition(kernel >= 1 && kernel % 2 == 1, "the pooling kernel must be odd, got \(kernel)")
        let half = kernel / 2, n = scores.count
        guard half > 0 else { return scores }
        return (0..<n).map { i in
            var sum = 0.0
            for j in max(0, i - half)...min(n - 1, i + half) { sum += scores[j] }
            return sum / Double(kernel)
        }
    }

    /// Indices to keep of `scores.count` entries under `budget`: the last `recent` always, then the highest
    /// `scores` among the others (lower index first on ties) until `budget` entries; ascending order.
    /// A budget at or above the count keeps everything.
    public static func keep(scores: [Double], budget: Int, recent: Int) -> [Int] {
        let n = scores.count
        guard budget < n else { return Array(0..<n) }
        let recent = min(max(recent, 0), budget)
        let older = n - recent
        let chosen = (0..<older).sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            .prefix(budget - recent)
        return chosen.sorted() + Array(older..<n)
    }

    /// SnapKV's choice for one (layer, KV head): `windowImportance` is the prompt-key importance of the last
    /// `window` prompt queries (`ImportanceScorer`); the keys before the window are scored by it, max-pooled
    /// with `kernel`, and the best fill the budget beside the always-kept window.
    public static func snapKV(windowImportance: [Double], budget: Int, window: Int, kernel: Int = 7) -> [Int] {
        let n = windowImportance.count
        let older = max(0, n - window)
        var pooled = maxPool(Array(windowImportance.prefix(older)), kernel: kernel)
        pooled += Array(repeating: 0, count: n - older)
        return keep(scores: pooled, budget: budget, recent: window)
    }
}
