extension KVCache {
    /// One (layer, KV head)'s stored rows as attention reads them: dot products and weighted sums straight from the
    /// storage (the float16 kernels for `f16`, bit-identical to float32 rows holding the same values).
    struct Head {
        let keys: UnsafeRawPointer
        let values: UnsafeRawPointer
        /// Entries held.
        let length: Int
        let dHead: Int
        let type: KVType

        /// `scores[j] = (query · key j) · scale` for the first `count` keys.
        func scores(_ query: UnsafePointer<Float>, count: Int, scale: Float, into scores: UnsafeMutablePointer<Float>) {
            switch type {
            case .f32:
                let K = keys.assumingMemoryBound(to: Float.self)
                for j in 0..<count { scores[j] = Kernels.dot(query, K + j * dHead, count: dHead) * scale }
            case .f16:
                let K = keys.assumingMemoryBound(to: UInt16.self)
                for j in 0..<count { scores[j] = Kernels.dot(query, half: K + j * dHead, count: dHead) * scale }
            }
        }

        /// `out = Σ_j weights[j] · value j` over the first `count` values.
        func weightedSum(_ weights: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>) {
            switch type {
            case .f32: Kernels.weightedSum(weights, rows: values.assumingMemoryBound(to: Float.self), count: count, width: dHead, into: out)
            case .f16: Kernels.weightedSum(weights, halfRows: values.assumingMemoryBound(to: UInt16.self), count: count, width: dHead, into: out)
            }
        }

        /// The stored key and value matrices when they are float32 (nil for `f16`: widen them with `widen`).
        var floatRows: (keys: UnsafePointer<Float>, values: UnsafePointer<Float>)? {
            type == .f32 ? (keys.assumingMemoryBound(to: Float.self), values.assumingMemoryBound(to: Float.self)) : nil
        }

        /// The first `count` keys and values as float32 into `keys` and `values` (`count × dHead` each, exact).
        func widen(count: Int, keys keyOut: UnsafeMutablePointer<Float>, values valueOut: UnsafeMutablePointer<Float>) {
            KVCache.widen(type, keys, count: count * dHead, into: keyOut)
            KVCache.widen(type, values, count: count * dHead, into: valueOut)
        }
    }

    /// The rows of (layer, KV head `group`) for attention.
    func head(layer: Int, group: Int) -> Head {
        Head(keys: keyBase(layer: layer, head: group), values: valueBase(layer: layer, head: group),
             length: length(layer: layer, head: group), dHead: dHead, type: kvType)
    }
}
