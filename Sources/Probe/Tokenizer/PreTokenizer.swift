/// How a byte-level BPE vocabulary cuts text into words before merging, chosen by `tokenizer.ggml.pre`, as
/// llama.cpp does it (`llm_tokenizer_bpe` and `unicode_regex_split`).
///
/// A pre-tokenizer is a sequence of stages; each stage cuts every fragment the previous one left, and never looks
/// across a fragment's ends (llama.cpp's regex lookaheads and its hand-written matchers see only the fragment).
/// The three large patterns are llama.cpp's hand-written matchers, ported one for one, not the regexes they stand
/// for: where the two differ (e.g. `\s+(?!\S)` before a fragment's end), llama.cpp's behaviour is the one kept.
struct PreTokenizer: Sendable {
    enum Stage: Sendable, Equatable {
        /// `\p{N}`: every number code point alone; the runs between are fragments too.
        case isolateEachNumber
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)` (llama.cpp's custom gpt2 matcher).
        case gpt2
        /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
        case llama3
        /// As `llama3` with `\p{N}` (one digit) in place of `\p{N}{1,3}`.
        case qwen2
        /// `[\p{P}\$\+<=>\^~\|]+` (the `default` pre-tokenizer's first stage).
        case punctuationRuns
        /// `\p{N}+`
        case numberRuns
        /// `[0-9][0-9][0-9]`
        case asciiDigitTriples
    }

    /// The `tokenizer.ggml.pre` value.
    let name: String
    let stages: [Stage]
    /// llama.cpp's `ignore_merges`: a word that is itself a token is taken whole, without merging.
    let ignoresMerges: Bool
    /// Whether a BOS token is added when the GGUF does not say (`tokenizer.ggml.add_bos_token`).
    let addsBOSByDefault: Bool

    /// The pre-tokenizer names supported, grouped as llama.cpp groups them.
    static let supportedNames: [String] = [
        "default", "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2",
        "gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais", "exaone4", "trillion", "granite-docling",
        "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "dbrx", "smaug-bpe",
        "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan", "solar-open", "grok-2",
    ]

    init?(name: String) {
        self.name = name
        var ignoresMerges = false
        var addsBOS = false
        switch name {
        case "default", "":
            stages = [.punctuationRuns, .gpt2, .numberRuns, .asciiDigitTriples]
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2":
            stages = [.isolateEachNumber, .gpt2]
        // "gpt2" is not a name llama.cpp knows ("gpt-2" is); accepted as the same thing.
        case "gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais", "exaone4", "trillion", "granite-docling":
            stages = [.gpt2]
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
            stages = [.llama3]
            ignoresMerges = true
            addsBOS = true
        case "dbrx", "smaug-bpe":
            stages = [.llama3]
        case "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan", "solar-open", "grok-2":
            stages = [.qwen2]
        default:
            return nil
        }
        self.ignoresMerges = ignoresMerges
        self.addsBOSByDefault = addsBOS
    }

    /// Cuts code points into words: ranges of indices into `scalars`, in order, covering all of it.
    func split(_ scalars: [UInt32]) -> [Range<Int>] {
        if scalars.isEmpty { return [] }
        let classes = scalars.map { CodepointClass.of($0).rawValue }
        var fragments = [0..<scalars.count]
        scalars.withUnsafeBufferPointer { cp in
            classes.withUnsafeBufferPointer { cl in
                for stage in stages {
                    var out: [Range<Int>] = []
                    out.reserveCapacity(max(16, scalars.count / 3))
                    for fragment in fragments {
                        let m = Matcher(cp: cp, cl: cl, lo: fragment.lowerBound, hi: fragment.upperBound)
                        switch stage {
                        case .gpt2: m.gpt2(into: &out)
                        case .llama3: m.llama3(digitRun: 3, into: &out)
                        case .qwen2: m.llama3(digitRun: 1, into: &out)
                        case .isolateEachNumber: m.matchesAndGaps(into: &out) { m.cl[$0] & CodepointClass.number.rawValue != 0 ? 1 : 0 }
                        case .numberRuns: m.matchesAndGaps(into: &out) { m.run(from: $0) { m.cl[$0] & CodepointClass.number.rawValue != 0 } }
                        case .punctuationRuns: m.matchesAndGaps(into: &out) { m.run(from: $0, while: m.isPunctuationOrListedSymbol) }
                        case .asciiDigitTriples:
                            m.matchesAndGaps(into: &out) { i in
                                i + 3 <= m.hi && (i..<i + 3).allSatisfy { (0x30...0x39).contains(m.cp[$0]) } ? 3 : 0
                            }
                        }
                    }
                    fragments = out
                }
            }
        }
        return fragments
    }
}

/// One fragment under a stage: code points and classes of the whole text, and the fragment's bounds.
private struct Matcher {
    let cp: UnsafeBufferPointer<UInt32>
    let cl: UnsafeBufferPointer<UInt8>
    let lo: Int
    let hi: Int

    static let outOfRange = UInt32.max
    static let wsLN = CodepointClass([.whitespace, .letter, .number]).rawValue
    static let letter = CodepointClass.letter.rawValue
    static let number = CodepointClass.number.rawValue
    static let whitespace = CodepointClass.whitespace.rawValue

    /// The code point at `i`, or `outOfRange` outside the fragment.
    @inline(__always) func c(_ i: Int) -> UInt32 { i >= lo && i < hi ? cp[i] : Self.outOfRange }
    /// The classes at `i`, or 0 outside the fragment.
    @inline(__always) func f(_ i: Int) -> UInt8 { i >= lo && i < hi ? cl[i] : 0 }

    func isPunctuationOrListedSymbol(_ i: Int) -> Bool {
        if cl[i] & CodepointClass.punctuation.rawValue != 0 { return true }
        switch cp[i] {
        case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return true  // $ + < = > ^ ~ |
        default: return false
        }
    }

    /// The length of the run of code points from `i` satisfying `p`.
    @inline(__always) func run(from i: Int, while p: (Int) -> Bool) -> Int {
        var j = i
        while j < hi && p(j) { j += 1 }
        return j - i
    }

    /// Regex-iterator semantics: `matchLength(i)` is the length of a match starting at `i` (0: none); matches and
    /// the stretches between them become fragments.
    func matchesAndGaps(into out: inout [Range<Int>], _ matchLength: (Int) -> Int) {
        var gapStart = lo
        var i = lo
        while i < hi {
            let n = matchLength(i)
            if n > 0 {
                if i > gapStart { out.append(gapStart..<i) }
                out.append(i..<i + n)
                i += n
                gapStart = i
            } else {
                i += 1
            }
        }
        if hi > gapStart { out.append(gapStart..<hi) }
    }

    @inline(__always) static func isContractionLetter(_ c: UInt32) -> Bool {
        c == 0x73 || c == 0x74 || c == 0x6D || c == 0x64  // s t m d
    }

    @inline(__always) static func isContractionPair(_ a: UInt32, _ b: UInt32) -> Bool {
        (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C)  // re ve ll
    }

    @inline(__always) static func lower(_ c: UInt32) -> UInt32 { (0x41...0x5A).contains(c) ? c + 0x20 : c }

    /// llama.cpp's `unicode_regex_split_custom_gpt2`.
    func gpt2(into out: inout [Range<Int>]) {
        var pos = lo
        while pos < hi {
            let start = pos
            let cpt = c(pos)
            let flags = f(pos)
            if cpt == 0x27 && pos + 1 < hi {  // '
                let next = c(pos + 1)
                if Self.isContractionLetter(next) {
                    out.append(start..<pos + 2); pos += 2; continue
                }
                if pos + 2 < hi && Self.isContractionPair(next, c(pos + 2)) {
                    out.append(start..<pos + 3); pos += 3; continue
                }
            }
            var flags2 = cpt == 0x20 ? f(pos + 1) : flags
            if flags2 & Self.letter != 0 {
                if cpt == 0x20 { pos += 1 }
                while flags2 & Self.letter != 0 { pos += 1; flags2 = f(pos) }
                out.append(start..<pos); continue
            }
            if flags2 & Self.number != 0 {
                if cpt == 0x20 { pos += 1 }
                while flags2 & Self.number != 0 { pos += 1; flags2 = f(pos) }
                out.append(start..<pos); continue
            }
            if flags2 & Self.wsLN == 0 && flags2 != 0 {
                if cpt == 0x20 { pos += 1 }
                while flags2 & Self.wsLN == 0 && flags2 != 0 { pos += 1; flags2 = f(pos) }
                out.append(start..<pos); continue
            }
            var spaces = 0
            while f(pos + spaces) & Self.whitespace != 0 { spaces += 1 }
            if spaces > 1 && c(pos + spaces) != Self.outOfRange {  // \s+(?!\S)
                pos += spaces - 1
                out.append(start..<pos); continue
            }
            if spaces > 0 {  // \s+
                pos += spaces
                out.append(start..<pos); continue
            }
            pos += 1
            out.append(start..<pos)
        }
    }

    /// llama.cpp's `unicode_regex_split_custom_llama3` (`digitRun` 3) and `…_qwen2` (`digitRun` 1).
    func llama3(digitRun: Int, into out: inout [Range<Int>]) {
        var pos = lo
        while pos < hi {
            let start = pos
            let cpt = c(pos)
            let flags = f(pos)
            if cpt == 0x27 && pos + 1 < hi {  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
                let next = Self.lower(c(pos + 1))
                if Self.isContractionLetter(next) {
                    out.append(start..<pos + 2); pos += 2; continue
                }
                if pos + 2 < hi && Self.isContractionPair(next, Self.lower(c(pos + 2))) {
                    out.append(start..<pos + 3); pos += 3; continue
                }
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(cpt == 0x0D || cpt == 0x0A || flags & Self.number != 0) {
                if flags & Self.letter != 0 || f(pos + 1) & Self.letter != 0 {
                    pos += 1
                    while f(pos) & Self.letter != 0 { pos += 1 }
                    out.append(start..<pos); continue
                }
            }
            // \p{N}{1,3} or \p{N}
            if flags & Self.number != 0 {
                var ini = pos
                var prevEnd = start
                while f(pos) & Self.number != 0 {
                    pos += 1
                    if pos - ini >= digitRun {
                        out.append(prevEnd..<pos); prevEnd = pos
                        ini = pos
                    }
                }
                if pos > prevEnd { out.append(prevEnd..<pos) }
                continue
            }
            // <space>?[^\s\p{L}\p{N}]+[\r\n]*
            var flags2 = cpt == 0x20 ? f(pos + 1) : flags
            if flags2 & Self.wsLN == 0 && flags != 0 {
                if cpt == 0x20 { pos += 1 }
                while flags2 & Self.wsLN == 0 && flags2 != 0 { pos += 1; flags2 = f(pos) }
                var cpt2 = c(pos)
                while cpt2 == 0x0D || cpt2 == 0x0A { pos += 1; cpt2 = c(pos) }
                out.append(start..<pos); continue
            }
            var spaces = 0
            var lastEndOfNewline = 0
            while f(pos + spaces) & Self.whitespace != 0 {
                let cpt2 = c(pos + spaces)
                if cpt2 == 0x0D || cpt2 == 0x0A { lastEndOfNewline = pos + spaces + 1 }
                spaces += 1
            }
            if lastEndOfNewline > 0 {  // \s*[\r\n]+
                pos = lastEndOfNewline
                out.append(start..<pos); continue
            }
            if spaces > 1 && c(pos + spaces) != Self.outOfRange {  // \s+(?!\S)
                pos += spaces - 1
                out.append(start..<pos); continue
            }
            if spaces > 0 {  // \s+
                pos += spaces
                out.append(start..<pos); continue
            }
            pos += 1
            out.append(start..<pos)
        }
    }
}
