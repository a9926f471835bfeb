/// The retrieval score of every (layer, query head) (Wu et al. 2024, "Retrieval Head Mechanistically Explains
/// Long-Context Factuality"): the fraction of copying steps at which the head's largest attention weight lies
/// on the very prompt token being copied (`decode/retrieval_score`).
///
/// A generated token is chosen by the query before it: token 0 by the last prompt position's query (prefill),
/// token `s ≥ 1` by decoding step `s − 1`'s query (which feeds token `s − 1`). That query's attention runs over
/// every key it sees (the prompt and the generated tokens fed so far), so its strongest key may also be a
/// generated token, which never counts as a hit. A copying step is a token with `copySource[s] ≥ 0`.
public struct RetrievalScore: Sendable {
    public let nLayers: Int, nHeads: Int
    /// `[L, H]`: hits / copying steps; NaN everywhere when no token copies.
    public let scores: [Double]
    /// Generated tokens that copy a prompt position.
    public let copyingSteps: Int

    /// Scores from `strongestKeys[s]` (`[L, H]`: the position of the largest attention weight of the query that
    /// chose generated token `s`, −1 where unknown) and `copySource` (`[S]`, −1 for a token that copies nothing).
    public init(strongestKeys: [[Int]], copySource: [Int], nLayers: Int, nHeads: Int) {
        precondition(strongestKeys.count == copySource.count && strongestKeys.allSatisfy { $0.count == nLayers * nHeads })
        self.nLayers = nLayers
        self.nHeads = nHeads
        var hits = [Int](repeating: 0, count: nLayers * nHeads)
        var copying = 0
        for (keys, source) in zip(strongestKeys, copySource) where source >= 0 {
            copying += 1
            for i in hits.indices where keys[i] == source { hits[i] += 1 }
        }
        copyingSteps = copying
        scores = hits.map { copying > 0 ? Double($0) / Double(copying) : .nan }
    }

    /// The index of the largest value (the first on ties): a query's strongest key in cache order, which is
    /// absolute position order.
    public static func strongestKey(_ weights: UnsafeBufferPointer<Double>) -> Int {
        precondition(!weights.isEmpty)
        var best = 0
        for i in 1..<weights.count where weights[i] > weights[best] { best = i }
        return best
    }

    /// `strongestKey` of an array.
    public static func strongestKey(_ weights: [Double]) -> Int {
        weights.withUnsafeBufferPointer { strongestKey($0) }
    }
}
