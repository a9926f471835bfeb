import Foundation

/// Records what a capture stores, through the forward pass's observer seam (`didProject` only; it never
/// asks for the runtime's attention rows, so observing does not change the forward pass).
///
/// Rows are told apart by absolute position: a row at position `p < n` is a prompt token; a row at `n + s`
/// is decoding step `s`, i.e. the forward pass that feeds the `s`-th generated token (docs/architecture.md,
/// "Conventions"). Its query is a true decoding query. So `S` steps need `S` generated tokens *fed*;
/// the runner (`Capture`) feeds every generated token once and stops at the end-of-generation token,
/// which is never fed.
///
/// Importance follows docs/metrics.md: for step `s` and query head `h`, the softmax of `q·k/√d` is taken over
/// every entry that query sees (the `n` prompt keys and the keys of steps `0…s`, its own included, as the
/// cache holds them when it attends), then restricted to the prompt keys `j < n`. `T[l, g, j]` is the mean
/// of that over all steps and the query heads of KV group `g`. Scores and softmax are computed here in
/// float64 from the very float32 queries and keys that are stored, so anyone can recompute them from the
/// file (the runtime's own attention uses float32 scores; the two agree to float32 rounding).
///
/// For the retrieval score (`RetrievalScore`) it also notes, per (layer, query head), the strongest key of each
/// query that chooses a generated token: the last prompt position's query (scored when prefill reaches it,
/// over the whole prompt) and every decoding step's query (over everything it sees).
public final class CaptureRecorder: ForwardObserver {
    public let nLayers: Int, nHeads: Int, nKVHeads: Int, dHead: Int
    /// Prompt length `n`.
    public let promptLength: Int
    /// Window queries kept: the last `w` prompt positions (`min(requested, n)`).
    public let window: Int
    /// The most decoding steps the recorder has room for.
    public let maxSteps: Int
    public let recordsValues: Bool
    public let recordsAttention: Bool

    private var groupSize: Int { nHeads / nKVHeads }
    private var promptKeys: [Float]
    private var promptValues: [Float]
    private var windowQueries: [Float]
    /// Per step: queries `[L, H, d]`, keys `[L, G, d]`, prompt attention `[L, H, n]`.
    private var stepQueries: [[Float]] = []
    private var stepKeys: [[Float]] = []
    private var stepAttention: [[Float]] = []
    /// Per chosen token `r` (0: chosen by the last prompt query, `s + 1`: by step `s`): the strongest key's
    /// position per (layer, head) `[L, H]`, −1 until scored.
    private(set) var strongestKeys: [[Int]] = []
    /// Sum over steps and group heads of the prompt attention, `[L, G, n]`.
    private var importanceSum: [Double]
    /// Keys in float64 for scoring, per layer `[G, n + maxSteps, d]` (prompt rows, then steps).
    private var scoringKeys: [[Double]]
    /// Scratch: one group's queries in float64 `[groupSize, d]`, and their scores `[groupSize, n + maxSteps]`.
    private var groupQueries: [Double]
    private var scores: [Double]

    /// A recorder for a prompt of `promptLength` tokens, keeping the last `window` prompt queries and room
    /// for up to `maxSteps` decoding steps; prompt values and per-step attention only when asked for.
    public init(config: ModelConfig, promptLength n: Int, window: Int, maxSteps: Int,
                recordValues: Bool = false, recordAttention: Bool = false) {
        precondition(n > 0 && window >= 0 && maxSteps >= 0)
        nLayers = config.nLayers
        nHeads = config.nHeads
        nKVHeads = config.nKVHeads
        dHead = config.dHead
        promptLength = n
        self.window = min(window, n)
        self.maxSteps = maxSteps
        recordsValues = recordValues
        recordsAttention = recordAttention
        let kvSize = nLayers * nKVHeads * n * dHead
        promptKeys = [Float](repeating: 0, count: kvSize)
        promptValues = recordValues ? [Float](repeating: 0, count: kvSize) : []
        windowQueries = [Float](repeating: 0, count: nLayers * nHeads * self.window * dHead)
        importanceSum = [Double](repeating: 0, count: nLayers * nKVHeads * n)
        scoringKeys = (0..<nLayers).map { _ in [Double](repeating: 0, count: config.nKVHeads * (n + maxSteps) * config.dHead) }
        groupQueries = [Double](repeating: 0, count: config.groupSize * config.dHead)
        scores = [Double](repeating: 0, count: config.groupSize * (n + maxSteps))
    }

    /// Decoding steps seen so far.
    public var stepsRecorded: Int { stepQueries.count }

    /// Copies the batch's prompt keys (and values, window queries) or decoding queries and keys into place,
    /// then scores every decoding row of the batch.
    public func didProject(layer l: Int, positions: [Int], queries: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                           values: UnsafePointer<Float>) {
        let n = promptLength, d = dHead, qDim = nHeads * d, kvDim = nKVHeads * d
        let capacity = n + maxSteps
        // Keys first (all rows of the batch), so every decoding row below finds the keys it sees.
        for (t, p) in positions.enumerated() {
            precondition(p >= 0 && p < capacity, "position \(p) outside the prompt and the \(maxSteps) recorded steps")
            if p < n {
                for g in 0..<nKVHeads {
                    let destination = ((l * nKVHeads + g) * n + p) * d
                    let source = keys + t * kvDim + g * d
                    for i in 0..<d { promptKeys[destination + i] = source[i] }
                    if recordsValues {
                        let valueSource = values + t * kvDim + g * d
                        for i in 0..<d { promptValues[destination + i] = valueSource[i] }
                    }
                }
                if p >= n - window {
                    let row = p - (n - window)
                    for h in 0..<nHeads {
                        let destination = ((l * nHeads + h) * window + row) * d
                        let source = queries + t * qDim + h * d
                        for i in 0..<d { windowQueries[destination + i] = source[i] }
                    }
                }
            } else {
                let s = p - n
                while stepQueries.count <= s { addStep() }
                for i in 0..<qDim { stepQueries[s][l * qDim + i] = queries[t * qDim + i] }
                for i in 0..<kvDim { stepKeys[s][l * kvDim + i] = keys[t * kvDim + i] }
            }
            for g in 0..<nKVHeads {
                let destination = (g * capacity + p) * d
                let source = keys + t * kvDim + g * d
                scoringKeys[l].withUnsafeMutableBufferPointer { k in
                    for i in 0..<d { k[destination + i] = Double(source[i]) }
                }
            }
        }
        for (t, p) in positions.enumerated() where p >= n {
            scoreStep(layer: l, step: p - n, queries: queries + t * qDim)
        }
        if let t = positions.firstIndex(of: n - 1) {
            scoreLastPromptRow(layer: l, queries: queries + t * qDim)
        }
    }

    /// Room for the strongest keys of chosen token `r`.
    private func strongestKeyRow(_ r: Int) -> Int {
        while strongestKeys.count <= r { strongestKeys.append([Int](repeating: -1, count: nLayers * nHeads)) }
        return r
    }

    /// Softmax of KV group `g`'s query heads (from `q`, the layer's queries) over the first `visible` keys of layer
    /// `l`, in float64, into `scores` (one row of `visible` per member head).
    private func attend(layer l: Int, group g: Int, queries q: UnsafePointer<Float>, visible: Int) {
        let d = dHead, G = groupSize, capacity = promptLength + maxSteps
        for i in 0..<(G * d) { groupQueries[i] = Double(q[g * G * d + i]) }
        scoringKeys[l].withUnsafeBufferPointer { k in
            groupQueries.withUnsafeBufferPointer { gq in
                scores.withUnsafeMutableBufferPointer { sc in
                    GroupAttention.probabilities(queries: gq.baseAddress!, members: G, keys: k.baseAddress! + g * capacity * d,
                                                 visible: visible, dHead: d, into: sc.baseAddress!)
                }
            }
        }
    }

    /// The strongest prompt key of each head of the last prompt position's query (it chooses generated token 0).
    private func scoreLastPromptRow(layer l: Int, queries q: UnsafePointer<Float>) {
        let n = promptLength, G = groupSize
        let r = strongestKeyRow(0)
        for g in 0..<nKVHeads {
            attend(layer: l, group: g, queries: q, visible: n)
            for member in 0..<G {
                scores.withUnsafeBufferPointer { sc in
                    strongestKeys[r][l * nHeads + g * G + member] =
                        RetrievalScore.strongestKey(UnsafeBufferPointer(rebasing: sc[(member * n)..<((member + 1) * n)]))
                }
            }
        }
    }

    private func addStep() {
        stepQueries.append([Float](repeating: 0, count: nLayers * nHeads * dHead))
        stepKeys.append([Float](repeating: 0, count: nLayers * nKVHeads * dHead))
        if recordsAttention { stepAttention.append([Float](repeating: 0, count: nLayers * nHeads * promptLength)) }
    }

    /// Softmax of step `s`'s queries at layer `l` over the prompt and steps `0…s`; adds the prompt part to
    /// the importance sums (and stores it as the step's attention when asked).
    private func scoreStep(layer l: Int, step s: Int, queries q: UnsafePointer<Float>) {
        let n = promptLength, G = groupSize
        let visible = n + s + 1
        let chosen = strongestKeyRow(s + 1)
        for g in 0..<nKVHeads {
            attend(layer: l, group: g, queries: q, visible: visible)
            for member in 0..<G {
                let head = g * G + member
                scores.withUnsafeMutableBufferPointer { sc in
                    let row = sc.baseAddress! + member * visible
                    strongestKeys[chosen][l * nHeads + head] = RetrievalScore.strongestKey(UnsafeBufferPointer(start: row, count: visible))
                    let base = (l * nKVHeads + g) * n
                    importanceSum.withUnsafeMutableBufferPointer { sum in
                        for j in 0..<n { sum[base + j] += row[j] }
                    }
                    if recordsAttention {
                        let destination = (l * nHeads + head) * n
                        stepAttention[s].withUnsafeMutableBufferPointer { a in
                            for j in 0..<n { a[destination + j] = Float(row[j]) }
                        }
                    }
                }
            }
        }
    }

    /// The recorded tensors in file layout, for `generated` (one token per recorded step) and the prompt
    /// `promptTokens`.
    public func result(promptTokens: [Int], generated: [Int], requestedSteps: Int,
                       stoppedAtEndOfGeneration: Bool) -> CaptureData {
        precondition(promptTokens.count == promptLength && generated.count == stepsRecorded)
        let S = stepsRecorded, n = promptLength, d = dHead
        var decodeQueries = [Float](repeating: 0, count: nLayers * nHeads * S * d)
        var decodeKeys = [Float](repeating: 0, count: nLayers * nKVHeads * S * d)
        var attention = recordsAttention ? [Float](repeating: 0, count: nLayers * nHeads * S * n) : nil
        for s in 0..<S {
            for l in 0..<nLayers {
                for h in 0..<nHeads {
                    let source = (l * nHeads + h) * d
                    let destination = ((l * nHeads + h) * S + s) * d
                    for i in 0..<d { decodeQueries[destination + i] = stepQueries[s][source + i] }
                    if recordsAttention {
                        let a = (l * nHeads + h) * n, b = ((l * nHeads + h) * S + s) * n
                        for j in 0..<n { attention![b + j] = stepAttention[s][a + j] }
                    }
                }
                for g in 0..<nKVHeads {
                    let source = (l * nKVHeads + g) * d
                    let destination = ((l * nKVHeads + g) * S + s) * d
                    for i in 0..<d { decodeKeys[destination + i] = stepKeys[s][source + i] }
                }
            }
        }
        let divisor = Double(S * groupSize)
        let importance = importanceSum.map { S > 0 ? Float($0 / divisor) : Float.nan }
        let copySource = CopySource.align(generated: generated, prompt: promptTokens)
        _ = strongestKeyRow(S)
        let retrieval = RetrievalScore(strongestKeys: Array(strongestKeys.prefix(S)), copySource: copySource,
                                       nLayers: nLayers, nHeads: nHeads)
        return CaptureData(
            nLayers: nLayers, nHeads: nHeads, nKVHeads: nKVHeads, dHead: dHead,
            promptTokens: promptTokens, generatedTokens: generated,
            stoppedAtEndOfGeneration: stoppedAtEndOfGeneration, requestedSteps: requestedSteps,
            windowPositions: Array((n - window)..<n),
            promptKeys: promptKeys, promptValues: recordsValues ? promptValues : nil,
            windowQueries: windowQueries, decodeQueries: decodeQueries, decodeKeys: decodeKeys,
            importance: importance, attention: attention, copySource: copySource,
            retrievalScore: retrieval.scores, copyingSteps: retrieval.copyingSteps)
    }
}
