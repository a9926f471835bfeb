extension Architecture {
    /// Llama (SmolLM2 and others): RMSNorm, RoPE in NORMAL mode, GQA, SwiGLU, no projection biases,
    /// output tied to the token embedding when `output.weight` is absent.
    public static let llama = Architecture(name: "llama", ropeLayout: .adjacentPairs, hasQKVBias: false)
}
