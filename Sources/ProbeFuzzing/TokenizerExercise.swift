import Probe

/// What the fuzzing targets do with a tokenizer they could build: encode a text with and without special
/// tokens, decode it back, look up pieces, and check the ids. A broken invariant stops the program (that is
/// the fuzzer's crash).
enum TokenizerExercise {
    /// Texts the GGUF target encodes with any tokenizer it reads.
    static let texts = ["Hello, world! The cat sat on the mat.", "<|im_start|>user\nhi<|im_end|>\n", "é€😀 \t\n  x",
                        "<s> </s> <unk> [PAD]"]

    /// Encodes and decodes `text`; returns the ids of the encoding with special tokens.
    @discardableResult
    static func run(_ tokenizer: Tokenizer, text: String) -> [Int] {
        let n = tokenizer.vocabularySize
        var withSpecials: [Int] = []
        for parseSpecial in [true, false] {
            let ids = tokenizer.encode(text, parseSpecial: parseSpecial)
            guard ids.allSatisfy({ $0 >= 0 && $0 < n }) else {
                fatalError("\(tokenizer.path): encode gave an id outside 0..<\(n): \(ids)")
            }
            _ = tokenizer.decode(ids)
            for id in ids.prefix(16) {
                _ = tokenizer.pieceBytes(id)
                _ = tokenizer.tokenText(id)
                _ = tokenizer.isSpecial(id)
            }
            if parseSpecial { withSpecials = ids }
        }
        _ = tokenizer.decode([-1, n, Int.max, Int.min])
        _ = tokenizer.tokenID(of: String(text.prefix(3)))
        for id in [tokenizer.bosID, tokenizer.eosID, tokenizer.eotID].compactMap({ $0 }) {
            guard id >= 0 && id < n else { fatalError("\(tokenizer.path): special id \(id) outside 0..<\(n)") }
        }
        return withSpecials
    }
}
