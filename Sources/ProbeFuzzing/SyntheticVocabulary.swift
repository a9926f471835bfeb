/// A synthetic tokenizer vocabulary written as GGUF metadata: byte-level BPE (all 256 byte tokens in GPT-2's
/// spelling, optional merges, three control tokens) or SentencePiece (`<unk>`, `<s>`, `</s>`, 256 byte tokens,
/// scored pieces). Every byte has a token, so any text encodes and decodes back.
public enum SyntheticVocabulary: Sendable {
    /// `merges` in GGUF's spelling ("h e"); each merge's result is a token after the byte tokens.
    case byteLevel(merges: [String])
    case sentencePiece

    public static let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

    /// A few English merges (byte-level spelling: "Ġ" is a space).
    public static let englishMerges = ["t h", "Ġ t", "Ġt h", "h e", "Ġth e", "i n", "e r", "a n", "o n", "r e", "Ġ a",
                                       "Ġ s", "Ġ w", "l l", "he ll", "hell o", "Ġ o", "o r", "e n", "i s"]

    /// SentencePiece pieces and their scores.
    static let pieces: [(String, Float)] = [("▁", -1), ("h", -2), ("e", -2), ("l", -2), ("o", -2), ("▁h", -3), ("he", -1),
                                            ("ll", -1.5), ("hell", -1), ("hello", -0.5), ("▁hello", -0.1), ("▁the", -0.2),
                                            ("▁t", -2.5), ("th", -2), ("the", -1)]

    /// GPT-2's byte-to-character map: printable bytes stand for themselves, the others for U+0100 onwards.
    public static func byteTokens() -> [String] {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var chars = printable
        var extra = 0
        for b in 0..<256 where !printable.contains(b) {
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
        }
        var byByte = [String](repeating: "", count: 256)
        for (b, c) in zip(printable, chars) { byByte[b] = String(UnicodeScalar(UInt32(c))!) }
        return byByte
    }

    /// Tokens in the vocabulary.
    public var count: Int {
        switch self {
        case .byteLevel(let merges): return 256 + merges.count + Self.specials.count
        case .sentencePiece: return 3 + 256 + Self.pieces.count
        }
    }

    /// Sets the `tokenizer.ggml.*` keys.
    public func write(into b: inout GGUFBuilder) {
        switch self {
        case .byteLevel(let merges):
            let merged = merges.map { $0.split(separator: " ").joined() }
            let normal = 256 + merged.count
            b.set("tokenizer.ggml.model", .string("gpt2"))
            b.set("tokenizer.ggml.pre", .string("smollm"))
            b.set("tokenizer.ggml.tokens", .strings(Self.byteTokens() + merged + Self.specials))
            b.set("tokenizer.ggml.token_type", .i32s(Array(repeating: 1, count: normal) + Array(repeating: 3, count: Self.specials.count)))
            b.set("tokenizer.ggml.merges", .strings(merges))
            b.set("tokenizer.ggml.bos_token_id", .u32(UInt32(normal)))
            b.set("tokenizer.ggml.eos_token_id", .u32(UInt32(normal + 2)))
            b.set("tokenizer.ggml.add_bos_token", .bool(false))
            b.set("tokenizer.chat_template", .string("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"))
        case .sentencePiece:
            let hex = Array("0123456789ABCDEF")
            let bytes = (0..<256).map { "<0x\(hex[$0 >> 4])\(hex[$0 & 15])>" }
            b.set("tokenizer.ggml.model", .string("llama"))
            b.set("tokenizer.ggml.tokens", .strings(["<unk>", "<s>", "</s>"] + bytes + Self.pieces.map(\.0)))
            b.set("tokenizer.ggml.scores", .f32s([0, 0, 0] + Array(repeating: 0, count: 256) + Self.pieces.map(\.1)))
            b.set("tokenizer.ggml.token_type", .i32s([2, 3, 3] + Array(repeating: 6, count: 256) + Array(repeating: 1, count: Self.pieces.count)))
            b.set("tokenizer.ggml.bos_token_id", .u32(1))
            b.set("tokenizer.ggml.eos_token_id", .u32(2))
        }
    }
}
