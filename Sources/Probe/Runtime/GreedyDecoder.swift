import Foundation

/// The outcome of a greedy generation.
public struct Generation: Sendable {
    /// Generated token ids (the end-of-generation token excluded).
    public var ids: [Int]
    /// Whether generation ended at an end-of-generation token rather than the token limit.
    public var stoppedAtEndOfGeneration: Bool
    public var prefillSeconds: Double
    public var decodeSeconds: Double
}

/// Greedy (argmax) decoding on the full cache.
public struct GreedyDecoder {
    public let model: LanguageModel

    public init(model: LanguageModel) { self.model = model }

    /// Refuses prompts that do not fit the model's context.
    public func checkFits(promptLength: Int, newTokens: Int) throws {
        let context = model.config.contextLength
        guard promptLength > 0 else { throw ProbeError("the prompt is empty") }
        guard promptLength + newTokens <= context else {
            throw ProbeError("the prompt has \(promptLength) tokens; with \(newTokens) new tokens that exceeds the model's context of \(context) tokens")
        }
    }

    /// Prefills `prompt` into `cache` (empty) and greedily generates up to `maxTokens` tokens, stopping at an
    /// end-of-generation token. `observer` sees prefill and every decoding step; `onToken` each new id.
    public func generate(prompt: [Int], maxTokens: Int, cache: KVCache? = nil, observer: ForwardObserver? = nil,
                         onToken: ((Int) -> Void)? = nil) throws -> Generation {
        try checkFits(promptLength: prompt.count, newTokens: maxTokens)
        let cache = cache ?? model.makeCache(capacity: prompt.count + maxTokens)
        let start = Date()
        let logits = model.forward(tokens: prompt, positions: Array(0..<prompt.count), cache: cache, observer: observer)
        let prefill = Date().timeIntervalSince(start)
        let decodeStart = Date()
        var outcome = GreedyLoop.Outcome(tokens: [], stopped: false)
        if maxTokens > 0 {
            outcome = GreedyLoop(stops: model.tokenizer.endOfGenerationIDs, feedsLastToken: false).run(after: logits) { ids in
                onToken?(ids.last!)
                return ids.count < maxTokens
            } feed: { token, index, _ in
                model.forward(tokens: [token], positions: [prompt.count + index], cache: cache, observer: observer)
            }
        }
        return Generation(ids: outcome.tokens, stoppedAtEndOfGeneration: outcome.stopped, prefillSeconds: prefill,
                          decodeSeconds: Date().timeIntervalSince(decodeStart))
    }

    /// Index of the largest value (the first one on ties).
    public static func argmax(_ values: [Float]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }
}
