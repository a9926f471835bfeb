/// The tokenizer of a GGUF model, token for token what llama.cpp produces: byte-level BPE
/// (`tokenizer.ggml.model` "gpt2") with the pre-tokenizer `tokenizer.ggml.pre` names, or SentencePiece-style
/// ("llama"); special tokens written in the text recognised; llama.cpp's end-of-generation set.
public final class Tokenizer: Sendable {
    /// The GGUF file the vocabulary came from.
    public let path: String
    /// `tokenizer.ggml.model`.
    public let model: String
    /// `tokenizer.ggml.pre` (byte-level BPE only).
    public let preTokenizerName: String?

    enum Encoder: Sendable {
        case bytePair(PreTokenizer, BytePairEncoder)
        /// `addSpacePrefix`: `tokenizer.ggml.add_space_prefix` (default true).
        case sentencePiece(SentencePieceEncoder, addSpacePrefix: Bool)
    }

    let vocabulary: Vocabulary
    let encoder: Encoder
    let specials: SpecialTokenSplitter
    /// The bytes each token stands for (special tokens: their text).
    let pieces: [[UInt8]]

    /// Reads the vocabulary of `gguf`; throws a `GGUFError` naming the file when the tokenizer model or
    /// pre-tokenizer is not supported or the vocabulary is missing or malformed.
    public init(gguf: GGUFFile) throws {
        path = gguf.path
        guard let model = gguf.string("tokenizer.ggml.model") else {
            throw GGUFError(path: gguf.path, gguf.metadata["tokenizer.ggml.model"] == nil
                            ? "missing tokenizer.ggml.model: the file has no tokenizer"
                            : "tokenizer.ggml.model is not a string")
        }
        self.model = model
        switch model {
        case "gpt2":
            let preName = gguf.string("tokenizer.ggml.pre") ?? "default"
            guard let pre = PreTokenizer(name: preName) else {
                throw GGUFError(path: gguf.path, "unsupported tokenizer.ggml.pre \(GGUFError.quote(preName)) (supported: "
                                + PreTokenizer.supportedNames.map { "'\($0)'" }.joined(separator: ", ") + ")")
            }
            preTokenizerName = preName
            vocabulary = try Vocabulary(gguf: gguf, defaultAddBOS: pre.addsBOSByDefault)
            encoder = .bytePair(pre, BytePairEncoder(texts: vocabulary.texts, idOfText: vocabulary.idOfText,
                                                     merges: vocabulary.merges, ignoresMerges: pre.ignoresMerges))
        case "llama":
            preTokenizerName = nil
            vocabulary = try Vocabulary(gguf: gguf, defaultAddBOS: true)
            let prefix = gguf.metadata["tokenizer.ggml.add_space_prefix"]?.intValue.map { $0 != 0 } ?? true
            encoder = .sentencePiece(SentencePieceEncoder(vocabulary: vocabulary, scores: vocabulary.scores),
                                     addSpacePrefix: prefix)
        default:
            throw GGUFError(path: gguf.path, "unsupported tokenizer.ggml.model \(GGUFError.quote(model)) "
                            + "(supported: 'gpt2', byte-level BPE; 'llama', SentencePiece)")
        }
        specials = SpecialTokenSplitter(vocabulary: vocabulary)
        let vocabulary = self.vocabulary
        let byteLevel = model == "gpt2"
        pieces = (0..<vocabulary.count).map { id in
            let attr = vocabulary.attributes[id]
            let text = vocabulary.texts[id]
            if !attr.isDisjoint(with: [.unknown, .control, .userDefined]) { return text }
            if attr.contains(.normal) {
                return byteLevel ? ByteLevelEncoding.decode(String(decoding: text, as: UTF8.self))
                                 : SentencePieceEncoder.unescape(text)
            }
            if attr.contains(.byte) {  // "<0xXX>"
                guard text.count == 6, let b = UInt8(String(decoding: text[3..<5], as: UTF8.self), radix: 16) else { return [] }
                return [b]
            }
            return []
        }
    }

    /// Convenience: opens the GGUF at `path` and reads its tokenizer.
    public convenience init(path: String) throws {
        try self.init(gguf: try GGUFFile(path: path))
    }

    public var vocabularySize: Int { vocabulary.count }
    public var bosID: Int? { vocabulary.special.bos }
    public var eosID: Int? { vocabulary.special.eos }
    /// The end-of-turn token llama.cpp identifies (from `tokenizer.ggml.eot_token_id` or by its text).
    public var eotID: Int? { vocabulary.special.eot }
    /// Whether prompts start with BOS (`tokenizer.ggml.add_bos_token`, else the pre-tokenizer's default).
    /// `encode` never adds it; callers prepend `bosID` when this is true.
    public var addsBOS: Bool { vocabulary.addBOS }
    /// Tokens that end generation, as llama.cpp's `llama_vocab_is_eog` decides: eos, eot, eom, FIM pad/repo/sep,
    /// and tokens whose text marks an end of turn or text (`<|im_end|>`, `<|endoftext|>`, `<|eot_id|>`, `<|end|>` …).
    public var endOfGenerationIDs: Set<Int> { vocabulary.endOfGeneration }

    public func isEndOfGeneration(_ id: Int) -> Bool { vocabulary.endOfGeneration.contains(id) }

    /// Whether the token is a control, user-defined or unknown token (one that `encode` recognises in text).
    public func isSpecial(_ id: Int) -> Bool {
        id >= 0 && id < vocabulary.count && !vocabulary.attributes[id].isDisjoint(with: [.control, .userDefined, .unknown])
    }

    /// Token ids of `text`, without BOS. With `parseSpecial`, the text of control and user-defined tokens
    /// (`<|im_start|>` …) becomes those tokens; without it, only user-defined ones do (as in llama.cpp).
    public func encode(_ text: String, parseSpecial: Bool = true) -> [Int] {
        let bytes = Array(text.utf8)
        var output: [Int] = []
        output.reserveCapacity(bytes.count / 3 + 1)
        var previousIsSpecial = true
        for fragment in specials.split(bytes, parseSpecial: parseSpecial) {
            switch (fragment, encoder) {
            case (.token(let id), _):
                output.append(id)
                previousIsSpecial = true
            case (.text(let range), .bytePair(let pre, let bpe)):
                encodeRaw(bytes[range], pre: pre, bpe: bpe, into: &output)
            case (.text(let range), .sentencePiece(let spm, let addSpacePrefix)):
                spm.encode(SentencePieceEncoder.escape(bytes[range], prefixSpace: addSpacePrefix && previousIsSpecial),
                           into: &output)
                previousIsSpecial = false
            }
        }
        return output
    }

    /// Pre-tokenizes and merges text that holds no special tokens (valid UTF-8).
    private func encodeRaw(_ bytes: ArraySlice<UInt8>, pre: PreTokenizer, bpe: BytePairEncoder, into output: inout [Int]) {
        var scalars: [UInt32] = []
        var offsets: [Int] = []  // byte offset of each scalar, then the end
        scalars.reserveCapacity(bytes.count)
        offsets.reserveCapacity(bytes.count + 1)
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var offset = bytes.startIndex
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let s):
                scalars.append(s.value)
                offsets.append(offset)
                offset += UTF8.width(s)
            case .emptyInput:
                break loop
            case .error:
                // Not reachable for a Swift String; llama.cpp reads an invalid byte as U+FFFD.
                scalars.append(0xFFFD)
                offsets.append(offset)
                offset += 1
            }
        }
        offsets.append(offset)
        for word in pre.split(scalars) {
            bpe.encode(word: bytes[offsets[word.lowerBound]..<offsets[word.upperBound]], into: &output)
        }
    }

    /// The text of `ids`: their bytes concatenated, read as UTF-8 (invalid sequences, e.g. a character cut between
    /// two calls, become U+FFFD). Special tokens give their text; out-of-range ids give nothing. As llama.cpp's
    /// detokenizer, a SentencePiece vocabulary that prefixes a space drops one leading space of the first token.
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        var stripSpace: Bool
        if case .sentencePiece(_, let prefix) = encoder { stripSpace = prefix } else { stripSpace = false }
        for id in ids where id >= 0 && id < pieces.count {
            let piece = pieces[id]
            if stripSpace, piece.first == 0x20 { bytes.append(contentsOf: piece.dropFirst()) } else { bytes.append(contentsOf: piece) }
            stripSpace = false
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The raw bytes of one token (a special token: its text; an unused token: none).
    public func pieceBytes(_ id: Int) -> [UInt8] {
        id >= 0 && id < pieces.count ? pieces[id] : []
    }

    /// One token's bytes as a string (lossy where the token is part of a multi-byte character).
    public func piece(_ id: Int) -> String {
        String(decoding: pieceBytes(id), as: UTF8.self)
    }

    /// The token whose piece is exactly `text` (" the", "<|im_end|>", "\n"), or nil.
    public func tokenID(of text: String) -> Int? {
        let bytes = Array(text.utf8)
        let spelled = model == "gpt2" ? ByteLevelEncoding.encode(bytes) : SentencePieceEncoder.escape(bytes[...], prefixSpace: false)
        for candidate in [vocabulary.idOfText[spelled], vocabulary.idOfText[bytes]] {
            if let id = candidate, pieces[id] == bytes { return id }
        }
        return nil
    }

    /// The vocabulary's spelling of a token (byte-level for normal tokens, e.g. "Ġthe").
    public func tokenText(_ id: Int) -> String? {
        id >= 0 && id < vocabulary.count ? String(decoding: vocabulary.texts[id], as: UTF8.self) : nil
    }
}
