import Foundation
import Probe

/// How evaluation prompts become token ids: the user message rendered by the model's chat template (its
/// default system prompt included, the assistant's turn opened), then the answer prefix appended after the
/// assistant header so that the model continues it; or, without a template, the user text followed directly
/// by the answer prefix (RULER's `base` template).
///
/// The whole text is tokenized in one pass, special-token text recognised, as `PromptBuilder` and llama.cpp
/// tokenize a rendered chat prompt; BOS first when the vocabulary asks for it.
public struct EvaluationPromptFormat: Sendable {
    public let tokenizer: Tokenizer
    /// nil: plain text, no chat template.
    public let chatTemplate: ChatTemplate?

    public init(tokenizer: Tokenizer, chatTemplate: ChatTemplate?) {
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
    }

    /// The format of a loaded model; with `chat`, its chat template (an error naming the file if it has none).
    public init(model: LanguageModel, chat: Bool = true) throws {
        try self.init(gguf: model.gguf, tokenizer: model.tokenizer, chat: chat)
    }

    /// The format of a GGUF file's tokenizer and chat template, without loading the weights.
    public init(gguf: GGUFFile, chat: Bool = true) throws {
        try self.init(gguf: gguf, tokenizer: try Tokenizer(gguf: gguf), chat: chat)
    }

    private init(gguf: GGUFFile, tokenizer: Tokenizer, chat: Bool) throws {
        self.tokenizer = tokenizer
        chatTemplate = chat ? try ChatTemplate(gguf: gguf) : nil
    }

    /// A rendered prompt: its text, its token ids, and where the user content sits in the text.
    public struct Rendered: Sendable, Equatable {
        /// The prompt text (without BOS).
        public var text: String
        /// Token ids of `text`, BOS first where the model adds one.
        public var tokens: [Int]
        /// UTF-8 byte offset of the user content within `text`.
        public var contentOffset: Int
    }

    /// The text before and after the user content, and the answer prefix at the end.
    func frame(answerPrefix: String) -> (head: String, tail: String) {
        guard let template = chatTemplate else { return ("", answerPrefix) }
        let marker = "\u{1}dapq-probe user content\u{1}"
        let rendered = template.render([.user(marker)], addGenerationPrompt: true)
        guard let range = rendered.range(of: marker) else { return (rendered, answerPrefix) }  // not reached: ChatML embeds content verbatim
        return (String(rendered[..<range.lowerBound]), String(rendered[range.upperBound...]) + answerPrefix)
    }

    /// The prompt of one user message `content`, with `answerPrefix` after the assistant header.
    public func render(content: String, answerPrefix: String) -> Rendered {
        let (head, tail) = frame(answerPrefix: answerPrefix)
        let text = head + content + tail
        var ids = tokenizer.encode(text)
        if tokenizer.addsBOS, let bos = tokenizer.bosID { ids.insert(bos, at: 0) }
        return Rendered(text: text, tokens: ids, contentOffset: head.utf8.count)
    }

    /// The tokens of `rendered` that cover the UTF-8 byte range `bytes` of its text (tokens straddling an edge
    /// included); nil when the tokens' pieces do not spell the text byte for byte.
    public func tokenRange(of bytes: Range<Int>, in rendered: Rendered) -> Range<Int>? {
        let skip = tokenizer.addsBOS && tokenizer.bosID != nil && rendered.tokens.first == tokenizer.bosID ? 1 : 0
        var offset = 0, first: Int?, end: Int?
        for i in skip..<rendered.tokens.count {
            let next = offset + tokenizer.pieceBytes(rendered.tokens[i]).count
            if first == nil && next > bytes.lowerBound { first = i }
            if end == nil && next >= bytes.upperBound { end = i + 1 }
            offset = next
        }
        guard offset == rendered.text.utf8.count, let first, let end, first < end else { return nil }
        return first..<end
    }
}

extension EvaluationPromptFormat {
    /// The index of the token of `rendered` that covers UTF-8 byte `offset` of its text: the first token of
    /// whatever starts there, cut at a boundary of the prompt's own tokenization. Nil as `tokenRange`.
    public func tokenIndex(coveringByte offset: Int, in rendered: Rendered) -> Int? {
        tokenRange(of: offset..<(offset + 1), in: rendered)?.lowerBound
    }

    /// `context`, a blank line and `question` as one user message (no answer prefix), and the index of the
    /// token where the question starts (`tokenIndex(coveringByte:in:)`; nil as there).
    public func render(context: String, question: String) -> (rendered: Rendered, questionTokenStart: Int?) {
        let rendered = render(content: context + "\n\n" + question, answerPrefix: "")
        return (rendered, tokenIndex(coveringByte: rendered.contentOffset + context.utf8.count + 2, in: rendered))
    }
}

/// The largest `n` in `minimum...` with `count(n) ≤ target`, searched from `guess`: steps out from the guess,
/// doubling, until it brackets the answer, then bisects. Counts of tokenized text are monotone only up to a
/// token at merge boundaries; the result `n` satisfies `count(n) ≤ target < count(n + 1)`. Nil when even
/// `count(minimum)` exceeds the target. `limit` bounds the search (nil: unbounded).
func largestFitting(target: Int, guess: Int, minimum: Int, limit: Int? = nil, count: (Int) throws -> Int) rethrows -> Int? {
    var memo: [Int: Int] = [:]
    func fits(_ n: Int) throws -> Bool {
        if let c = memo[n] { return c <= target }
        let c = try count(n)
        memo[n] = c
        return c <= target
    }
    let upper = limit ?? Int.max / 4
    var g = min(max(guess, minimum), upper)
    var lo: Int, hi: Int  // fits(lo), !fits(hi)
    if try fits(g) {
        lo = g
        var step = 1
        while true {
            if lo == upper { return lo }
            let probe = min(lo + step, upper)
            if try fits(probe) { lo = probe; step *= 2 } else { hi = probe; break }
        }
    } else {
        hi = g
        var step = 1
        while true {
            if hi == minimum { return nil }
            g = max(hi - step, minimum)
            if try fits(g) { lo = g; break } else { hi = g; step *= 2 }
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2
        if try fits(mid) { lo = mid } else { hi = mid }
    }
    return lo
}
