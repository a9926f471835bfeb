extension Architecture {
    /// Qwen2 (Qwen2.5): the Llama block plus Q/K/V biases, with RoPE in NEOX mode.
    public static let qwen2 = Architecture(name: "qwen2", ropeLayout: .neoxHalves, hasQKVBias: true, defaultRopeBase: 1_000_000)
}
