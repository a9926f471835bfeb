/// A readable summary of a GGUF file: metadata, hyper-parameters, tensor table and sizes.
public struct ModelReport {
    public let text: String

    public init(path: String) throws {
        let gguf = try GGUFFile(path: path)
        var lines = ["file: \(path)", "GGUF version \(gguf.version), \(gguf.fileSize) bytes, alignment \(gguf.alignment), data at \(gguf.dataOffset)"]
        if let config = try? ModelConfig(gguf: gguf) {
            lines.append("architecture: \(config.architecture.name) (RoPE \(config.architecture.ropeLayout.rawValue)), \(config.nLayers) layers, d_model \(config.dModel), d_ff \(config.dFF), heads \(config.nHeads), KV heads \(config.nKVHeads), d_head \(config.dHead), context \(config.contextLength), vocabulary \(config.vocabularySize), rope base \(config.ropeBase)")
        }
        lines.append("metadata (\(gguf.metadataKeys.count)):")
        for key in gguf.metadataKeys {
            let value = gguf.metadata[key]!
            lines.append("  \(key) [\(value.typeName)] = \(value.description.prefix(160))")
        }
        lines.append("tensors (\(gguf.tensors.count)):")
        var byType: [String: (count: Int, bytes: Int)] = [:]
        for t in gguf.tensors {
            lines.append("  \(t.name) \(t.type.name) \(t.shape) \(t.byteCount) bytes")
            byType[t.type.name, default: (0, 0)].count += 1
            byType[t.type.name, default: (0, 0)].bytes += t.byteCount
        }
        let total = gguf.tensors.reduce(0) { $0 + $1.elementCount }
        lines.append("parameters: \(total)")
        for (type, s) in byType.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(type): \(s.count) tensors, \(s.bytes) bytes")
        }
        text = lines.joined(separator: "\n")
    }
}
