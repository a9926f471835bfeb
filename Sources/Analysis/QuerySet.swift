import Probe

/// A set of query rows that score the prompt's keys, with what each row sees (docs/architecture.md:
/// the softmax of a query runs over every key it can see, then is restricted to the prompt keys).
///
/// Row `r` sees the first `visiblePrompt[r]` prompt keys and the first `visibleOwn[r]` of the set's own keys
/// (`keys`, one per row, in row order): pseudo tokens and decoding steps see the whole prompt and themselves
/// causally (`n`, `r + 1`); prompt queries see the prompt causally (`p + 1`, `0`). One of the two is always
/// complete or empty (`visiblePrompt == n` or `visibleOwn == 0`), so what a row sees is a prefix of
/// `[prompt keys, own keys]`.
///
/// Per layer, `queries` is `[rows, nHeads, dHead]` and `keys` `[rows, nKVHeads, dHead]` (the forward pass's
/// batch layout), post-RoPE, exactly as attention used them.
public struct QuerySet: Sendable {
    public let nLayers: Int, nHeads: Int, nKVHeads: Int, dHead: Int
    public private(set) var rows = 0
    /// Absolute position and token id of each row.
    public private(set) var positions: [Int] = []
    public private(set) var tokens: [Int] = []
    public private(set) var queries: [[Float]]
    public private(set) var keys: [[Float]]
    public private(set) var visiblePrompt: [Int] = []
    public private(set) var visibleOwn: [Int] = []

    /// An empty set for a model of these dimensions.
    public init(nLayers: Int, nHeads: Int, nKVHeads: Int, dHead: Int) {
        self.nLayers = nLayers
        self.nHeads = nHeads
        self.nKVHeads = nKVHeads
        self.dHead = dHead
        queries = Array(repeating: [], count: nLayers)
        keys = Array(repeating: [], count: nLayers)
    }

    public init(config: ModelConfig) {
        self.init(nLayers: config.nLayers, nHeads: config.nHeads, nKVHeads: config.nKVHeads, dHead: config.dHead)
    }

    /// A set from tensors in the file layout: `queries` `[L, H, rows, d]`, `keys` `[L, G, rows, d]`.
    public init(nLayers: Int, nHeads: Int, nKVHeads: Int, dHead: Int, fileQueries: [Float], fileKeys: [Float],
                positions: [Int], tokens: [Int], visiblePrompt: [Int], visibleOwn: [Int]) {
        self.init(nLayers: nLayers, nHeads: nHeads, nKVHeads: nKVHeads, dHead: dHead)
        let R = positions.count, d = dHead
        precondition(fileQueries.count == nLayers * nHeads * R * d && fileKeys.count == nLayers * nKVHeads * R * d)
        precondition(tokens.count == R && visiblePrompt.count == R && visibleOwn.count == R)
        for l in 0..<nLayers {
            queries[l] = Self.transpose(fileQueries, offset: l * nHeads * R * d, heads: nHeads, rows: R, d: d)
            keys[l] = Self.transpose(fileKeys, offset: l * nKVHeads * R * d, heads: nKVHeads, rows: R, d: d)
        }
        rows = R
        self.positions = positions
        self.tokens = tokens
        self.visiblePrompt = visiblePrompt
        self.visibleOwn = visibleOwn
    }

    /// `[heads, rows, d]` ↔ `[rows, heads, d]` (the same swap both ways).
    private static func transpose(_ x: [Float], offset: Int, heads: Int, rows: Int, d: Int) -> [Float] {
        var out = [Float](repeating: 0, count: heads * rows * d)
        for h in 0..<heads {
            for r in 0..<rows {
                for i in 0..<d { out[(r * heads + h) * d + i] = x[offset + (h * rows + r) * d + i] }
            }
        }
        return out
    }

    /// Appends one row of layer `layer`: `query` `[H, d]` and `key` `[G, d]`. Rows are appended layer by layer;
    /// `addRowInfo` (once per row) sets its position, token and visibility.
    mutating func appendLayerRow(layer: Int, query: UnsafePointer<Float>, key: UnsafePointer<Float>) {
        queries[layer].append(contentsOf: UnsafeBufferPointer(start: query, count: nHeads * dHead))
        keys[layer].append(contentsOf: UnsafeBufferPointer(start: key, count: nKVHeads * dHead))
    }

    mutating func addRowInfo(position: Int, token: Int, visiblePrompt vp: Int, visibleOwn vo: Int) {
        positions.append(position)
        tokens.append(token)
        visiblePrompt.append(vp)
        visibleOwn.append(vo)
        rows += 1
    }

    /// Sets what each row sees: `.afterPrompt` (the rows follow the `n` prompt entries: each sees the prompt
    /// and the set's rows up to itself) or `.insidePrompt` (prompt queries: each sees prompt keys `0…p`).
    public enum Visibility: Sendable { case afterPrompt(promptLength: Int), insidePrompt }

    public mutating func setVisibility(_ visibility: Visibility) {
        switch visibility {
        case .afterPrompt(let n):
            visiblePrompt = Array(repeating: n, count: rows)
            visibleOwn = (0..<rows).map { $0 + 1 }
        case .insidePrompt:
            visiblePrompt = positions.map { $0 + 1 }
            visibleOwn = Array(repeating: 0, count: rows)
        }
    }

    /// The rows `range` of this set (own-key visibility is kept as is; it must stay within the subset).
    public func rows(_ range: Range<Int>) -> QuerySet {
        var out = QuerySet(nLayers: nLayers, nHeads: nHeads, nKVHeads: nKVHeads, dHead: dHead)
        let qRow = nHeads * dHead, kRow = nKVHeads * dHead
        for l in 0..<nLayers {
            out.queries[l] = Array(queries[l][(range.lowerBound * qRow)..<(range.upperBound * qRow)])
            out.keys[l] = Array(keys[l][(range.lowerBound * kRow)..<(range.upperBound * kRow)])
        }
        out.rows = range.count
        out.positions = Array(positions[range])
        out.tokens = Array(tokens[range])
        out.visiblePrompt = Array(visiblePrompt[range])
        out.visibleOwn = Array(visibleOwn[range])
        return out
    }

    /// This set's rows followed by `other`'s. Own keys are indexed by row in the joined set, so rows of
    /// `other` that see own keys would see this set's rows: only sets whose later part sees no own keys join.
    public func appending(_ other: QuerySet) -> QuerySet {
        precondition(other.nLayers == nLayers && other.nHeads == nHeads && other.nKVHeads == nKVHeads && other.dHead == dHead)
        precondition(other.visibleOwn.allSatisfy { $0 == 0 }, "the appended rows must not see own keys")
        var out = self
        for l in 0..<nLayers {
            out.queries[l] += other.queries[l]
            out.keys[l] += other.keys[l]
        }
        out.rows += other.rows
        out.positions += other.positions
        out.tokens += other.tokens
        out.visiblePrompt += other.visiblePrompt
        out.visibleOwn += other.visibleOwn
        return out
    }

    /// Queries in the file layout `[L, H, rows, d]`.
    public var fileQueries: [Float] {
        (0..<nLayers).flatMap { Self.transpose(queries[$0], offset: 0, heads: rows, rows: nHeads, d: dHead) }
    }

    /// Own keys in the file layout `[L, G, rows, d]`.
    public var fileKeys: [Float] {
        (0..<nLayers).flatMap { Self.transpose(keys[$0], offset: 0, heads: rows, rows: nKVHeads, d: dHead) }
    }
}
