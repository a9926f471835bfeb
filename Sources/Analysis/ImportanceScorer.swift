import Foundation
import Probe

/// The importance a set of queries gives each prompt key (docs/architecture.md), per (layer, KV head):
/// `I[j] = mean over rows r and the query heads h of the KV group of softmax(q·k/√d)[j]`, the softmax over
/// every key row `r` sees (`QuerySet`), restricted to the prompt keys `j < n`.
public struct Importance: Sendable {
    public let nLayers: Int, nKVHeads: Int, promptLength: Int
    /// `[L, G, n]`: Σ over rows and group heads of the softmax weights (float64).
    public let sums: [Double]
    /// Rows × group heads that were summed.
    public let terms: Int
    /// `[L, H, n]`: the same sums kept per query head (over rows only), when asked for.
    public let headSums: [Double]?

    /// The mean, `[L, G, n]` float32: what the files store.
    public var values: [Float] { sums.map { terms > 0 ? Float($0 / Double(terms)) : .nan } }
}

/// Scores query sets against one prompt's keys.
///
/// The arithmetic is the capture's (`CaptureRecorder`), through the same `GroupAttention`: float64 keys and
/// queries, per row and KV group `[groupSize, visible]` scores scaled by 1/√d, a max-subtracted softmax, the prompt part
/// added row by row in row order and head order, then divided by `rows × groupSize` and rounded to float32.
/// So the true decoding queries reproduce the capture's `decode/importance` bit for bit, and NumPy
/// reproduces any result from the stored float32 tensors to float32 rounding.
public final class ImportanceScorer {
    public let nLayers: Int, nHeads: Int, nKVHeads: Int, dHead: Int
    public let promptLength: Int
    private var groupSize: Int { nHeads / nKVHeads }
    /// Own-key rows the buffers have room for after the prompt.
    private var extraCapacity: Int
    /// Per layer `[G, n + extraCapacity, d]` float64: prompt keys, then the scored set's own keys.
    private var keyBuffers: [[Double]]

    /// `promptKeys` in the file layout `[L, G, n, d]` (`prompt/rot_k`).
    public init(promptKeys: [Float], nLayers: Int, nHeads: Int, nKVHeads: Int, dHead: Int, promptLength n: Int,
                extraCapacity: Int = 64) {
        precondition(promptKeys.count == nLayers * nKVHeads * n * dHead, "prompt keys do not fill [L, G, n, d]")
        self.nLayers = nLayers
        self.nHeads = nHeads
        self.nKVHeads = nKVHeads
        self.dHead = dHead
        promptLength = n
        self.extraCapacity = extraCapacity
        keyBuffers = []
        keyBuffers = (0..<nLayers).map { l in buffer(layer: l, promptKeys: promptKeys, capacity: n + extraCapacity) }
    }

    private func buffer(layer l: Int, promptKeys: [Float], capacity: Int) -> [Double] {
        let n = promptLength, d = dHead
        var b = [Double](repeating: 0, count: nKVHeads * capacity * d)
        for g in 0..<nKVHeads {
            let source = (l * nKVHeads + g) * n * d
            for i in 0..<(n * d) { b[g * capacity * d + i] = Double(promptKeys[source + i]) }
        }
        return b
    }

    private func grow(to rows: Int) {
        guard rows > extraCapacity else { return }
        let old = promptLength + extraCapacity
        var newExtra = extraCapacity
        while newExtra < rows { newExtra *= 2 }
        let capacity = promptLength + newExtra, d = dHead
        for l in 0..<nLayers {
            var b = [Double](repeating: 0, count: nKVHeads * capacity * d)
            for g in 0..<nKVHeads {
                for i in 0..<(promptLength * d) { b[g * capacity * d + i] = keyBuffers[l][g * old * d + i] }
            }
            keyBuffers[l] = b
        }
        extraCapacity = newExtra
    }

    /// The importance `set` gives the prompt keys; `perQueryHead` also keeps the sums of each query head.
    public func importance(of set: QuerySet, perQueryHead: Bool = false) -> Importance {
        precondition(set.nLayers == nLayers && set.nHeads == nHeads && set.nKVHeads == nKVHeads && set.dHead == dHead)
        let n = promptLength, d = dHead, G = groupSize, R = set.rows
        for r in 0..<R {
            precondition(set.visiblePrompt[r] >= 1 && set.visiblePrompt[r] <= n && set.visibleOwn[r] >= 0 && set.visibleOwn[r] <= R,
                         "row \(r) sees \(set.visiblePrompt[r]) prompt keys and \(set.visibleOwn[r]) own keys")
            precondition(set.visiblePrompt[r] == n || set.visibleOwn[r] == 0, "row \(r) sees own keys past a partial prompt")
        }
        grow(to: R)
        let capacity = n + extraCapacity
        let longest = (0..<R).map { set.visiblePrompt[$0] + set.visibleOwn[$0] }.max() ?? 0
        var sums = [Double](repeating: 0, count: nLayers * nKVHeads * n)
        var headSums = [Double](repeating: 0, count: perQueryHead ? nLayers * nHeads * n : 0)
        var groupQueries = [Double](repeating: 0, count: G * d)
        var scores = [Double](repeating: 0, count: G * max(longest, 1))
        for l in 0..<nLayers {
            // The set's own keys go right after the prompt keys.
            for g in 0..<nKVHeads {
                for r in 0..<R {
                    for i in 0..<d {
                        keyBuffers[l][(g * capacity + n + r) * d + i] = Double(set.keys[l][(r * nKVHeads + g) * d + i])
                    }
                }
            }
            set.queries[l].withUnsafeBufferPointer { q in
                keyBuffers[l].withUnsafeBufferPointer { k in
                    sums.withUnsafeMutableBufferPointer { sum in
                        for r in 0..<R {
                            let visible = set.visiblePrompt[r] + set.visibleOwn[r]
                            let promptVisible = set.visiblePrompt[r]
                            for g in 0..<nKVHeads {
                                let row = q.baseAddress! + (r * nHeads + g * G) * d
                                for i in 0..<(G * d) { groupQueries[i] = Double(row[i]) }
                                groupQueries.withUnsafeBufferPointer { gq in
                                    scores.withUnsafeMutableBufferPointer { sc in
                                        GroupAttention.probabilities(queries: gq.baseAddress!, members: G,
                                                                     keys: k.baseAddress! + g * capacity * d, visible: visible,
                                                                     dHead: d, into: sc.baseAddress!)
                                    }
                                }
                                let base = (l * nKVHeads + g) * n
                                scores.withUnsafeMutableBufferPointer { sc in
                                    for member in 0..<G {
                                        let s = sc.baseAddress! + member * visible
                                        for j in 0..<promptVisible { sum[base + j] += s[j] }
                                        if perQueryHead {
                                            let head = (l * nHeads + g * G + member) * n
                                            for j in 0..<promptVisible { headSums[head + j] += s[j] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Importance(nLayers: nLayers, nKVHeads: nKVHeads, promptLength: n, sums: sums, terms: R * G,
                          headSums: perQueryHead ? headSums : nil)
    }
}
