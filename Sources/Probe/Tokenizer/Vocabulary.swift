/// A GGUF's tokenizer vocabulary as llama.cpp loads it (`llama_vocab::impl::load`): token texts and attributes,
/// BPE merges, special token ids, and the end-of-generation set, including llama.cpp's detection of special tokens
/// by their text.
struct Vocabulary: Sendable {
    /// llama.cpp's token attributes (`llama_token_attr`), from `tokenizer.ggml.token_type` plus its own fix-ups.
    struct Attributes: OptionSet, Sendable {
        let rawValue: UInt16
        static let unknown = Attributes(rawValue: 1 << 0)
        static let unused = Attributes(rawValue: 1 << 1)
        static let normal = Attributes(rawValue: 1 << 2)
        static let control = Attributes(rawValue: 1 << 3)
        static let userDefined = Attributes(rawValue: 1 << 4)
        static let byte = Attributes(rawValue: 1 << 5)
        /// Whitespace before the token in the text is dropped when it is cut out as a special token.
        static let lstrip = Attributes(rawValue: 1 << 7)
        /// Whitespace after the token is dropped likewise.
        static let rstrip = Attributes(rawValue: 1 << 8)

        /// From a GGUF token type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).
        init(tokenType: Int) {
            switch tokenType {
            case 1: self = .normal
            case 2: self = .unknown
            case 3: self = .control
            case 4: self = .userDefined
            case 5: self = .unused
            case 6: self = .byte
            default: self = []
            }
        }

        init(rawValue: UInt16) { self.rawValue = rawValue }
    }

    /// The ids llama.cpp gives special roles; nil where there is none.
    struct SpecialIDs: Sendable {
        var bos: Int?, eos: Int?, eot: Int?, eom: Int?, unk: Int?, sep: Int?, pad: Int?, mask: Int?
        var fimPre: Int?, fimSuf: Int?, fimMid: Int?, fimPad: Int?, fimRep: Int?, fimSep: Int?
    }

    let path: String
    /// `tokenizer.ggml.model`.
    let model: String
    /// Each token's text as the GGUF spells it (byte-level spelling for normal tokens), as UTF-8.
    let texts: [[UInt8]]
    let attributes: [Attributes]
    /// `tokenizer.ggml.scores` (SentencePiece merge priorities), 0 where absent.
    let scores: [Float]
    /// Token id by text (llama.cpp's `token_to_id`).
    let idOfText: [[UInt8]: Int]
    /// Merges in rank order, each as its two halves (UTF-8); a merge without a space has two empty halves.
    let merges: [([UInt8], [UInt8])]
    let special: SpecialIDs
    let addBOS: Bool
    let addEOS: Bool
    let endOfGeneration: Set<Int>

    var count: Int { texts.count }

    /// Reads the vocabulary; `defaultAddBOS` is the pre-tokenizer's default when the GGUF has no
    /// `tokenizer.ggml.add_bos_token`.
    init(gguf: GGUFFile, defaultAddBOS: Bool) throws {
        path = gguf.path
        model = try gguf.requireString("tokenizer.ggml.model")

        let tokenValues = try gguf.requireArray("tokenizer.ggml.tokens")
        guard !tokenValues.isEmpty else { throw GGUFError(path: gguf.path, "tokenizer.ggml.tokens is empty") }
        var texts: [[UInt8]] = []
        texts.reserveCapacity(tokenValues.count)
        for (i, v) in tokenValues.enumerated() {
            guard let s = v.stringValue else {
                throw GGUFError(path: gguf.path, "tokenizer.ggml.tokens[\(i)] is \(v.typeName), expected a string")
            }
            texts.append(s.isEmpty ? Array("[EMPTY_\(i)]".utf8) : Array(s.utf8))
        }
        let n = texts.count

        var attributes = [Attributes](repeating: .normal, count: n)
        if let typeValues = gguf.metadata["tokenizer.ggml.token_type"] {
            guard let types = typeValues.arrayValue else {
                throw GGUFError(path: gguf.path, "tokenizer.ggml.token_type is \(typeValues.typeName), expected an array")
            }
            guard types.count == n else {
                throw GGUFError(path: gguf.path, "tokenizer.ggml.token_type has \(types.count) entries for \(n) tokens")
            }
            for i in 0..<n {
                guard let type = types[i].intValue else {
                    throw GGUFError(path: gguf.path, "tokenizer.ggml.token_type[\(i)] is \(types[i].typeName), expected an integer")
                }
                attributes[i] = Attributes(tokenType: type)
            }
        }

        var scores = [Float](repeating: 0, count: n)
        if let scoreValues = gguf.metadata["tokenizer.ggml.scores"] {
            guard let list = scoreValues.arrayValue, list.count == n else {
                throw GGUFError(path: gguf.path, "tokenizer.ggml.scores is \(scoreValues.typeName), expected \(n) numbers")
            }
            for i in 0..<n {
                guard let score = list[i].doubleValue else {
                    throw GGUFError(path: gguf.path, "tokenizer.ggml.scores[\(i)] is \(list[i].typeName), expected a number")
                }
                scores[i] = Float(score)
            }
        }

        var idOfText: [[UInt8]: Int] = [:]
        idOfText.reserveCapacity(n)
        for (i, t) in texts.enumerated() { idOfText[t] = i }

        var merges: [([UInt8], [UInt8])] = []
        if model == "gpt2" {
            guard let mergeValues = gguf.metadata["tokenizer.ggml.merges"] else {
                throw GGUFError(path: gguf.path, "missing tokenizer.ggml.merges (a BPE vocabulary needs its merges)")
            }
            guard let list = mergeValues.arrayValue else {
                throw GGUFError(path: gguf.path, "tokenizer.ggml.merges is \(mergeValues.typeName), expected an array")
            }
            merges.reserveCapacity(list.count)
            for (i, v) in list.enumerated() {
                guard let merge = v.stringValue else {
                    throw GGUFError(path: gguf.path, "tokenizer.ggml.merges[\(i)] is \(v.typeName), expected a string")
                }
                let bytes = Array(merge.utf8)
                // llama.cpp splits at the first space after the first byte.
                if bytes.count > 1, let space = bytes[1...].firstIndex(of: 0x20) {
                    merges.append((Array(bytes[..<space]), Array(bytes[(space + 1)...])))
                } else {
                    merges.append(([], []))
                }
            }
        }

        // Special ids: llama.cpp's defaults for BPE vocabularies (11), overridden by the GGUF keys in range.
        func id(_ key: String, default def: Int?) -> Int? {
            var value = def.flatMap { $0 < n ? $0 : nil }
            if let v = gguf.int(key), v >= 0, v < n { value = v }
            return value
        }
        let bpeDefault: Int? = model == "gpt2" ? 11 : nil
        var sp = SpecialIDs()
        sp.bos = id("tokenizer.ggml.bos_token_id", default: model == "llama" ? 1 : bpeDefault)
        sp.eos = id("tokenizer.ggml.eos_token_id", default: model == "llama" ? 2 : bpeDefault)
        sp.eot = id("tokenizer.ggml.eot_token_id", default: nil)
        sp.eom = id("tokenizer.ggml.eom_token_id", default: nil)
        sp.unk = id("tokenizer.ggml.unknown_token_id", default: model == "llama" ? 0 : nil)
        sp.sep = id("tokenizer.ggml.seperator_token_id", default: nil)
        sp.pad = id("tokenizer.ggml.padding_token_id", default: nil)
        sp.mask = id("tokenizer.ggml.mask_token_id", default: nil)
        sp.fimPre = id("tokenizer.ggml.fim_pre_token_id", default: nil) ?? id("tokenizer.ggml.prefix_token_id", default: nil)
        sp.fimSuf = id("tokenizer.ggml.fim_suf_token_id", default: nil) ?? id("tokenizer.ggml.suffix_token_id", default: nil)
        sp.fimMid = id("tokenizer.ggml.fim_mid_token_id", default: nil) ?? id("tokenizer.ggml.middle_token_id", default: nil)
        sp.fimPad = id("tokenizer.ggml.fim_pad_token_id", default: nil)
        sp.fimRep = id("tokenizer.ggml.fim_rep_token_id", default: nil)
        sp.fimSep = id("tokenizer.ggml.fim_sep_token_id", default: nil)

        addBOS = gguf.metadata["tokenizer.ggml.add_bos_token"]?.intValue.map { $0 != 0 } ?? defaultAddBOS
        addEOS = gguf.metadata["tokenizer.ggml.add_eos_token"]?.intValue.map { $0 != 0 } ?? false

        // Special tokens recognised by their text, when the GGUF does not name them; each becomes a control token.
        // (llama.cpp walks a hash map, so where several texts qualify its pick is arbitrary; here: the lowest id.)
        func detect(_ slot: WritableKeyPath<SpecialIDs, Int?>, _ candidates: [String]) {
            guard sp[keyPath: slot] == nil else { return }
            let wanted = Set(candidates.map { Array($0.utf8) })
            for i in 0..<n where wanted.contains(texts[i]) {
                sp[keyPath: slot] = i
                attributes[i].insert(.control)
                return
            }
        }
        detect(\.eot, ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
                       "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"])
        detect(\.eom, ["<|eom_id|>"])
        detect(\.fimPre, ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
                          "<|code_prefix|>", "<|prefix|>"])
        detect(\.fimSuf, ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
                          "<|code_suffix|>", "<|suffix|>"])
        detect(\.fimMid, ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
                          "<|code_middle|>", "<|middle|>"])
        detect(\.fimPad, ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"])
        detect(\.fimRep, ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"])
        detect(\.fimSep, ["<|file_sep|>"])

        // Control tokens whose text says "unused" are unused.
        let unusedMarker = Array("unused".utf8)
        for i in 0..<n where attributes[i].contains(.control) && contains(texts[i], unusedMarker) {
            attributes[i].insert(.unused)
        }

        // End of generation: FIM pad/repo/sep, tokens with end-of-turn texts, and eos/eot/eom.
        var eog = Set<Int>()
        for slot in [sp.fimPad, sp.fimRep, sp.fimSep] { if let s = slot { eog.insert(s) } }
        let eogTexts = Set([
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
            "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
            "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
        ].map { Array($0.utf8) })
        for i in 0..<n where eogTexts.contains(texts[i]) {
            eog.insert(i)
            attributes[i].insert(.control)
        }
        // gpt-oss: these are always rendered.
        for t in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let i = idOfText[Array(t.utf8)] { attributes[i] = .userDefined }
        }
        for slot in [sp.eos, sp.eot, sp.eom] { if let s = slot { eog.insert(s) } }
        // o200k_harmony / solar-open: "<|end|>" is not the end of generation when "<|return|>"/"<|call|>" exist.
        func eogHas(_ t: String) -> Bool { eog.contains { texts[$0] == Array(t.utf8) } }
        if eogHas("<|end|>") && ((eogHas("<|return|>") && eogHas("<|call|>")) || (eogHas("<|calls|>") && eogHas("<|flush|>")) ||
                                  (eogHas("<|return|>") && eogHas("<|calls|>")) || (eogHas("<|call|>") && eogHas("<|flush|>"))) {
            if let end = idOfText[Array("<|end|>".utf8)] {
                eog.remove(end)
                attributes[end] = .userDefined
            }
        }
        // gemma4 / plamo: "</s>" is a normal token there.
        if eogHas("<|tool_response>") || eogHas("<|plamo:eos|>"), let s = idOfText[Array("</s>".utf8)], eog.contains(s) {
            eog.remove(s)
            attributes[s] = .normal
        }

        // Per-model attributes llama.cpp sets by name (the GGUF has no field for them).
        let modelName = (gguf.string("general.name") ?? "").lowercased()
        let architecture = gguf.string("general.architecture") ?? ""
        let preName = gguf.string("tokenizer.ggml.pre") ?? ""
        func set(_ text: String, _ attr: Attributes, _ on: Bool) {
            guard let i = idOfText[Array(text.utf8)] else { return }
            if on { attributes[i].insert(attr) } else { attributes[i].remove(attr) }
        }
        if ["jina-v2-de", "jina-v2-es", "jina-v2-code"].contains(where: { preName.contains($0) })
            || ["nomic-bert-moe", "jina-bert-v3"].contains(where: { architecture.contains($0) }) {
            set("<mask>", .lstrip, true)
        } else if modelName.contains("phi-3") || modelName.contains("phi3") {
            for i in 0..<n where !attributes[i].isDisjoint(with: [.control, .userDefined, .unknown]) {
                attributes[i].insert(.rstrip)
            }
            set("</s>", .rstrip, true)
            for t in ["<unk>", "<s>", "<|endoftext|>"] { set(t, .rstrip, false) }
        } else if modelName.contains("modern-bert") {
            set("[MASK]", .lstrip, true)
        }

        self.texts = texts
        self.attributes = attributes
        self.scores = scores
        self.idOfText = idOfText
        self.merges = merges
        self.special = sp
        self.endOfGeneration = eog
    }

    /// llama.cpp's special-token cache: control, user-defined and unknown tokens, longest text first (ties: lower id).
    func specialTokensLongestFirst() -> [Int] {
        (0..<count)
            .filter { !attributes[$0].isDisjoint(with: [.control, .userDefined, .unknown]) }
            .sorted { texts[$0].count != texts[$1].count ? texts[$0].count > texts[$1].count : $0 < $1 }
    }
}

/// Whether `needle` occurs in `haystack` as a contiguous run.
private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty else { return true }
    guard needle.count <= haystack.count else { return false }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
    }
    return false
}
