import Probe

/// One evaluation prompt, ready to prefill, with what scoring and provenance need.
///
/// `length` is the requested context length L: the number of prompt token ids the builders aim at
/// (`promptTokens.count ≤ length`, as close as the haystack's granularity allows; see `NeedleTask` and
/// `RulerTask`). It counts every id of the prompt: BOS where the model adds one, the chat template's turns
/// (default system prompt included), haystack, needle, question and the answer prefix. Generated tokens are
/// not counted.
public struct EvaluationSample: Sendable, Equatable {
    public var task: EvaluationTask
    /// Requested context length L in tokens (see above).
    public var length: Int
    /// The requested depth of a NIAH cell, in percent of the haystack (0 = start, 100 = end); nil for RULER.
    public var depthPercent: Double?
    /// The sample index of a RULER cell; nil for NIAH.
    public var sampleIndex: Int?
    /// The whole chat-formatted prompt, answer prefix included, as token ids (BOS first where the model adds one).
    public var promptTokens: [Int]
    /// The text `promptTokens` encode (without BOS).
    public var promptText: String
    /// The reference answers: NIAH's answer sentence, or RULER's `[value]`.
    public var references: [String]
    /// The needle text exactly as inserted into the haystack.
    public var needle: String
    /// RULER's key (a word) and value (a 7-digit number or a UUID); nil for NIAH.
    public var key: String?
    public var value: String?
    /// Greedy tokens to generate at most (NIAH 32, RULER 128).
    public var maxNewTokens: Int
    /// Text placed after the assistant header, which the model continues ("" when none).
    public var answerPrefix: String
    /// Where the needle actually sits, in percent: NIAH, the requested depth; RULER essays, the depth drawn
    /// from RULER's 40 depths; RULER noise, the needle's index among the repeated blocks × 100 / blocks.
    public var needleDepthPercent: Double
    /// The prompt tokens that cover the needle text (a token straddling its edge included); nil when the
    /// tokenizer's pieces do not spell the prompt text byte for byte (SentencePiece space handling).
    public var needleTokenRange: Range<Int>?
    /// Where the question part starts: `promptTokens[..<questionTokenStart]` is the context, the rest (the
    /// question, the end of the user turn, the assistant header, the answer prefix) is what the `outside`
    /// placement appends after eviction. The cut is the token covering the question's first byte, a boundary of
    /// the prompt's own tokenization, so both parts together are the prompt exactly. Nil when the tokenizer's
    /// pieces do not spell the prompt text byte for byte.
    public var questionTokenStart: Int?
    /// The prompt tokens the answer must copy, known by construction: NIAH, the needle (the answer restates it);
    /// RULER, the needle's value (the number or UUID). Nil as `needleTokenRange`.
    public var answerTokenRange: Range<Int>?

    public init(task: EvaluationTask, length: Int, depthPercent: Double?, sampleIndex: Int?, promptTokens: [Int],
                promptText: String, references: [String], needle: String, key: String?, value: String?,
                maxNewTokens: Int, answerPrefix: String, needleDepthPercent: Double, needleTokenRange: Range<Int>?,
                questionTokenStart: Int? = nil, answerTokenRange: Range<Int>? = nil) {
        self.task = task
        self.length = length
        self.depthPercent = depthPercent
        self.sampleIndex = sampleIndex
        self.promptTokens = promptTokens
        self.promptText = promptText
        self.references = references
        self.needle = needle
        self.key = key
        self.value = value
        self.maxNewTokens = maxNewTokens
        self.answerPrefix = answerPrefix
        self.needleDepthPercent = needleDepthPercent
        self.needleTokenRange = needleTokenRange
        self.questionTokenStart = questionTokenStart
        self.answerTokenRange = answerTokenRange
    }

    /// The tokens compression sees and those appended after eviction (`QuestionPlacement.split`).
    public func split(_ placement: QuestionPlacement) throws -> (context: [Int], question: [Int]) {
        do { return try placement.split(promptTokens, questionStart: questionTokenStart) } catch {
            throw ProbeError("\(task.name) L\(length): \(error)")
        }
    }

    /// The score of a generated answer (the text after the answer prefix), in 0…1: NIAH,
    /// `AnswerScoring.niahScore` against the reference answer; RULER, `string_match_all` of the postprocessed
    /// prediction against the references.
    public func score(answer: String) -> Double {
        if task.isRuler {
            return AnswerScoring.rulerStringMatchAll(prediction: AnswerScoring.rulerPostprocess(answer),
                                                     references: references)
        }
        return AnswerScoring.niahScore(answer: answer, reference: references.first ?? "")
    }
}
