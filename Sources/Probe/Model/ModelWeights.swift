/// The weights of one decoder block.
public struct LayerWeights: Sendable {
    public let attentionNorm: FloatBuffer
    /// The Q, K and V projections stacked by rows (`nHeads·dHead + 2·nKVHeads·dHead` outputs), so one product
    /// (one activation quantization, one parallel section) computes all three.
    public let queryKeyValue: WeightMatrix
    public let queryBias: FloatBuffer?
    public let keyBias: FloatBuffer?
    public let valueBias: FloatBuffer?
    public let attentionOutput: WeightMatrix
    public let ffnNorm: FloatBuffer
    /// The gate and up projections stacked by rows (`2·dFF` outputs).
    public let gateUp: WeightMatrix
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
                queryKeyValue: try loader.stacked([(p + "attn_q.weight", qDim), (p + "attn_k.weight", kvDim),
                                                   (p + "attn_v.weight", kvDim)], cols: c.dModel),
                queryBias: bias ? try loader.vector(p + "attn_q.bias", count: qDim) : nil,
                keyBias: bias ? try loader.vector(p + "attn_k.bias", count: kvDim) : nil,
                valueBias: bias ? try loader.vector(p + "attn_v.bias", count: kvDim) : nil,
                attentionOutput: try loader.matrix(p + "attn_output.weight", rows: c.dModel, cols: qDim),
                ffnNorm: try loader.vector(p + "ffn_norm.weight", count: c.dModel),
                gateUp: try loader.stacked([(p + "ffn_gate.weight", c.dFF), (p + "ffn_up.weight", c.dFF)], cols: c.dModel),
                down: try loader.matrix(p + "ffn_down.weight", rows: c.dModel, cols: c.dFF))
        }
    }
}

/// Finds named tensors, checks their shapes and types, and dequantizes them (or copies them packed); the file's
/// pages of a tensor are released once it is copied.
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
        let t = try info(name, shape: [count])
        defer { gguf.releasePages(of: t) }
        return FloatBuffer(try gguf.floats(of: t))
    }

    func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        let t = try info(name, shape: [cols, rows])
        defer { gguf.releasePages(of: t) }
        return WeightMatrix(rows: rows, cols: cols, type: t.type, data: gguf.data(of: t))
    }

    /// Several `[rows_i, cols]` weights stacked by rows into one matrix. Tensors of one type are joined
    /// block for block (rows are independent); tensors of mixed types stay separate parts of the stack, each
    /// multiplied as its own type (as llama.cpp multiplies them).
    func stacked(_ parts: [(name: String, rows: Int)], cols: Int) throws -> WeightMatrix {
        let infos = try parts.map { try info($0.name, shape: [cols, $0.rows]) }
        defer { for t in infos { gguf.releasePages(of: t) } }
        let rows = parts.reduce(0) { $0 + $1.rows }
        if Set(infos.map(\.type.rawValue)).count == 1 {
            var bytes = [UInt8]()
            bytes.reserveCapacity(infos.reduce(0) { $0 + $1.byteCount })
            for t in infos { bytes += gguf.data(of: t) }
            return bytes.withUnsafeBytes { WeightMatrix(rows: rows, cols: cols, type: infos[0].type, data: $0) }
        }
        return WeightMatrix(stacking: zip(infos, parts).map { WeightMatrix(rows: $1.rows, cols: cols, type: $0.type, data: gguf.data(of: $0)) })
    }
}
