import Probe

/// Needle in a haystack (gkamradt's LLMTest_NeedleInAHaystack): a needle sentence inserted into the essays at a
/// given depth, the question at the end in the chat template, the answer prefix after the assistant header.
///
/// What `length` (L) counts: the whole prompt, `EvaluationSample.promptTokens.count` — BOS if any, the chat
/// template's turns and default system prompt, haystack, needle, question and answer prefix. The haystack is
/// the essays' first tokens, cut to the largest count that keeps the prompt within L, so the prompt is L
/// tokens or one or two fewer (re-tokenizing at the needle and the cut can merge a token). The original cuts
/// only its context (haystack + needle) to L minus a fixed 200-token allowance for the rest.
///
/// Placement as in the original: at depth d the needle goes after the first ⌊B·d/100⌋ of the B haystack
/// tokens, moved back to the nearest preceding sentence end (a '.' followed by whitespace or the end of the
/// cut haystack), or to the very start when there is none; at 100 it goes at the end of the haystack. The
/// haystack repeats when the essays are shorter than L. Deterministic: no randomness is involved.
///
/// The user message is `context + "\n\n" + question`; without a chat template the answer prefix follows on
/// the next line.
public struct NeedleTask: Sendable {
    public static let defaultNeedle = "\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n"
    public static let defaultQuestion = "What is the best thing to do in San Francisco?"
    public static let defaultAnswerPrefix = "The best thing to do in San Francisco is"
    public static let defaultAnswer = "eat a sandwich and sit in Dolores Park on a sunny day"

    public var haystack: Haystack
    public var format: EvaluationPromptFormat
    /// The needle text, inserted verbatim.
    public var needle: String
    public var question: String
    /// Placed after the assistant header; the model continues it ("" for none).
    public var answerPrefix: String
    /// The reference answer the score compares against.
    public var answer: String
    /// Greedy tokens to generate at most.
    public var maxNewTokens: Int

    public init(haystack: Haystack, format: EvaluationPromptFormat, needle: String = NeedleTask.defaultNeedle,
                question: String = NeedleTask.defaultQuestion, answerPrefix: String = NeedleTask.defaultAnswerPrefix,
                answer: String = NeedleTask.defaultAnswer, maxNewTokens: Int = EvaluationTask.niah.maxNewTokens) {
        self.haystack = haystack
        self.format = format
        self.needle = needle
        self.question = question
        self.answerPrefix = answerPrefix
        self.answer = answer
        self.maxNewTokens = maxNewTokens
    }

    /// The prompt of an L-token context with the needle at `depthPercent` (0…100). Throws when L cannot hold
    /// the prompt without any haystack, or the depth is outside 0…100.
    public func sample(length: Int, depthPercent: Double) throws -> EvaluationSample {
        guard depthPercent >= 0, depthPercent <= 100 else {
            throw ProbeError("NIAH depth \(depthPercent)%: must be between 0 and 100")
        }
        guard length > 0 else { throw ProbeError("NIAH context length \(length): must be positive") }
        let tokenizer = format.tokenizer
        let pieces = haystackTokens(atLeast: length).map { tokenizer.pieceBytes($0) }
        var ends = [0]  // ends[i]: bytes of the first i tokens
        ends.reserveCapacity(pieces.count + 1)
        for p in pieces { ends.append(ends[ends.count - 1] + p.count) }
        let bytes = pieces.flatMap { $0 }
        let questionEnd = format.chatTemplate == nil && !answerPrefix.isEmpty ? "\n" : ""

        // The prompt with b haystack tokens, the needle's byte range in it, and where the question starts.
        func build(_ b: Int) -> (EvaluationPromptFormat.Rendered, Range<Int>, Int) {
            let hay = Self.completeUTF8(bytes[0..<ends[b]])
            var cut = depthPercent >= 100 ? hay.count : min(ends[Int(Double(b) * depthPercent / 100)], hay.count)
            if depthPercent < 100 {
                while cut > 0 && !Self.isSentenceEnd(hay, at: cut) { cut -= 1 }
            }
            let before = String(decoding: hay[0..<cut], as: UTF8.self)
            let after = String(decoding: hay[cut...], as: UTF8.self)
            let rendered = format.render(content: before + needle + after + "\n\n" + question + questionEnd,
                                         answerPrefix: answerPrefix)
            let start = rendered.contentOffset + before.utf8.count
            let questionByte = start + needle.utf8.count + after.utf8.count + 2
            return (rendered, start..<start + needle.utf8.count, questionByte)
        }

        let bare = build(0).0.tokens.count
        guard let b = largestFitting(target: length, guess: length - bare, minimum: 0, limit: pieces.count,
                                     count: { build($0).0.tokens.count }) else {
            throw ProbeError("NIAH context length \(length) is too short: the prompt without any haystack takes \(bare) tokens")
        }
        let (rendered, needleBytes, questionByte) = build(b)
        let needleTokens = format.tokenRange(of: needleBytes, in: rendered)
        return EvaluationSample(task: .niah, length: length, depthPercent: depthPercent, sampleIndex: nil,
                                promptTokens: rendered.tokens, promptText: rendered.text, references: [answer],
                                needle: needle, key: nil, value: nil, maxNewTokens: maxNewTokens,
                                answerPrefix: answerPrefix, needleDepthPercent: depthPercent,
                                needleTokenRange: needleTokens,
                                questionTokenStart: format.tokenIndex(coveringByte: questionByte, in: rendered),
                                answerTokenRange: needleTokens)
    }

    /// The first `count` tokens of the haystack (repeated as needed), tokenized from a text prefix long
    /// enough that the cut of that prefix cannot reach them.
    func haystackTokens(atLeast count: Int) -> [Int] {
        let margin = 16
        var characters = 6 * (count + margin) + 256
        while true {
            let ids = format.tokenizer.encode(haystack.prefix(characters: characters))
            if ids.count >= count + margin { return Array(ids.prefix(count)) }
            characters *= 2
        }
    }

    /// Whether byte offset `i` of `text` is a sentence end: a '.' followed by whitespace or the end of the text.
    static func isSentenceEnd(_ text: [UInt8], at i: Int) -> Bool {
        guard i > 0, text[i - 1] == UInt8(ascii: ".") else { return false }
        guard i < text.count else { return true }
        return [UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r")].contains(text[i])
    }

    /// `bytes` less a trailing incomplete UTF-8 sequence (a character the token cut split).
    static func completeUTF8(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out = Array(bytes)
        guard let lead = out.lastIndex(where: { $0 & 0xC0 != 0x80 }) else { return out }
        let b = out[lead]
        let width = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
        if lead + width > out.count { out.removeSubrange(lead...) }
        return out
    }
}
