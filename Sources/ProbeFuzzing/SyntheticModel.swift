import Probe

/// A tiny synthetic decoder (seeded random weights, a synthetic vocabulary) as a `GGUFBuilder`: the tests' tiny
/// model and the fuzzers' seeds. Dimensions, architecture, the matrices' type and the vocabulary are settable; the
/// same settings and seed always give the same bytes.
public struct SyntheticModel: Sendable {
    public var architecture = "llama"
    public var layers = 2, dModel = 32, dFF = 64, heads = 4, kvHeads = 2, context = 96
    public var seed: UInt64 = 7
    /// The type of the weight matrices: f32, f16, or a 32-block type filled with seeded random blocks (a fixed
    /// scale); norms and biases are always f32.
    public var matrixType: GGMLType = .f32
    public var vocabulary: SyntheticVocabulary = .byteLevel(merges: [])

    public init() {}

    public var dHead: Int { dModel / heads }

    public func builder() -> GGUFBuilder {
        var rng = SplitMix64(seed: seed)
        var b = GGUFBuilder()
        let a = architecture
        b.set("general.architecture", .string(a))
        b.set("\(a).block_count", .u32(UInt32(layers)))
        b.set("\(a).context_length", .u32(UInt32(context)))
        b.set("\(a).embedding_length", .u32(UInt32(dModel)))
        b.set("\(a).feed_forward_length", .u32(UInt32(dFF)))
        b.set("\(a).attention.head_count", .u32(UInt32(heads)))
        b.set("\(a).attention.head_count_kv", .u32(UInt32(kvHeads)))
        b.set("\(a).rope.freq_base", .f32(10000))
        b.set("\(a).attention.layer_norm_rms_epsilon", .f32(1e-5))
        vocabulary.write(into: &b)
        let vocab = vocabulary.count
        func unit() -> Float { Float(rng.next() >> 40) / Float(1 << 24) }
        func random(_ n: Int, scale: Float) -> [Float] { (0..<n).map { _ in (unit() * 2 - 1) * scale } }
        func norm(_ n: Int) -> [Float] { (0..<n).map { _ in 1 + (unit() - 0.5) * 0.2 } }
        func matrix(_ name: String, cols: Int, rows: Int, scale: Float) {
            switch matrixType {
            case .f32:
                b.addF32(name, shape: [cols, rows], values: random(cols * rows, scale: scale))
            case .f16:
                let halves = random(cols * rows, scale: scale).map { Float16($0).bitPattern }
                b.add(name, shape: [cols, rows], type: .f16, data: halves.withUnsafeBytes { Array($0) })
            default:
                b.add(name, shape: [cols, rows], type: matrixType, data: randomBlocks(cols * rows, using: &rng))
            }
        }
        matrix("token_embd.weight", cols: dModel, rows: vocab, scale: 1)
        b.addF32("output_norm.weight", shape: [dModel], values: norm(dModel))
        let q = heads * dHead, kv = kvHeads * dHead
        for l in 0..<layers {
            let p = "blk.\(l)."
            b.addF32(p + "attn_norm.weight", shape: [dModel], values: norm(dModel))
            matrix(p + "attn_q.weight", cols: dModel, rows: q, scale: 0.5)
            matrix(p + "attn_k.weight", cols: dModel, rows: kv, scale: 0.5)
            matrix(p + "attn_v.weight", cols: dModel, rows: kv, scale: 0.5)
            if architecture == "qwen2" {
                b.addF32(p + "attn_q.bias", shape: [q], values: random(q, scale: 0.1))
                b.addF32(p + "attn_k.bias", shape: [kv], values: random(kv, scale: 0.1))
                b.addF32(p + "attn_v.bias", shape: [kv], values: random(kv, scale: 0.1))
            }
            matrix(p + "attn_output.weight", cols: q, rows: dModel, scale: 0.3)
            b.addF32(p + "ffn_norm.weight", shape: [dModel], values: norm(dModel))
            matrix(p + "ffn_gate.weight", cols: dModel, rows: dFF, scale: 0.5)
            matrix(p + "ffn_up.weight", cols: dModel, rows: dFF, scale: 0.5)
            matrix(p + "ffn_down.weight", cols: dFF, rows: dModel, scale: 0.3)
        }
        return b
    }

    /// Seeded random blocks of `matrixType` whose leading f16 scale (and minimum, where the type has one) is fixed
    /// and small, so the values stay finite.
    private func randomBlocks(_ count: Int, using rng: inout SplitMix64) -> [UInt8] {
        let type = matrixType
        let blocks = count / type.blockSize
        var bytes = (0..<blocks * type.bytesPerBlock).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let scale = Float16(0.01).bitPattern
        for block in 0..<blocks where type.blockSize == 32 {
            let start = block * type.bytesPerBlock
            bytes[start] = UInt8(scale & 0xFF)
            bytes[start + 1] = UInt8(scale >> 8)
            if type == .q4_1 || type == .q5_1 { bytes[start + 2] = 0; bytes[start + 3] = 0 }
        }
        return bytes
    }
}
