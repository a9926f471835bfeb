/// Turns user text into prompt token ids, optionally through the model's chat template.
public struct PromptBuilder {
    public let model: LanguageModel

    public init(model: LanguageModel) { self.model = model }

    /// The text the model sees: `text` itself, or a one-message user conversation rendered by the chat template
    /// with the assistant's turn opened.
    public func promptText(_ text: String, chat: Bool) throws -> String {
        guard chat else { return text }
        let template = try ChatTemplate(gguf: model.gguf)
        return template.render([ChatMessage(role: "user", content: text)], addGenerationPrompt: true)
    }

    /// Token ids of the prompt, BOS first when the model's vocabulary asks for it.
    public func tokens(text: String, chat: Bool) throws -> [Int] {
        var ids = model.tokenizer.encode(try promptText(text, chat: chat))
        if model.tokenizer.addsBOS, let bos = model.tokenizer.bosID { ids.insert(bos, at: 0) }
        guard !ids.isEmpty else { throw ProbeError("the prompt is empty") }
        return ids
    }
}
