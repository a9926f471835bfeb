/// The hyper-parameters of a decoder, read from GGUF metadata (`<arch>.*` keys).
public struct ModelConfig: Sendable {
    public let architecture: Architecture
    public let nLayers: Int
    public let dModel: Int
    public let dFF: Int
    public let nHeads: Int
    public let nKVHeads: Int
    public let dHead: Int
    public let ropeDims: Int
    public let ropeBase: Float
    public let rmsEpsilon: Float
    public let contextLength: Int
    public let vocabularySize: Int

    /// Query heads that share one KV head.
    public var groupSize: Int { nHeads / nKVHeads }

    public init(gguf: GGUFFile) throws {
        let archName = try gguf.requireString("general.architecture")
        guard let arch = Architecture.named(archName) else {
            let known = Architecture.all.map(\.name).joined(separator: ", ")
            throw GGUFError(path: gguf.path, "unsupported architecture \(GGUFError.quote(archName)) (supported: \(known))")
        }
        let p = archName + "."
        architecture = arch
        nLayers = try gguf.requireInt(p + "block_count")
        dModel = try gguf.requireInt(p + "embedding_length")
        dFF = try gguf.requireInt(p + "feed_forward_length")
        nHeads = try gguf.requireInt(p + "attention.head_count")
        nKVHeads = gguf.int(p + "attention.head_count_kv") ?? nHeads
        contextLength = try gguf.requireInt(p + "context_length")
        guard nLayers > 0, dModel > 0, dFF > 0, nHeads > 0, nKVHeads > 0, contextLength > 0 else {
            throw GGUFError(path: gguf.path, "metadata gives a non-positive model dimension")
        }
        // Each block has tensors of its own, so a block count beyond the tensor count is corrupt (and would size
        // per-layer arrays from a number nothing in the file backs).
        guard nLayers <= gguf.tensors.count else {
            throw GGUFError(path: gguf.path, "\(p)block_count \(nLayers) exceeds the file's \(gguf.tensors.count) tensors")
        }
        guard dModel % nHeads == 0, nHeads % nKVHeads == 0 else {
            throw GGUFError(path: gguf.path, "inconsistent metadata: embedding \(dModel), \(nHeads) heads, \(nKVHeads) KV heads")
        }
        dHead = gguf.int(p + "attention.key_length") ?? dModel / nHeads
        guard dHead > 0, CheckedArithmetic.product([nHeads, dHead, 3]) != nil, CheckedArithmetic.product([dFF, 2]) != nil else {
            throw GGUFError(path: gguf.path, "inconsistent metadata: head size \(dHead) with \(nHeads) heads, feed-forward \(dFF)")
        }
        ropeDims = gguf.int(p + "rope.dimension_count") ?? dHead
        guard ropeDims > 0, ropeDims <= dHead, ropeDims % 2 == 0 else {
            throw GGUFError(path: gguf.path, "inconsistent metadata: rope.dimension_count \(ropeDims) with head size \(dHead)")
        }
        ropeBase = Float(gguf.double(p + "rope.freq_base") ?? arch.defaultRopeBase)
        rmsEpsilon = Float(gguf.double(p + "attention.layer_norm_rms_epsilon") ?? 1e-5)
        guard let embd = gguf.tensor(named: "token_embd.weight") else {
            throw GGUFError(path: gguf.path, "missing tensor 'token_embd.weight'")
        }
        guard embd.shape.count == 2, embd.shape[0] == dModel else {
            throw GGUFError(path: gguf.path, "tensor 'token_embd.weight' has shape \(embd.shape), expected [\(dModel), vocabulary]")
        }
        vocabularySize = embd.shape[1]
    }
}
