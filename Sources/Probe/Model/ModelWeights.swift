/// The weights of one decoder block.
public struct LayerWeights: Sendable {
    public let attentionNorm: FloatBuffer
    public let query: WeightMatrix
    public let key: WeightMatrix
    public let value: WeightMatrix
    public let queryBias: FloatBuffer?
    public let keyBias: FloatBuffer?
    public let valueBias: FloatBuffer?
    public let attentionOutput: WeightMatrix
    public let ffnNorm: FloatBuffer
    public let gate: WeightMatrix
    public let up: WeightMatrix
    public let down: WeightMatrix
}

/// All weights of a decoder, checked against the configuration and dequantized to float32.
public struct ModelWeights: Sendable {
    public let tokenEmbedding: WeightMatrix
    public let outputNorm: FloatBuffer
    /// The output projection; the token embedding itself when the file has no `output.weight` (tied).
    public let output: WeightMatrix
    public let layers: [LayerWeights]

    public init(gguf: GGUFFile, config c: ModelConfig) throws {
        let loader = TensorLoader(gguf: gguf)
        tokenEmbedding = try loader.matrix("token_embd.weight", rows: c.vocabularySize, cols: c.dModel)
        outputNorm = try loader.vector("output_norm.weight", count: c.dModel)
        output = gguf.tensor(named: "output.weight") == nil
            ? tokenEmbedding
            : try loader.matrix("output.weight", rows: c.vocabularySize, cols: c.dModel)
        let qDim = c.nHeads * c.dHead, kvDim = c.nKVHeads * c.dHead
        let bias = c.architecture.hasQKVBias
        layers = try (0..<c.nLayers).map { l in
            let p = "blk.\(l)."
            return LayerWeights(
                attentionNorm: try loader.vector(p + "attn_norm.weight", count: c.dModel),
                query: try loader.matrix(p + "attn_q.weight", rows: qDim, cols: c.dModel),
                key: try loader.matrix(p + "attn_k.weight", rows: kvDim, cols: c.dModel),
                value: try loader.matrix(p + "attn_v.weight", rows: kvDim, cols: c.dModel),
                queryBias: bias ? try loader.vector(p + "attn_q.bias", count: qDim) : nil,
                keyBias: bias ? try loader.vector(p + "attn_k.bias", count: kvDim) : nil,
                valueBias: bias ? try loader.vector(p + "attn_v.bias", count: kvDim) : nil,
                attentionOutput: try loader.matrix(p + "attn_output.weight", rows: c.dModel, cols: qDim),
                ffnNorm: try loader.vector(p + "ffn_norm.weight", count: c.dModel),
                gate: try loader.matrix(p + "ffn_gate.weight", rows: c.dFF, cols: c.dModel),
                up: try loader.matrix(p + "ffn_up.weight", rows: c.dFF, cols: c.dModel),
                down: try loader.matrix(p + "ffn_down.weight", rows: c.dModel, cols: c.dFF))
        }
    }
}

/// Finds named tensors, checks their shapes and types, and dequantizes them.
struct TensorLoader {
    let gguf: GGUFFile

    func info(_ name: String, shape: [Int]) throws -> GGUFTensorInfo {
        guard let t = gguf.tensor(named: name) else { throw GGUFError(path: gguf.path, "missing tensor '\(name)'") }
        guard t.shape == shape else {
            throw GGUFError(path: gguf.path, "tensor '\(name)' has shape \(t.shape), expected \(shape) from the metadata")
        }
        guard t.type.isSupported else {
            let supported = GGMLType.allCases.filter(\.isSupported).map(\.name).joined(separator: ", ")
            throw GGUFError(path: gguf.path, "tensor '\(name)' has type \(t.type.name), which is not supported (supported: \(supported))")
        }
        return t
    }

    func vector(_ name: String, count: Int) throws -> FloatBuffer {
        FloatBuffer(try gguf.floats(of: try info(name, shape: [count])))
    }

    func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        let t = try info(name, shape: [cols, rows])
        return WeightMatrix(rows: rows, cols: cols, type: t.type, data: gguf.data(of: t))
    }
}
