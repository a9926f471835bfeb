/// One message of a conversation.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }
}

/// A model's chat template (`tokenizer.chat_template`), recognised by family and rendered natively rather than
/// by a Jinja interpreter. Supported: ChatML (`<|im_start|>role\ncontent<|im_end|>\n`, as SmolLM2 and Qwen2.5
/// use), including a default system prompt that the template inserts when the conversation does not start with
/// a system message (read from the template text).
public struct ChatTemplate: Sendable {
    public enum Family: String, Sendable {
        case chatML = "chatml"
    }

    /// The template source.
    public let source: String
    public let family: Family
    /// The system prompt the template inserts when the first message is not a system message, if any.
    public let defaultSystemPrompt: String?
    /// Whether the default system prompt is emitted even for an empty conversation (it sits outside the
    /// template's message loop, as in Qwen2.5's; SmolLM2's inserts it inside the loop).
    public let defaultSystemPromptWithoutMessages: Bool

    /// The template of a GGUF; throws a `GGUFError` naming the file when there is none or it cannot be rendered.
    public init(gguf: GGUFFile) throws {
        guard let value = gguf.metadata["tokenizer.chat_template"] else {
            throw GGUFError(path: gguf.path, "missing tokenizer.chat_template: the model has no chat template")
        }
        guard let source = value.stringValue else {
            throw GGUFError(path: gguf.path, "tokenizer.chat_template is \(value.typeName), expected a string")
        }
        try self.init(template: source, path: gguf.path)
    }

    /// A template from its Jinja source; `path` names its origin in errors.
    public init(template source: String, path: String = "<chat template>") throws {
        self.source = source
        guard source.contains("<|im_start|>"), source.contains("<|im_end|>") else {
            let head = source.prefix(80).replacingOccurrences(of: "\n", with: "\\n")
            throw GGUFError(path: path, "unsupported chat template (only ChatML templates, <|im_start|>role\\n…<|im_end|>, "
                            + "are rendered): \(head)\(source.count > 80 ? "…" : "")")
        }
        for marker in ["<think>", "reasoning_content", "bos_token", "eos_token"] where source.contains(marker) {
            throw GGUFError(path: path, "unsupported chat template: a ChatML template using '\(marker)' "
                            + "cannot be rendered as plain ChatML")
        }
        family = .chatML
        if let (prompt, offset) = Self.literalSystemPrompt(in: source) {
            defaultSystemPrompt = prompt
            let loopStart = Self.firstLoop(in: source)
            defaultSystemPromptWithoutMessages = loopStart.map { offset < $0 } ?? true
        } else {
            defaultSystemPrompt = nil
            defaultSystemPromptWithoutMessages = false
        }
    }

    /// The prompt text of `messages`; with `addGenerationPrompt`, the assistant's turn is opened at the end.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        if let system = defaultSystemPrompt, messages.first.map({ $0.role != "system" }) ?? defaultSystemPromptWithoutMessages {
            out += "<|im_start|>system\n" + system + "<|im_end|>\n"
        }
        for m in messages {
            out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n"
        }
        if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        return out
    }

    /// The first string literal holding a whole system turn, `<|im_start|>system\n…<|im_end|>`, its content
    /// unescaped, and where it sits in the source (byte offset).
    static func literalSystemPrompt(in source: String) -> (String, Int)? {
        let bytes = Array(source.utf8)
        let opener = Array("<|im_start|>system".utf8)
        let closer = Array("<|im_end|>".utf8)
        var i = 0
        while i + opener.count <= bytes.count {
            defer { i += 1 }
            guard bytes[i..<i + opener.count].elementsEqual(opener) else { continue }
            var j = i + opener.count
            // The newline after the role: an escape in the literal or a raw newline.
            if j + 1 < bytes.count && bytes[j] == 0x5C && bytes[j + 1] == 0x6E { j += 2 }
            else if j < bytes.count && bytes[j] == 0x0A { j += 1 }
            else { continue }
            // The literal's text up to <|im_end|>, with no quote or expression in between.
            var k = j
            var found = false
            while k + closer.count <= bytes.count {
                if bytes[k..<k + closer.count].elementsEqual(closer) { found = true; break }
                let b = bytes[k]
                if b == 0x27 || b == 0x22 || b == 0x7B || b == 0x7D { break }  // ' " { }
                if b == 0x5C { k += 2; continue }  // an escape: skip the escaped character
                k += 1
            }
            guard found, k > j else { continue }
            return (unescape(bytes[j..<k]), i)
        }
        return nil
    }

    /// Jinja (Python) string-literal escapes.
    private static func unescape(_ bytes: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        var it = bytes.makeIterator()
        while let b = it.next() {
            guard b == 0x5C, let e = it.next() else { out.append(b); continue }
            switch e {
            case 0x6E: out.append(0x0A)  // \n
            case 0x74: out.append(0x09)  // \t
            case 0x72: out.append(0x0D)  // \r
            case 0x5C, 0x27, 0x22: out.append(e)
            default: out.append(b); out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Byte offset of the template's first `for` block.
    private static func firstLoop(in source: String) -> Int? {
        let bytes = Array(source.utf8)
        var first: Int?
        for opener in ["{% for ", "{%- for ", "{%for ", "{%-for "] {
            let o = Array(opener.utf8)
            guard o.count <= bytes.count else { continue }
            for i in 0...(bytes.count - o.count) where bytes[i..<i + o.count].elementsEqual(o) {
                first = min(first ?? i, i)
                break
            }
        }
        return first
    }
}
