import Foundation

/// What a capture records besides the required tensors, and how far it decodes.
public struct CaptureOptions: Sendable {
    /// Decoding steps to take at most (fewer when the model ends its answer first).
    public var steps: Int
    /// How many of the last prompt queries to keep (`prompt/rot_q_window`); clipped to the prompt length.
    public var window: Int
    /// Also store the prompt values (`prompt/v`).
    public var recordValues: Bool
    /// Also store each step's attention over the prompt (`decode/attention`).
    public var recordAttention: Bool

    public init(steps: Int, window: Int = 32, recordValues: Bool = false, recordAttention: Bool = false) {
        self.steps = steps
        self.window = window
        self.recordValues = recordValues
        self.recordAttention = recordAttention
    }
}

/// Where a running capture is, for a progress display.
public enum CaptureProgress: Sendable {
    /// Prefill has run `layersDone` of `layers` layers over `tokens` prompt tokens, `seconds` after it began.
    case prefill(layersDone: Int, layers: Int, tokens: Int, seconds: Double)
    /// `stepsDone` of at most `steps` decoding steps are taken, `seconds` after decoding began.
    case decoding(stepsDone: Int, steps: Int, seconds: Double)
}

/// The capture run: prefill the prompt into a full cache, then greedy decoding, recording everything the
/// capture file holds through a `CaptureRecorder`.
///
/// Step `s` feeds the `s`-th generated token at position `n + s` (docs/architecture.md): the prefill's
/// logits choose token 0, which step 0 feeds; step `s`'s logits choose token `s + 1`. Decoding stops when
/// the chosen token ends generation (it is neither fed nor stored) or after `steps` fed tokens, so the
/// generated tokens equal those of `GreedyDecoder.generate(maxTokens: steps)`.
public struct Capture {
    public let model: LanguageModel

    public init(model: LanguageModel) { self.model = model }

    /// Runs the capture of `prompt`. `cache` (empty; made when nil) ends holding the prompt and every fed
    /// step; `progress` is called as each prefill layer starts, when prefill ends, and after each decoding step.
    public func run(prompt: [Int], options: CaptureOptions, cache: KVCache? = nil,
                    progress: ((CaptureProgress) -> Void)? = nil) throws -> CaptureData {
        guard options.steps >= 1 else { throw ProbeError("--steps must be at least 1") }
        guard options.window >= 1 else { throw ProbeError("--window must be at least 1") }
        let n = prompt.count
        try GreedyDecoder(model: model).checkFits(promptLength: n, newTokens: options.steps)
        let cache = cache ?? model.makeCache(capacity: n + options.steps)
        let recorder = CaptureRecorder(config: model.config, promptLength: n, window: options.window,
                                       maxSteps: options.steps, recordValues: options.recordValues,
                                       recordAttention: options.recordAttention)
        let layers = model.config.nLayers
        let prefillStart = Date()
        let prefillObserver = LayerTicker(forwardingTo: recorder) { layer in
            // Called as layer `layer` starts attending: the layers before it are done.
            progress?(.prefill(layersDone: layer, layers: layers, tokens: n,
                               seconds: Date().timeIntervalSince(prefillStart)))
        }
        let logits = model.forward(tokens: prompt, positions: Array(0..<n), cache: cache, observer: prefillObserver)
        let prefillSeconds = Date().timeIntervalSince(prefillStart)
        progress?(.prefill(layersDone: layers, layers: layers, tokens: n, seconds: prefillSeconds))

        let decodeStart = Date()
        let outcome = GreedyLoop(stops: model.tokenizer.endOfGenerationIDs).run(after: logits) { $0.count < options.steps } feed: { token, index, more in
            let logits = model.forward(tokens: [token], positions: [n + index], cache: cache, logits: more ? .last : .none,
                                       observer: recorder)
            progress?(.decoding(stepsDone: index + 1, steps: options.steps, seconds: Date().timeIntervalSince(decodeStart)))
            return logits
        }
        let generated = outcome.tokens, stopped = outcome.stopped
        let decodeSeconds = Date().timeIntervalSince(decodeStart)
        guard !generated.isEmpty else {
            throw ProbeError("the model ended its answer at once (end-of-generation token first): no decoding step to record")
        }
        var data = recorder.result(promptTokens: prompt, generated: generated, requestedSteps: options.steps,
                                   stoppedAtEndOfGeneration: stopped)
        data.prefillSeconds = prefillSeconds
        data.decodeSeconds = decodeSeconds
        return data
    }
}

/// Forwards to another observer and reports each layer it has seen (prefill progress).
private final class LayerTicker: ForwardObserver {
    let target: ForwardObserver
    let onLayer: (Int) -> Void

    init(forwardingTo target: ForwardObserver, onLayer: @escaping (Int) -> Void) {
        self.target = target
        self.onLayer = onLayer
    }

    func didProject(layer: Int, positions: [Int], queries: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                    values: UnsafePointer<Float>) {
        target.didProject(layer: layer, positions: positions, queries: queries, keys: keys, values: values)
        onLayer(layer)
    }
}
