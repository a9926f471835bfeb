import ArgumentParser
import Foundation
import Probe

/// `--model` and `--threads`, shared by every command that runs a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "Catalogue name (\(ModelCatalogue.entries.map(\.name).joined(separator: ", "))) or path to a GGUF file.")
    var model: String?

    @Option(help: "Threads for the numeric kernels.")
    var threads: Int = 2

    @Option(help: "Arithmetic: llama-cpp (8-bit activations, float16 K/V, as llama.cpp; the default) or float32 (dequantized weights, as a PyTorch analysis).")
    var numerics: Numerics?

    @OptionGroup var cacheOptions: CacheOptions

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        // The rule is KVType's; checked here too so that a refusal comes before the model loads.
        if let kvType = cacheOptions.kvType, let numerics {
            do { try kvType.check(for: numerics) } catch { throw ValidationError("\(error)") }
        }
    }

    /// Loads the model after setting the thread count and the SIMD tier (`DAPQ_PROBE_SIMD`, when set).
    func load() throws -> LanguageModel {
        ComputeThreads.set(threads)
        try SIMDTier.applyEnvironment()
        let loaded = try LanguageModel(path: try ModelCatalogue.resolve(model))
        loaded.numerics = numerics ?? .llamaCpp
        try cacheOptions.apply(to: loaded)
        return loaded
    }
}

/// `--seed`, shared by every command that draws at random.
struct SeedOptions: ParsableArguments {
    @Option(help: "Seed of every random choice: the random policy, random pseudo content, and in ruler the samples.")
    var seed: UInt64 = 0
}

/// `--kv-type`, for every command that builds KV caches (through `ModelOptions`).
struct CacheOptions: ParsableArguments {
    @Option(help: "KV cache storage: f16 (2 bytes a value; the default under llama-cpp numerics, which round keys and values to half anyway) or f32 (4 bytes; the default, and the only one allowed, under float32 numerics). The results are identical; f16 holds half the memory.")
    var kvType: KVType?

    /// Makes `model`'s caches use `--kv-type` (after its numerics are set); f16 under float32 numerics is an error.
    func apply(to model: LanguageModel) throws {
        if let kvType { try kvType.check(for: model.numerics) }
        model.kvType = kvType
    }
}

/// `--prompt`/`--prompt-file` and `--chat`.
struct PromptOptions: ParsableArguments {
    @Option(help: "The prompt text.")
    var prompt: String?

    @Option(help: "A file holding the prompt text (UTF-8).")
    var promptFile: String?

    @Flag(help: "Wrap the prompt as a user message in the model's chat template.")
    var chat = false

    func validate() throws {
        guard (prompt == nil) != (promptFile == nil) else {
            throw ValidationError("give exactly one of --prompt and --prompt-file")
        }
    }

    /// The prompt's token ids for `model`.
    func tokens(for model: LanguageModel) throws -> [Int] {
        try PromptBuilder(model: model).tokens(text: try text(), chat: chat)
    }

    func text() throws -> String {
        if let prompt { return prompt }
        let path = promptFile!
        guard let data = FileManager.default.contents(atPath: path) else { throw ProbeError("\(path): cannot read the prompt file") }
        guard let s = String(data: data, encoding: .utf8) else { throw ProbeError("\(path): the prompt file is not UTF-8") }
        return s
    }
}

extension Numerics: ExpressibleByArgument {}
extension KVType: ExpressibleByArgument {}
