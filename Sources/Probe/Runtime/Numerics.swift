/// How the forward pass rounds.
public enum Numerics: String, Sendable, CaseIterable {
    /// As llama.cpp computes on CPU: activations quantized to 8 bits per 32-block before each product with a
    /// quantized weight, keys, values, queries and attention probabilities rounded to float16. The default:
    /// the runtime then tracks llama.cpp.
    case llamaCpp = "llama-cpp"
    /// Weights dequantized to float32, activations and cache in float32: the arithmetic of a PyTorch
    /// analysis on dequantized weights. Slower decoding (weights are expanded on the fly).
    case float32
}
