import CSIMD

/// The key/value cache of a decoder: per layer and KV head, a list of entries, each a post-RoPE key,
/// its value and the absolute position it was computed at. Heads may hold different entries (after
/// eviction), so lengths and positions are kept per (layer, KV head).
///
/// Keys and values are stored as `kvType` (float16 or float32) and read back as float32, exactly.
/// Layout per layer: `[kvHead][capacity][dHead]`, so one head's keys are one contiguous matrix.
public final class KVCache: @unchecked Sendable {
    public let nLayers: Int
    public let nKVHeads: Int
    public let dHead: Int
    /// How keys and values are stored.
    public let kvType: KVType
    public private(set) var capacity: Int
    private var keyStore: [Storage]
    private var valueStore: [Storage]
    private var lengthStore: [Int]
    private var positionStore: [[Int32]]

    public init(nLayers: Int, nKVHeads: Int, dHead: Int, capacity: Int, kvType: KVType) {
        self.nLayers = nLayers
        self.nKVHeads = nKVHeads
        self.dHead = dHead
        self.kvType = kvType
        self.capacity = max(capacity, 1)
        let bytes = nKVHeads * max(capacity, 1) * dHead * kvType.bytesPerValue
        keyStore = (0..<nLayers).map { _ in Storage(bytes: bytes) }
        valueStore = (0..<nLayers).map { _ in Storage(bytes: bytes) }
        lengthStore = Array(repeating: 0, count: nLayers * nKVHeads)
        positionStore = Array(repeating: [], count: nLayers * nKVHeads)
    }

    /// Entries held by (layer, KV head).
    public func length(layer: Int, head: Int) -> Int { lengthStore[layer * nKVHeads + head] }

    /// Absolute positions of the entries of (layer, KV head), in cache order.
    public func positions(layer: Int, head: Int) -> [Int32] { positionStore[layer * nKVHeads + head] }

    /// Rows `rows` (all entries when nil) of the key matrix of (layer, KV head), as float32, row-major.
    public func keys(layer: Int, head: Int, rows: Range<Int>? = nil) -> [Float] {
        widened(keyBase(layer: layer, head: head), rows: rows ?? 0..<length(layer: layer, head: head))
    }

    /// Rows `rows` (all entries when nil) of the value matrix of (layer, KV head), as float32, row-major.
    public func values(layer: Int, head: Int, rows: Range<Int>? = nil) -> [Float] {
        widened(valueBase(layer: layer, head: head), rows: rows ?? 0..<length(layer: layer, head: head))
    }

    /// The largest length over all (layer, KV head).
    public var maxLength: Int { lengthStore.max() ?? 0 }

    /// Bytes held by the entries (keys and values, `kvType.bytesPerValue` each), as a compressed cache reports them.
    public var bytesHeld: Int { lengthStore.reduce(0, +) * dHead * 2 * kvType.bytesPerValue }

    /// Makes room for `additional` more entries in every head.
    public func reserve(additional: Int) {
        let needed = maxLength + additional
        guard needed > capacity else { return }
        var newCapacity = capacity
        while newCapacity < needed { newCapacity *= 2 }
        for l in 0..<nLayers {
            let newKeys = Storage(bytes: nKVHeads * newCapacity * rowBytes)
            let newValues = Storage(bytes: nKVHeads * newCapacity * rowBytes)
            for g in 0..<nKVHeads {
                let n = length(layer: l, head: g) * rowBytes
                (newKeys.pointer + g * newCapacity * rowBytes).copyMemory(from: keyBase(layer: l, head: g), byteCount: n)
                (newValues.pointer + g * newCapacity * rowBytes).copyMemory(from: valueBase(layer: l, head: g), byteCount: n)
            }
            keyStore[l] = newKeys
            valueStore[l] = newValues
        }
        capacity = newCapacity
    }

    /// Appends `count` entries to every head of `layer`. `keys` and values are `[count, nKVHeads, dHead]` float32
    /// (rounded to the nearest half when stored as `f16`). Call `reserve(additional:)` first.
    public func append(layer: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>, positions: [Int]) {
        let count = positions.count
        for g in 0..<nKVHeads {
            let index = layer * nKVHeads + g
            let start = lengthStore[index]
            precondition(start + count <= capacity, "KVCache.append without reserve")
            let kDst = keyBase(layer: layer, head: g) + start * rowBytes
            let vDst = valueBase(layer: layer, head: g) + start * rowBytes
            for t in 0..<count {
                store(k + (t * nKVHeads + g) * dHead, into: kDst + t * rowBytes)
                store(v + (t * nKVHeads + g) * dHead, into: vDst + t * rowBytes)
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

    /// A new cache of the same `kvType` holding, for each (layer, KV head), only the entries at `keep[layer][head]`
    /// (indices into the current entries, in the order given), with their positions. Memory is that of the kept
    /// entries.
    public func keeping(_ keep: [[[Int]]], extraCapacity: Int = 0) -> KVCache {
        let largest = keep.flatMap { $0.map(\.count) }.max() ?? 0
        let result = KVCache(nLayers: nLayers, nKVHeads: nKVHeads, dHead: dHead, capacity: largest + extraCapacity, kvType: kvType)
        for l in 0..<nLayers {
            for g in 0..<nKVHeads {
                let indices = keep[l][g]
                let srcK = keyBase(layer: l, head: g), srcV = valueBase(layer: l, head: g)
                let dstK = result.keyBase(layer: l, head: g), dstV = result.valueBase(layer: l, head: g)
                let oldPositions = positions(layer: l, head: g)
                for (i, j) in indices.enumerated() {
                    (dstK + i * rowBytes).copyMemory(from: srcK + j * rowBytes, byteCount: rowBytes)
                    (dstV + i * rowBytes).copyMemory(from: srcV + j * rowBytes, byteCount: rowBytes)
                }
                result.lengthStore[l * nKVHeads + g] = indices.count
                result.positionStore[l * nKVHeads + g] = indices.map { oldPositions[$0] }
            }
        }
        return result
    }

    // MARK: - storage

    /// One layer's keys or values: zero-filled bytes.
    private final class Storage {
        let pointer: UnsafeMutableRawPointer

        init(bytes: Int) {
            pointer = .allocate(byteCount: max(bytes, 1), alignment: 64)
            pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes, 1))
        }

        deinit { pointer.deallocate() }
    }

    /// Bytes of one stored row (`dHead` values).
    private var rowBytes: Int { dHead * kvType.bytesPerValue }

    /// The first stored key row of (layer, KV head).
    func keyBase(layer: Int, head: Int) -> UnsafeMutableRawPointer { keyStore[layer].pointer + head * capacity * rowBytes }

    /// The first stored value row of (layer, KV head).
    func valueBase(layer: Int, head: Int) -> UnsafeMutableRawPointer { valueStore[layer].pointer + head * capacity * rowBytes }

    /// One float32 row stored as `kvType`.
    private func store(_ row: UnsafePointer<Float>, into destination: UnsafeMutableRawPointer) {
        switch kvType {
        case .f32: destination.assumingMemoryBound(to: Float.self).update(from: row, count: dHead)
        case .f16: csimd_narrow_to_half(row, destination.assumingMemoryBound(to: UInt16.self), Int64(dHead))
        }
    }

    /// Stored rows `rows` from `base`, widened to float32.
    private func widened(_ base: UnsafeMutableRawPointer, rows: Range<Int>) -> [Float] {
        [Float](unsafeUninitializedCapacity: rows.count * dHead) { buffer, initialized in
            if !rows.isEmpty { Self.widen(kvType, base + rows.lowerBound * rowBytes, count: rows.count * dHead, into: buffer.baseAddress!) }
            initialized = rows.count * dHead
        }
    }

    /// `count` values stored as `type` at `source`, as float32 into `out` (exact).
    static func widen(_ type: KVType, _ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32: out.update(from: source.assumingMemoryBound(to: Float.self), count: count)
        case .f16: csimd_widen_half(source.assumingMemoryBound(to: UInt16.self), out, Int64(count))
        }
    }
}
