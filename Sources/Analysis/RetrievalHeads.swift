import Probe

/// The retrieval heads of an ablation run: the captures' retrieval scores (`decode/retrieval_score`) pooled
/// over prompts, weighted by each prompt's copying steps (prompts that copy nothing, or older captures without
/// scores, are left out), and the KV heads that count as retrieval heads: those with a query head scoring
/// above `threshold`.
public struct RetrievalHeads: Sendable {
    public static let defaultThreshold = 0.1

    public let nLayers: Int, nHeads: Int, nKVHeads: Int
    /// `[L, H]`: Σ_prompts copying steps × score / Σ copying steps; NaN when no prompt copies.
    public let scores: [Double]
    /// The copying steps pooled (the weights' sum), and the prompts that contributed.
    public let copyingSteps: Int
    public let prompts: Int
    public let threshold: Double
    /// `[L, G]`: whether any query head of the KV group scores above `threshold`.
    public let kvHeads: [Bool]

    /// Pools `scores` (per prompt `[L, H]` or nil) with weights `copyingSteps`.
    public init(scores perPrompt: [[Double]?], copyingSteps weights: [Int], threshold: Double,
                nLayers L: Int, nHeads H: Int, nKVHeads G: Int) {
        precondition(perPrompt.count == weights.count && H % G == 0)
        nLayers = L
        nHeads = H
        nKVHeads = G
        self.threshold = threshold
        var sum = [Double](repeating: 0, count: L * H)
        var total = 0, used = 0
        for (score, weight) in zip(perPrompt, weights) {
            guard let score, weight > 0 else { continue }
            precondition(score.count == L * H)
            for i in sum.indices { sum[i] += Double(weight) * score[i] }
            total += weight
            used += 1
        }
        copyingSteps = total
        prompts = used
        let pooled = sum.map { total > 0 ? $0 / Double(total) : .nan }
        scores = pooled
        let groupSize = H / G
        kvHeads = (0..<(L * G)).map { row in
            let l = row / G, g = row % G
            return (0..<groupSize).contains { pooled[l * H + g * groupSize + $0] > threshold }
        }
    }

    /// Pools the scores recorded in the captures' headers.
    public init(headers: [CaptureFile.Header], threshold: Double) {
        let first = headers[0]
        self.init(scores: headers.map(\.retrievalScore), copyingSteps: headers.map(\.copyingSteps), threshold: threshold,
                  nLayers: first.nLayers, nHeads: first.nHeads, nKVHeads: first.nKVHeads)
    }

    /// The retrieval heads a capture (`decode/retrieval_score`) or an ablation (`retrieval_score`, pooled) holds,
    /// or nil for a file with neither (`inspect` shows them); `threshold` nil: the ablation's own, else the default.
    public static func read(path: String, threshold: Double? = nil) throws -> RetrievalHeads? {
        let file = try HDF5File.open(path)
        defer { file.close() }
        let (scorePath, stepsName) = file.exists("decode/retrieval_score") ? ("decode/retrieval_score", "copying_steps")
            : file.exists("retrieval_score") ? ("retrieval_score", "retrieval_copying_steps") : ("", "")
        guard !scorePath.isEmpty else { return nil }
        do {
            let dataset = try file.openDataset(scorePath)
            defer { dataset.close() }
            let scores = try dataset.read(Float.self).map(Double.init)
            let steps = try file.attribute(stepsName, as: Int.self)
            let stored = (try? file.hasAttribute("retrieval_threshold")) == true ? try file.attribute("retrieval_threshold", as: Double.self) : nil
            return RetrievalHeads(scores: [scores], copyingSteps: [steps], threshold: threshold ?? stored ?? defaultThreshold,
                                  nLayers: try file.attribute("n_layers", as: Int.self), nHeads: try file.attribute("n_heads", as: Int.self),
                                  nKVHeads: try file.attribute("n_kv_heads", as: Int.self))
        } catch {
            throw ProbeError("\(path): cannot read the retrieval scores: \(error)")
        }
    }

    /// How many KV heads count, and in which layers.
    public var count: Int { kvHeads.reduce(0) { $0 + ($1 ? 1 : 0) } }
    public var layers: [Int] { (0..<nLayers).filter { l in (0..<nKVHeads).contains { kvHeads[l * nKVHeads + $0] } } }

    /// The query heads scoring above the threshold, strongest first: (layer, head, score).
    public var strongest: [(layer: Int, head: Int, score: Double)] {
        scores.indices.filter { scores[$0] > threshold }
            .map { (layer: $0 / nHeads, head: $0 % nHeads, score: scores[$0]) }
            .sorted { $0.score > $1.score || ($0.score == $1.score && ($0.layer, $0.head) < ($1.layer, $1.head)) }
    }

    /// One line: the heads above the threshold and their layers (what `ablate` and `inspect` print).
    public var description: String {
        guard copyingSteps > 0 else { return "retrieval heads: no copying steps, no scores" }
        let heads = strongest
        let listed = heads.prefix(12).map { "L\($0.layer)H\($0.head) \(String(format: "%.2f", $0.score))" }.joined(separator: ", ")
        return "retrieval heads (score > \(threshold), \(copyingSteps) copying steps): \(heads.count) of \(nLayers * nHeads) query heads"
            + (heads.isEmpty ? "" : " (\(listed)\(heads.count > 12 ? ", …" : ""))")
            + "; \(count) of \(nLayers * nKVHeads) KV heads, layers \(layers.map(String.init).joined(separator: ","))"
    }

    /// The heads as one JSON object (`inspect --json`): `record` `retrieval_heads`, `threshold`, `copying_steps`,
    /// `query_heads` (those above the threshold, strongest first: `layer`, `head`, `score`), `n_query_heads`,
    /// `kv_heads` (how many count), `n_kv_heads`, `layers` (those holding one).
    public var jsonObject: [String: Any] {
        ["record": "retrieval_heads", "threshold": threshold, "copying_steps": copyingSteps,
         "query_heads": strongest.map { ["layer": $0.layer, "head": $0.head, "score": $0.score] as [String: Any] },
         "n_query_heads": nLayers * nHeads, "kv_heads": count, "n_kv_heads": nLayers * nKVHeads, "layers": layers]
    }
}
