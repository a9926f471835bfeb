/// How RoPE pairs the dimensions of a head. Keys and queries are stored in this layout.
public enum RopeLayout: String, Sendable {
    /// llama.cpp's NORMAL mode: dimensions (2i, 2i+1) rotate together (the GGUF converter permuted Q/K rows for it).
    case adjacentPairs = "gguf_adjacent_pairs"
    /// llama.cpp's NEOX mode: dimensions (i, i + d/2) rotate together.
    case neoxHalves = "neox_halves"
}

/// What distinguishes one decoder family from another, as data: the forward pass reads it and has no
/// per-family branches. A new family is one new file that defines a value of this type and adds it to `all`.
public struct Architecture: Sendable {
    /// `general.architecture` in the GGUF file; also the prefix of its hyper-parameter keys.
    public let name: String
    public let ropeLayout: RopeLayout
    /// Whether the Q, K and V projections carry biases (`blk.N.attn_q.bias`, …).
    public let hasQKVBias: Bool
    /// RoPE base used when the file does not say.
    public let defaultRopeBase: Double

    public init(name: String, ropeLayout: RopeLayout, hasQKVBias: Bool, defaultRopeBase: Double = 10_000) {
        self.name = name
        self.ropeLayout = ropeLayout
        self.hasQKVBias = hasQKVBias
        self.defaultRopeBase = defaultRopeBase
    }

    /// Every family this runtime runs.
    public static let all: [Architecture] = [.llama, .qwen2]

    public static func named(_ name: String) -> Architecture? { all.first { $0.name == name } }
}
