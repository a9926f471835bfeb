import Probe

/// Greedy decoding of many independent caches that continue the same prompt (one per policy × budget):
/// up to `batchSize` sequences advance together through `LanguageModel.forwardBatch`, so the weights are
/// read once per step for all of them. `batchSize` 1 decodes them one by one through the ordinary forward
/// pass (the reference the batch is measured against).
public struct BatchedGreedyDecoder {
    public let model: LanguageModel
    public var batchSize: Int

    /// The widest batch whose answers are bit-identical to one-by-one decoding (and, measured, the fastest).
    public static var exactBatchLimit: Int { LanguageModel.exactBatchLimit }

    public init(model: LanguageModel, batchSize: Int = exactBatchLimit) {
        self.model = model
        self.batchSize = max(1, batchSize)
    }

    /// Each cache holds a prompt of `promptLength` tokens (or what a policy kept of it); cache i starts from
    /// `firstTokens[i]` (its prefill's greedy choice) at position `promptLength` and stops at an end-of-generation
    /// token or after `maxTokens` tokens. Returns the generated ids per cache (the end token excluded).
    /// `onStep` sees how many sequences are still running after each step.
    public func decode(caches: [KVCache], firstTokens: [Int], promptLength n: Int, maxTokens: Int,
                       onStep: ((Int) -> Void)? = nil) -> [[Int]] {
        precondition(firstTokens.count == caches.count)
        let stops = model.tokenizer.endOfGenerationIDs
        guard maxTokens > 0 else { return Array(repeating: [], count: caches.count) }
        var generated = firstTokens.map { stops.contains($0) ? [] : [$0] }
        var running = maxTokens > 1 ? caches.indices.filter { !generated[$0].isEmpty } : []
        for i in caches.indices { caches[i].reserve(additional: maxTokens) }
        while !running.isEmpty {
            var stillRunning: [Int] = []
            for start in stride(from: 0, to: running.count, by: batchSize) {
                let rows = Array(running[start..<min(start + batchSize, running.count)])
                let tokens = rows.map { generated[$0].last! }
                let positions = rows.map { n + generated[$0].count - 1 }
                let logits: [Float]
                if rows.count == 1 {
                    logits = model.forward(tokens: tokens, positions: positions, cache: caches[rows[0]], logits: .last)
                } else {
                    logits = model.forwardBatch(tokens: tokens, positions: positions, caches: rows.map { caches[$0] })
                }
                let vocabulary = model.config.vocabularySize
                for (r, sequence) in rows.enumerated() {
                    let next = Self.argmax(logits, row: r, width: vocabulary)
                    if stops.contains(next) { continue }
                    generated[sequence].append(next)
                    if generated[sequence].count < maxTokens { stillRunning.append(sequence) }
                }
            }
            running = stillRunning
            onStep?(running.count)
        }
        return generated
    }

    /// The index of the largest value of row `row` (the first on ties), as `GreedyDecoder.argmax`.
    static func argmax(_ values: [Float], row: Int, width: Int) -> Int {
        let base = row * width
        var best = 0
        for i in 1..<width where values[base + i] > values[base + best] { best = i }
        return best
    }
}
