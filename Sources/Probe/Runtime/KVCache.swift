/// The key/value cache of a decoder: per layer and KV head, a list of entries, each a post-RoPE key,
/// its value and the absolute position it was computed at. Heads may hold different entries (after
/// eviction), so lengths and positions are kept per (layer, KV head).
///
/// Layout per layer: `[kvHead][capacity][dHead]`, so one head's keys are one contiguous matrix.
public final class KVCache: @unchecked Sendable {
    public let nLayers: Int
    public let nKVHeads: Int
    public let dHead: Int
    public private(set) var capacity: Int
    private var keyStore: [FloatBuffer]
    private var valueStore: [FloatBuffer]
    private var lengthStore: [Int]
    private var positionStore: [[Int32]]

    public init(nLayers: Int, nKVHeads: Int, dHead: Int, capacity: Int) {
        self.nLayers = nLayers
        self.nKVHeads = nKVHeads
        self.dHead = dHead
        self.capacity = max(capacity, 1)
        keyStore = (0..<nLayers).map { _ in FloatBuffer(count: nKVHeads * max(capacity, 1) * dHead) }
        valueStore = (0..<nLayers).map { _ in FloatBuffer(count: nKVHeads * max(capacity, 1) * dHead) }
        lengthStore = Array(repeating: 0, count: nLayers * nKVHeads)
        positionStore = Array(repeating: [], count: nLayers * nKVHeads)
    }

    /// Entries held by (layer, KV head).
    public func length(layer: Int, head: Int) -> Int { lengthStore[layer * nKVHeads + head] }

    /// Absolute positions of the entries of (layer, KV head), in cache order.
    public func positions(layer: Int, head: Int) -> [Int32] { positionStore[layer * nKVHeads + head] }

    /// The `length × dHead` key matrix of (layer, KV head).
    public func keys(layer: Int, head: Int) -> UnsafeMutablePointer<Float> {
        keyStore[layer].pointer + head * capacity * dHead
    }

    /// The `length × dHead` value matrix of (layer, KV head).
    public func values(layer: Int, head: Int) -> UnsafeMutablePointer<Float> {
        valueStore[layer].pointer + head * capacity * dHead
    }

    /// The largest length over all (layer, KV head).
    public var maxLength: Int { lengthStore.max() ?? 0 }

    /// Bytes held by the entries (keys and values, float32), as a compressed cache reports them.
    public var bytesHeld: Int { lengthStore.reduce(0, +) * dHead * 2 * MemoryLayout<Float>.size }

    /// Makes room for `additional` more entries in every head.
    public func reserve(additional: Int) {
        let needed = maxLength + additional
        guard needed > capacity else { return }
        var newCapacity = capacity
        while newCapacity < needed { newCapacity *= 2 }
        for l in 0..<nLayers {
            let newKeys = FloatBuffer(count: nKVHeads * newCapacity * dHead)
            let newValues = FloatBuffer(count: nKVHeads * newCapacity * dHead)
            for g in 0..<nKVHeads {
                let n = length(layer: l, head: g) * dHead
                (newKeys.pointer + g * newCapacity * dHead).update(from: keys(layer: l, head: g), count: n)
                (newValues.pointer + g * newCapacity * dHead).update(from: values(layer: l, head: g), count: n)
            }
            keyStore[l] = newKeys
            valueStore[l] = newValues
        }
        capacity = newCapacity
    }

    /// Appends `count` entries to every head of `layer`. `keys` and `values` are `[count, nKVHeads, dHead]`.
    /// Call `reserve(additional:)` first.
    public func append(layer: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>, positions: [Int]) {
        let count = positions.count
        for g in 0..<nKVHeads {
            let index = layer * nKVHeads + g
            let start = lengthStore[index]
            precondition(start + count <= capacity, "KVCache.append without reserve")
            let kDst = keys(layer: layer, head: g) + start * dHead
            let vDst = values(layer: layer, head: g) + start * dHead
            for t in 0..<count {
                (kDst + t * dHead).update(from: k + (t * nKVHeads + g) * dHead, count: dHead)
                (vDst + t * dHead).update(from: v + (t * nKVHeads + g) * dHead, count: dHead)
            }
            lengthStore[index] = start + count
            positionStore[index].append(contentsOf: positions.map { Int32($0) })
        }
    }

    /// Entry counts of every (layer, KV head), to restore later with `truncate(to:)`.
    public var lengths: [Int] { lengthStore }

    /// Drops the entries appended after `lengths` was read (e.g. pseudo tokens whose K/V are discarded).
    public func truncate(to lengths: [Int]) {
        precondition(lengths.count == lengthStore.count)
        for i in lengths.indices where lengths[i] < lengthStore[i] {
            lengthStore[i] = lengths[i]
            positionStore[i].removeLast(positionStore[i].count - lengths[i])
        }
    }

    /// A new cache holding, for each (layer, KV head), only the entries at `keep[layer][head]` (indices into
    /// the current entries, in the order given), with their positions. Memory is that of the kept entries.
    public func keeping(_ keep: [[[Int]]], extraCapacity: Int = 0) -> KVCache {
        let largest = keep.flatMap { $0.map(\.count) }.max() ?? 0
        let result = KVCache(nLayers: nLayers, nKVHeads: nKVHeads, dHead: dHead, capacity: largest + extraCapacity)
        for l in 0..<nLayers {
            for g in 0..<nKVHeads {
                let indices = keep[l][g]
                let srcK = keys(layer: l, head: g), srcV = values(layer: l, head: g)
                let dstK = result.keys(layer: l, head: g), dstV = result.values(layer: l, head: g)
                let oldPositions = positions(layer: l, head: g)
                for (i, j) in indices.enumerated() {
                    (dstK + i * dHead).update(from: srcK + j * dHead, count: dHead)
                    (dstV + i * dHead).update(from: srcV + j * dHead, count: dHead)
                }
                result.lengthStore[l * nKVHeads + g] = indices.count
                result.positionStore[l * nKVHeads + g] = indices.map { oldPositions[$0] }
            }
        }
        return result
    }
}
