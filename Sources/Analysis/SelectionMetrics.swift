/// The metrics of docs/metrics.md comparing a pseudo importance `P` with the true importance `T` over
/// the prompt's keys. Ties in top-k are broken by the lower position, so results are deterministic (NumPy:
/// `np.argsort(-x, kind="stable")`). Sums run in float64 over the float32 values.
public enum SelectionMetrics {
    /// Indices of the `k` largest values, largest first (lower index first on ties).
    public static func topK(_ values: [Float], _ k: Int) -> [Int] {
        Array(ranking(values).prefix(max(0, min(k, values.count))))
    }

    /// Every index, largest value first (lower index first on ties): `topK(values, k)` is its first `k`.
    public static func ranking(_ values: [Float]) -> [Int] {
        values.withUnsafeBufferPointer { ranking($0) }
    }

    /// `ranking` of a slice of memory (one (layer, KV head) row of a larger array).
    public static func ranking(_ values: UnsafeBufferPointer<Float>) -> [Int] {
        // Sorting (value, index) pairs is much faster than sorting indices through a closure over the buffer.
        var pairs = (0..<values.count).map { (values[$0], $0) }
        pairs.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        return pairs.map(\.1)
    }

    /// |topk(T) ∩ topk(P)| / k.
    public static func topKRecall(truth: [Float], pseudo: [Float], k: Int) -> Double {
        topKRecall(truthRanking: ranking(truth), pseudoRanking: ranking(pseudo), k: k)
    }

    /// |topk(T) ∩ topk(P)| / k from the two rankings (`k` clipped to their length).
    public static func topKRecall(truthRanking: [Int], pseudoRanking: [Int], k: Int) -> Double {
        let k = min(k, truthRanking.count)
        guard k > 0 else { return 0 }
        var inTruth = [Bool](repeating: false, count: truthRanking.count)
        for j in truthRanking.prefix(k) { inTruth[j] = true }
        return Double(pseudoRanking.prefix(k).filter { inTruth[$0] }.count) / Double(k)
    }

    /// Σ_{j∈topk(P)} T[j] / Σ_{j∈topk(T)} T[j]: the share of the best achievable true attention mass that
    /// the pseudo selection keeps.
    public static func massRecall(truth: [Float], pseudo: [Float], k: Int) -> Double {
        massRecall(truth: truth, truthRanking: ranking(truth), pseudoRanking: ranking(pseudo), k: k)
    }

    /// `massRecall` from the two rankings; `truth` is indexed by prompt position.
    public static func massRecall<C: RandomAccessCollection>(truth: C, truthRanking: [Int], pseudoRanking: [Int],
                                                            k: Int) -> Double where C.Element == Float, C.Index == Int {
        let k = min(k, truthRanking.count)
        let base = truth.startIndex
        var best = 0.0, kept = 0.0
        for j in truthRanking.prefix(k) { best += Double(truth[base + j]) }
        for j in pseudoRanking.prefix(k) { kept += Double(truth[base + j]) }
        return best > 0 ? kept / best : 0
    }

    /// Σ_j min(T̂[j], P̂[j]) with both normalised to sum 1.
    public static func overlap<C: RandomAccessCollection>(truth: C, pseudo: C) -> Double
        where C.Element == Float, C.Index == Int {
        precondition(truth.count == pseudo.count)
        let st = truth.reduce(0.0) { $0 + Double($1) }, sp = pseudo.reduce(0.0) { $0 + Double($1) }
        guard st > 0, sp > 0 else { return 0 }
        var sum = 0.0
        for (t, p) in zip(truth, pseudo) { sum += min(Double(t) / st, Double(p) / sp) }
        return sum
    }

    /// Cosine of two vectors in float64 (0 when either is zero).
    public static func cosine(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in 0..<count {
            let x = Double(a[i]), y = Double(b[i])
            dot += x * y
            na += x * x
            nb += y * y
        }
        return na > 0 && nb > 0 ? dot / (na.squareRoot() * nb.squareRoot()) : 0
    }

    /// Cosine of two arrays of equal length.
    public static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        return a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in cosine(x.baseAddress!, y.baseAddress!, count: a.count) } }
    }

    /// The entry of `kValues` (each clipped to `promptLength`) nearest `fraction · promptLength`, rounded to entries
    /// as `compress` rounds a `3%` budget (`PromptFraction`); the smaller on ties. Returns its index into `kValues`.
    /// The headline budget ("k nearest 3% of n").
    public static func headlineIndex(kValues: [Int], promptLength: Int, fraction: Double = 0.03) -> Int {
        precondition(!kValues.isEmpty)
        let target = Double(PromptFraction.entries(fraction, of: promptLength))
        var best = 0
        for (i, k) in kValues.enumerated() {
            let a = abs(Double(min(k, promptLength)) - target), b = abs(Double(min(kValues[best], promptLength)) - target)
            if a < b || (a == b && min(k, promptLength) < min(kValues[best], promptLength)) { best = i }
        }
        return best
    }
}
