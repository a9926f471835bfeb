import Foundation
import Analysis
import Probe

/// RULER's single-needle tasks (NVIDIA/RULER, `scripts/data/synthetic/niah.py` with the `niah_single_*`
/// settings of `synthetic.yaml`), re-implemented: the same templates, needle, answer prefix, haystacks and
/// placement; keys from a dictionary word list; randomness from a per-sample SplitMix64 stream.
///
/// - `niah_single_1`: the noise block `noiseHaystack` repeated n times, one block per line; the needle line goes
///   before block ⌊u·n⌋ for a uniform u (RULER: a uniform index among the n blocks). Value: a 7-digit number.
/// - `niah_single_2`, `niah_single_3`: the essays' first n words (whitespace runs collapsed, the words
///   repeated when n exceeds them) split into sentences; the needle goes after the first ⌊S·d/100⌋ of the S
///   sentences, d drawn uniformly from RULER's 40 depths, joined with spaces. Value: a 7-digit number
///   (`_2`) or a UUID version 4 (`_3`).
///
/// What `length` (L) counts: the whole prompt, as for NIAH (`EvaluationSample`): n is the largest haystack
/// size whose prompt is at most L tokens, found per sample by a bracketing binary search as RULER searches
/// for its haystack size, so the prompt is within one haystack unit (a word, ~1–2 tokens; a noise block,
/// ~20 tokens) below L. RULER's own `max_seq_length` also counts the 128 tokens to generate: RULER at
/// `max_seq_length` M corresponds to L = M − 128.
///
/// Every sample depends only on (seed, task, L, index) (`sampleSeed`): any one can be regenerated alone.
/// Draws, in order: key (uniform over the word list), value (uniform 7-digit number, or 128 random bits made
/// a version-4 UUID as Python's `uuid.UUID(int=…, version=4)` does), placement (essay depth or noise u).
public struct RulerTask: Sendable {
    /// RULER's noise haystack block.
    public static let noiseHaystack = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
    /// RULER's needle, with the value type in the plural ("numbers", "uuids") as RULER formats it.
    public static let needleTemplate = "One of the special magic {type_needle_v} for {key} is: {value}."
    /// RULER's `niah` template after its single-needle rewrite (Some → A, are all → is, are → is; value type in
    /// the singular), less the answer prefix.
    public static let questionTemplate = "A special magic {type_needle_v} is hidden within the following text. Make sure to memorize it. I will quiz you about the {type_needle_v} afterwards.\n{context}\nWhat is the special magic {type_needle_v} for {query} mentioned in the provided text?"
    /// RULER's answer prefix after the same rewrite (its leading space included), placed after the assistant
    /// header as RULER appends it to the chat-formatted input.
    public static let answerPrefixTemplate = " The special magic {type_needle_v} for {query} mentioned in the provided text is"
    /// RULER's depths, `np.round(np.linspace(0, 100, 40))`.
    public static let depths: [Int] = (0..<40).map { Int((Double($0) * 100 / 39).rounded()) }

    public enum HaystackKind: String, Sendable { case noise, essay }
    public enum ValueKind: String, Sendable {
        case numbers, uuids
        /// The type word RULER's template uses for one value ("number", "uuid").
        public var singular: String { String(rawValue.dropLast()) }
    }

    public let task: EvaluationTask
    public let format: EvaluationPromptFormat
    public let wordList: RulerWordList
    /// The essays (nil for `niah_single_1`, which needs none).
    public let haystack: Haystack?
    public let seed: UInt64
    /// Greedy tokens to generate at most.
    public var maxNewTokens: Int
    private let essayWords: [Substring]

    /// A RULER task; `haystack` is required for the essay tasks (`niah_single_2`, `niah_single_3`).
    public init(task: EvaluationTask, format: EvaluationPromptFormat, wordList: RulerWordList, haystack: Haystack?,
                seed: UInt64, maxNewTokens: Int = EvaluationTask.niahSingle1.maxNewTokens) throws {
        guard task.isRuler else { throw ProbeError("'\(task.name)' is not a RULER task") }
        self.task = task
        self.format = format
        self.wordList = wordList
        self.seed = seed
        self.maxNewTokens = maxNewTokens
        if Self.haystackKind(of: task) == .essay {
            guard let haystack else { throw ProbeError("RULER \(task.name) needs the essay haystack") }
            self.haystack = haystack
            essayWords = haystack.words
            guard !essayWords.isEmpty else { throw ProbeError("\(haystack.source): the haystack has no words") }
        } else {
            self.haystack = nil
            essayWords = []
        }
    }

    public static func haystackKind(of task: EvaluationTask) -> HaystackKind { task == .niahSingle1 ? .noise : .essay }
    public static func valueKind(of task: EvaluationTask) -> ValueKind { task == .niahSingle3 ? .uuids : .numbers }
    public var haystackKind: HaystackKind { Self.haystackKind(of: task) }
    public var valueKind: ValueKind { Self.valueKind(of: task) }

    /// The seed of one sample's random stream: SplitMix64 chained over the task name (FNV-1a), L and the index.
    public static func sampleSeed(seed: UInt64, task: EvaluationTask, length: Int, index: Int) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in task.name.utf8 { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        var h = seed
        for part in [hash, UInt64(bitPattern: Int64(length)), UInt64(bitPattern: Int64(index))] {
            var g = SplitMix64(seed: h ^ part)
            h = g.next()
        }
        return h
    }

    /// What one sample draws before its haystack is sized.
    struct Draw {
        var key: String
        var value: String
        /// Essays: the depth in percent (one of `depths`); noise: u in [0, 1).
        var placement: Double
    }

    func draw(length: Int, index: Int) -> Draw {
        var g = SplitMix64(seed: Self.sampleSeed(seed: seed, task: task, length: length, index: index))
        let key = wordList.words[Int(g.next() % UInt64(wordList.words.count))]
        let value: String
        switch valueKind {
        case .numbers: value = String(1_000_000 + g.next() % 9_000_000)
        case .uuids: value = Self.uuid4(high: g.next(), low: g.next())
        }
        let placement: Double
        switch haystackKind {
        case .essay: placement = Double(Self.depths[Int(g.next() % UInt64(Self.depths.count))])
        case .noise: placement = Double(g.next() >> 11) * 0x1p-53
        }
        return Draw(key: key, value: value, placement: placement)
    }

    /// 128 bits as a version-4, RFC 4122-variant UUID in lowercase 8-4-4-4-12 form.
    static func uuid4(high: UInt64, low: UInt64) -> String {
        let hi = (high & ~0xF000) | 0x4000
        let lo = (low & ~(0xC000 << 48)) | (0x8000 << 48)
        func hex(_ v: UInt64, _ digits: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: digits - s.count) + s
        }
        let h = hex(hi, 16), l = hex(lo, 16)
        return "\(h.prefix(8))-\(h.dropFirst(8).prefix(4))-\(h.suffix(4))-\(l.prefix(4))-\(l.suffix(12))"
    }

    /// Sample `index` of an L-token context. Throws when L cannot hold the prompt with one haystack unit.
    public func sample(length: Int, index: Int) throws -> EvaluationSample {
        guard length > 0 else { throw ProbeError("RULER context length \(length): must be positive") }
        guard index >= 0 else { throw ProbeError("RULER sample index \(index): must not be negative") }
        let d = draw(length: length, index: index)
        let kind = valueKind
        let needle = Self.fill(Self.needleTemplate, ["type_needle_v": kind.rawValue, "key": d.key, "value": d.value])
        let answerPrefix = Self.fill(Self.answerPrefixTemplate, ["type_needle_v": kind.singular, "query": d.key])

        // The prompt with a haystack of n units (words or noise blocks), the needle's byte range in it, the
        // needle's depth, and where the question (after the context's closing newline) starts.
        func build(_ n: Int) -> (EvaluationPromptFormat.Rendered, Range<Int>, Double, Int) {
            let (context, needleOffset, depth) = self.context(units: n, needle: needle, placement: d.placement)
            let parts = Self.questionTemplate.components(separatedBy: "{context}")
            let head = Self.fill(parts[0], ["type_needle_v": kind.singular, "query": d.key])
            let tail = Self.fill(parts[1], ["type_needle_v": kind.singular, "query": d.key])
            let rendered = format.render(content: head + context + tail, answerPrefix: answerPrefix)
            let start = rendered.contentOffset + head.utf8.count + needleOffset
            let questionByte = rendered.contentOffset + head.utf8.count + context.utf8.count + 1
            return (rendered, start..<start + needle.utf8.count, depth, questionByte)
        }

        let smallest = build(1).0.tokens.count
        guard smallest <= length else {
            throw ProbeError("RULER \(task.name) context length \(length) is too short: the prompt with one haystack \(haystackKind == .noise ? "block" : "word") takes \(smallest) tokens")
        }
        // A first guess from the tokens per unit of a probe haystack of RULER's increment (500 words, 25 blocks).
        let probeUnits = haystackKind == .essay ? 500 : 25
        let perUnit = Double(build(probeUnits).0.tokens.count - smallest) / Double(probeUnits - 1)
        let guess = 1 + Int(Double(length - smallest) / max(perUnit, 0.01))
        let n = largestFitting(target: length, guess: guess, minimum: 1, count: { build($0).0.tokens.count }) ?? 1
        let (rendered, needleBytes, depth, questionByte) = build(n)
        // The value's bytes within the needle (it occurs once, after the key).
        let valueStart = needle.range(of: d.value).map { needleBytes.lowerBound + needle.utf8.distance(from: needle.startIndex, to: $0.lowerBound) }
        return EvaluationSample(task: task, length: length, depthPercent: nil, sampleIndex: index,
                                promptTokens: rendered.tokens, promptText: rendered.text, references: [d.value],
                                needle: needle, key: d.key, value: d.value, maxNewTokens: maxNewTokens,
                                answerPrefix: answerPrefix, needleDepthPercent: depth,
                                needleTokenRange: format.tokenRange(of: needleBytes, in: rendered),
                                questionTokenStart: format.tokenIndex(coveringByte: questionByte, in: rendered),
                                answerTokenRange: valueStart.flatMap { format.tokenRange(of: $0..<$0 + d.value.utf8.count, in: rendered) })
    }

    /// The haystack of `n` units with the needle placed, the needle's byte offset in it, and its depth in percent.
    func context(units n: Int, needle: String, placement: Double) -> (String, Int, Double) {
        switch haystackKind {
        case .noise:
            // RULER: n copies of the block, the needle inserted before copy i, lines joined by "\n".
            let i = min(Int(placement * Double(n)), n - 1)
            let line = Self.noiseHaystack + "\n"
            let before = String(repeating: line, count: i)
            let after = Array(repeating: Self.noiseHaystack, count: n - i).joined(separator: "\n")
            return (before + needle + "\n" + after, before.utf8.count, Double(i) * 100 / Double(n))
        case .essay:
            // RULER: the first n words (repeated as needed), sentences, the needle after ⌊S·d/100⌋ of them;
            // the three parts joined by spaces (an empty part still adds its space, as in RULER).
            let words = (0..<n).map { essayWords[$0 % essayWords.count] }
            let sentences = SentenceSplitter.sentenceRanges(words)
            let cut = Int(Double(sentences.count) * placement / 100)
            let split = cut < sentences.count ? sentences[cut].lowerBound : words.count
            let before = words[..<split].joined(separator: " ")
            let after = words[split...].joined(separator: " ")
            return (before + " " + needle + " " + after, before.utf8.count + 1, placement)
        }
    }

    /// `template` with each `{name}` replaced by its value.
    static func fill(_ template: String, _ values: [String: String]) -> String {
        var out = template
        for (name, value) in values { out = out.replacingOccurrences(of: "{\(name)}", with: value) }
        return out
    }
}
