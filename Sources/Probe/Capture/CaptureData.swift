/// Everything one capture records, in the layout the capture file stores (row-major, float32).
///
/// Shapes use `L` layers, `H` query heads, `G` KV heads, `d` head size, `n` prompt tokens, `w` window
/// queries and `S` decoding steps actually taken. Positions are absolute: prompt token `p` at `p`,
/// decoding step `s` at `n + s`. Queries and keys are post-RoPE, in the model's GGUF head layout, and
/// exactly the values the runtime's cache and attention use.
public struct CaptureData: Sendable {
    /// Layers, query heads, KV heads and head size of the model.
    public var nLayers: Int, nHeads: Int, nKVHeads: Int, dHead: Int
    /// The prompt's token ids, `[n]`.
    public var promptTokens: [Int]
    /// The generated token ids, one per decoding step, `[S]` (no end-of-generation token).
    public var generatedTokens: [Int]
    /// Whether decoding stopped at an end-of-generation token before the requested steps.
    public var stoppedAtEndOfGeneration: Bool
    /// The decoding steps asked for (`S` is at most this).
    public var requestedSteps: Int
    /// Absolute positions of the window queries, `[w]`: the last `w` prompt positions.
    public var windowPositions: [Int]

    /// `prompt/rot_k`: prompt keys `[L, G, n, d]`.
    public var promptKeys: [Float]
    /// `prompt/v`: prompt values `[L, G, n, d]`, when asked for.
    public var promptValues: [Float]?
    /// `prompt/rot_q_window`: the last `w` prompt queries `[L, H, w, d]`.
    public var windowQueries: [Float]
    /// `decode/rot_q`: the true decoding queries `[L, H, S, d]`.
    public var decodeQueries: [Float]
    /// `decode/rot_k`: the keys of the decoded tokens `[L, G, S, d]`.
    public var decodeKeys: [Float]
    /// `decode/importance`: `T[l, g, j]`, the mean over steps and over the query heads of KV group `g` of
    /// each step's softmax weight on prompt key `j`, `[L, G, n]`.
    public var importance: [Float]
    /// `decode/attention`: each step's softmax weights on the prompt keys, `[L, H, S, n]`, when asked for.
    public var attention: [Float]?
    /// `decode/copy_source`: the prompt position each generated token copies, −1 for none, `[S]` (`CopySource`).
    public var copySource: [Int] = []
    /// `decode/retrieval_score`: per (layer, query head) the fraction of copying steps whose choosing query's
    /// strongest key is the copied position, `[L, H]` (NaN when nothing is copied; `RetrievalScore`).
    public var retrievalScore: [Double] = []
    /// Generated tokens that copy a prompt position (the retrieval score's denominator).
    public var copyingSteps: Int = 0
    /// `prompt/answer_span`: the prompt positions holding the answer's source, when the caller knows them.
    public var answerSpan: Range<Int>?

    /// Wall-clock seconds of the prefill and of the decoding steps (recording included).
    public var prefillSeconds: Double = 0
    public var decodeSeconds: Double = 0

    /// Prompt length `n`.
    public var promptLength: Int { promptTokens.count }
    /// Steps actually taken, `S`.
    public var steps: Int { generatedTokens.count }
    /// Window queries `w`.
    public var window: Int { windowPositions.count }
}
