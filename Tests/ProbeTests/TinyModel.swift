import Foundation
@testable import Probe
import ProbeFuzzing

/// A tiny synthetic Llama-architecture model (seeded random weights, a byte-level vocabulary) written as
/// GGUF, so runtime tests run in milliseconds in any build mode. The model itself is ProbeFuzzing's
/// `SyntheticModel` with these dimensions (the fuzzers' seeds are smaller variants of it).
enum TinyModel {
    static let layers = 2, dModel = 32, dFF = 64, heads = 4, kvHeads = 2, context = 96
    static var dHead: Int { dModel / heads }

    /// GPT-2's byte-to-character map, written out independently of the tokenizer under test.
    static func byteTokens() -> [String] { SyntheticVocabulary.byteTokens() }

    static let specials = SyntheticVocabulary.specials

    /// The builder holding the whole model; tests mutate it to make bad files.
    static func builder(architecture: String = "llama", seed: UInt64 = 7) -> GGUFBuilder {
        var model = SyntheticModel()
        model.architecture = architecture
        model.seed = seed
        (model.layers, model.dModel, model.dFF, model.heads, model.kvHeads, model.context) = (layers, dModel, dFF, heads, kvHeads, context)
        return model.builder()
    }

    /// Writes the model to a temporary file and loads it.
    static func load(architecture: String = "llama") throws -> LanguageModel {
        let url = try TestPaths.temporaryDirectory().appendingPathComponent("tiny-\(architecture).gguf")
        try builder(architecture: architecture).write(to: url)
        return try LanguageModel(path: url.path)
    }
}

/// The tests' seeded generator: Probe's SplitMix64, plus uniform floats for synthetic weights.
typealias SeededGenerator = SplitMix64

extension SplitMix64 {
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
