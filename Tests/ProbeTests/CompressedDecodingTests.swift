import Analysis
import Foundation
import XCTest

@testable import Compression
@testable import Probe

/// Decoding on a really smaller cache: `full` is the runtime itself, eviction changes answers only through
/// what it removed, memory shrinks by the formula, and batched decoding equals one-by-one decoding.
final class CompressedDecodingTests: XCTestCase {
    private func evidence(_ prompt: [Int], maxTokens: Int = 16) throws -> PromptEvidence {
        try Compressor(model: try CompressionPolicyTests.model()).evidence(prompt: prompt, policies: [PolicySpec(.full)],
                                                                          maxTokens: maxTokens)
    }

    /// Greedy tokens and the logits of every step decoded on `cache` from the prefill's first token.
    private func decode(_ model: LanguageModel, cache: KVCache, first: Int, n: Int, steps: Int) -> (tokens: [Int], logits: [[Float]]) {
        var tokens = [first], logits: [[Float]] = []
        for s in 0..<steps {
            let out = model.forward(tokens: [tokens.last!], positions: [n + s], cache: cache, logits: .last)
            logits.append(out)
            tokens.append(GreedyDecoder.argmax(out))
        }
        return (tokens, logits)
    }

    func testFullReproducesTheUncompressedRuntimeExactly() throws {
        let model = try CompressionPolicyTests.model()
        let (prompt, _) = try CompressionPolicyTests.needlePrompt(model)
        let n = prompt.count
        // The runtime alone: prefill and 6 greedy steps.
        let plain = model.makeCache(capacity: n + 8)
        let first = GreedyDecoder.argmax(model.forward(tokens: prompt, positions: Array(0..<n), cache: plain))
        let reference = decode(model, cache: plain, first: first, n: n, steps: 6)
        // Through the compressor: `full`'s kept entries copied into a new cache.
        let e = try evidence(prompt)
        XCTAssertEqual(e.firstToken, first)
        let kept = try FullPolicy().keep(nil, budget: n, evidence: e)
        let cache = e.cache.keeping(kept, extraCapacity: 8)
        let compressed = decode(model, cache: cache, first: e.firstToken, n: n, steps: 6)
        XCTAssertEqual(compressed.tokens, reference.tokens)
        for s in 0..<6 { XCTAssertEqual(compressed.logits[s], reference.logits[s], "step \(s): bit for bit") }
        XCTAssertEqual(e.truthTokens.prefix(7), reference.tokens.prefix(7))
    }

    func testEvictionIsRealNotAMask() throws {
        let model = try CompressionPolicyTests.model()
        let c = model.config
        let (prompt, needle) = try CompressionPolicyTests.needlePrompt(model)
        let n = prompt.count
        let e = try evidence(prompt)
        let full = e.truthTokens
        XCTAssertTrue(model.tokenizer.decode(full).contains("4721"), "the full cache answers: \(model.tokenizer.decode(full))")
        let entryBytes = c.nLayers * c.nKVHeads * c.dHead * 2 * model.cacheType.bytesPerValue

        // Everything but one far-away filler token: the same answer, logits within a hair, one entry less per head.
        let far = 40
        XCTAssertFalse(needle.contains(far))
        let allButOne = Array(repeating: Array(repeating: (0..<n).filter { $0 != far }, count: c.nKVHeads), count: c.nLayers)
        let smaller = e.cache.keeping(allButOne, extraCapacity: 20)
        XCTAssertEqual(smaller.bytesHeld, (n - 1) * entryBytes)
        XCTAssertEqual(e.cache.bytesHeld, n * entryBytes, "the prompt cache itself is untouched")
        let reference = decode(model, cache: e.cache.keeping(Array(repeating: Array(repeating: Array(0..<n), count: c.nKVHeads), count: c.nLayers), extraCapacity: 20),
                               first: e.firstToken, n: n, steps: 12)
        let withoutOne = decode(model, cache: smaller, first: e.firstToken, n: n, steps: 12)
        XCTAssertEqual(withoutOne.tokens, reference.tokens)
        let drift = zip(withoutOne.logits[0], reference.logits[0]).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(drift, 0, "the entry was really removed")
        XCTAssertLessThan(drift, 1.0, "one far token barely matters: max |Δlogit| \(drift)")

        // Without the needle sentence the answer loses the code.
        let noNeedle = Array(repeating: Array(repeating: (0..<n).filter { !needle.contains($0) }, count: c.nKVHeads), count: c.nLayers)
        let broken = BatchedGreedyDecoder(model: model, batchSize: 1)
            .decode(caches: [e.cache.keeping(noNeedle, extraCapacity: 20)], firstTokens: [e.firstToken], promptLength: n, maxTokens: 16)[0]
        XCTAssertFalse(model.tokenizer.decode(broken).contains("4721"), "evicting the needle breaks the answer: \(model.tokenizer.decode(broken))")
    }

    func testCacheBytesFollowTheFormulaAndBatchedDecodingEqualsOneByOne() throws {
        let model = try CompressionPolicyTests.model()
        let c = model.config
        XCTAssertEqual(model.cacheType.bytesPerValue, 2, "llama-cpp numerics hold keys and values in float16")
        let (prompt, _) = try CompressionPolicyTests.needlePrompt(model)
        var settings = CompressionSettings()
        settings.window = 8
        settings.pseudoCount = 8
        let policies = [PolicyName.full, .random, .streaming, .h2o, .snapkv, .tova, .dapq].map { PolicySpec($0) }
        let budgets: [Budget] = [.entries(16), .entries(48), .fraction(0.1)]
        let maxTokens = 10
        let oneByOne = try Compressor(model: model, settings: settings, batchSize: 1)
            .run(prompt: prompt, policies: policies, budgets: budgets, maxTokens: maxTokens)
        let batched = try Compressor(model: model, settings: settings, batchSize: BatchedGreedyDecoder.exactBatchLimit)
            .run(prompt: prompt, policies: policies, budgets: budgets, maxTokens: maxTokens)
        XCTAssertEqual(batched.cells.count, 1 + 6 * 3)
        for (a, b) in zip(oneByOne.cells, batched.cells) {
            XCTAssertEqual(a.tokens, b.tokens, "\(a.policy) \(a.budget): batched decoding equals one by one")
            XCTAssertEqual(a.kept, b.kept)
            let entryBytes = c.nLayers * c.nKVHeads * c.dHead * 2 * model.cacheType.bytesPerValue
            XCTAssertEqual(b.cacheBytes, b.entries * entryBytes, "B × layers × KV heads × d_head × 2 × bytes per value")
            let fed = max(0, b.tokens.count - (b.tokens.count == maxTokens ? 1 : 0))
            XCTAssertEqual(b.finalCacheBytes, (b.entries + fed) * entryBytes, "plus the generated tokens fed back")
        }
        XCTAssertEqual(batched.cells.first { $0.policy == "full" }?.agreement, 1)
        // A batch wider than the exact limit takes the matrix-matrix path: the same answers up to rounding.
        let wide = try Compressor(model: model, settings: settings, batchSize: 64)
            .run(prompt: prompt, policies: policies, budgets: budgets, maxTokens: maxTokens)
        let same = zip(wide.cells, batched.cells).map { CompressionResult.tokenAgreement($0.tokens, $1.tokens) }
        XCTAssertGreaterThan(same.reduce(0, +) / Double(same.count), 0.9)
    }
}
