import Probe

/// The tokenizer's fuzzing target: the first byte of an input picks one of three synthetic vocabularies
/// (byte-level BPE with and without merges, SentencePiece), the rest is the text (invalid UTF-8 read as U+FFFD).
/// Besides not crashing, every id must be in the vocabulary and, since every byte has a token and the control
/// tokens stay text without `parseSpecial`, decoding the encoding must give back the text byte for byte.
public enum TokenizerFuzzTarget {
    static let tokenizers: [Tokenizer] = [
        SyntheticVocabulary.byteLevel(merges: SyntheticVocabulary.englishMerges),
        SyntheticVocabulary.byteLevel(merges: []),
        SyntheticVocabulary.sentencePiece,
    ].enumerated().map { i, vocabulary in
        do {
            return try Tokenizer(gguf: try GGUFFile(bytes: FuzzSeeds.vocabularyOnly(vocabulary), name: "vocabulary-\(i).gguf"))
        } catch { fatalError("synthetic vocabulary \(i): \(error)") }
    }

    /// Seeds: sample texts for each vocabulary.
    public static func seeds() -> [[UInt8]] {
        (0..<tokenizers.count).flatMap { i in TokenizerExercise.texts.map { [UInt8(i)] + Array($0.utf8) } }
    }

    public static func run(_ bytes: UnsafeRawBufferPointer) {
        guard let selector = bytes.first else { return }
        let tokenizer = tokenizers[Int(selector) % tokenizers.count]
        let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
        TokenizerExercise.run(tokenizer, text: text)
        let decoded = tokenizer.decode(tokenizer.encode(text, parseSpecial: false))
        guard Array(decoded.utf8) == Array(text.utf8) else {
            fatalError("\(tokenizer.path) (\(tokenizer.model)): \(text.debugDescription) decodes back as \(decoded.debugDescription)")
        }
    }
}
