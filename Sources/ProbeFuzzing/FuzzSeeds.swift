import Foundation
import Probe

/// The fuzzers' starting inputs, generated rather than stored: small valid GGUF models of both architectures,
/// both tokenizer kinds and several weight types, a file with one tensor of every supported type and metadata of
/// every value type, and a vocabulary-only file.
public enum FuzzSeeds {
    /// Every seed, named (the name is the file name `write(to:)` gives it).
    public static func all() -> [(name: String, bytes: [UInt8])] {
        func model(_ architecture: String, _ type: GGMLType, _ vocabulary: SyntheticVocabulary, layers: Int = 1) -> [UInt8] {
            var m = SyntheticModel()
            m.architecture = architecture
            m.matrixType = type
            m.vocabulary = vocabulary
            (m.layers, m.dModel, m.dFF, m.heads, m.kvHeads, m.context) = (layers, 32, 32, 4, 2, 64)
            return m.builder().bytes()
        }
        return [
            ("llama-q8_0-bpe.gguf", model("llama", .q8_0, .byteLevel(merges: SyntheticVocabulary.englishMerges))),
            ("qwen2-q4_0-bpe.gguf", model("qwen2", .q4_0, .byteLevel(merges: []))),
            ("llama-f16-spm.gguf", model("llama", .f16, .sentencePiece)),
            ("llama-q5_1-bpe-2layers.gguf", model("llama", .q5_1, .byteLevel(merges: ["h e", "l l"]), layers: 2)),
            ("types.gguf", everyType()),
            ("vocabulary-spm.gguf", vocabularyOnly(.sentencePiece)),
        ]
    }

    /// Writes `seeds` into `directory` (created when missing), one file each, for libFuzzer's corpus.
    public static func write(_ seeds: [(name: String, bytes: [UInt8])], to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for seed in seeds {
            try Data(seed.bytes).write(to: URL(fileURLWithPath: directory).appendingPathComponent("seed-" + seed.name))
        }
    }

    /// A GGUF holding only a vocabulary (no tensors).
    public static func vocabularyOnly(_ vocabulary: SyntheticVocabulary) -> [UInt8] {
        var b = GGUFBuilder()
        b.set("general.architecture", .string("llama"))
        vocabulary.write(into: &b)
        return b.bytes()
    }

    /// One `[256, 1]` tensor of each supported type (seeded bytes) and one metadata value of each type.
    static func everyType() -> [UInt8] {
        var rng = SplitMix64(seed: 11)
        var b = GGUFBuilder()
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        b.set("general.architecture", .string("llama"))
        b.set("test.u8", .raw(type: 0, payload: [200]))
        b.set("test.i8", .raw(type: 1, payload: [0x9C]))
        b.set("test.u16", .raw(type: 2, payload: le(UInt16(60000))))
        b.set("test.i16", .raw(type: 3, payload: le(Int16(-30000))))
        b.set("test.u32", .u32(4_000_000_000))
        b.set("test.i32", .i32(-2_000_000_000))
        b.set("test.f32", .f32(0.15625))
        b.set("test.bool", .bool(true))
        b.set("test.string", .string("héllo"))
        b.set("test.u64", .raw(type: 10, payload: le(UInt64.max - 58)))
        b.set("test.i64", .raw(type: 11, payload: le(Int64.min + 1)))
        b.set("test.f64", .raw(type: 12, payload: le(2.718281828459045.bitPattern)))
        b.set("test.strings", .strings(["alpha", "", "γάμμα"]))
        b.set("test.nested", .raw(type: 9, payload: le(UInt32(9)) + le(UInt64(1)) + le(UInt32(4)) + le(UInt64(2)) + le(UInt32(7)) + le(UInt32(8))))
        for type in GGMLType.allCases where type.isSupported {
            let count = type.byteCount(elements: 256)
            b.add("t.\(type.name)", shape: [256, 1], type: type, data: (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next() >> 56) })
        }
        return b.bytes()
    }
}
