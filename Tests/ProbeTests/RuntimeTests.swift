import Foundation
import XCTest
@testable import Probe

/// The forward pass on the tiny synthetic model: batching, caching and the observer seam agree with each other.
final class RuntimeTests: XCTestCase {
    func maxDifference(_ a: [Float], _ b: [Float]) -> Float { maxAbsDifference(a, b) }

    func testBatchedPrefillEqualsTokenByToken() throws {
        // Exact float32: only summation order differs. llama.cpp numerics round K/V/Q/P to float16 at
        // different points in batch and step paths, so a looser bound holds there.
        for (numerics, tolerance) in [(Numerics.float32, Float(1e-4)), (.llamaCpp, 1e-2)] {
            for arch in ["llama", "qwen2"] {
                let model = try TinyModel.load(architecture: arch)
                model.numerics = numerics
                let tokens = [5, 77, 200, 13, 13, 42, 99, 250, 1, 0, 128]
                let batched = model.forward(tokens: tokens, positions: Array(tokens.indices), cache: model.makeCache(capacity: 4), logits: .all)
                let cache = model.makeCache(capacity: 2)
                var stepwise: [Float] = []
                for (i, t) in tokens.enumerated() {
                    stepwise += model.forward(tokens: [t], positions: [i], cache: cache, logits: .last)
                }
                XCTAssertEqual(batched.count, tokens.count * model.config.vocabularySize)
                XCTAssertLessThan(maxDifference(batched, stepwise), tolerance, "\(arch) \(numerics)")
                XCTAssertEqual(cache.length(layer: 1, head: 1), tokens.count)
                XCTAssertEqual(cache.positions(layer: 0, head: 0), tokens.indices.map { Int32($0) })
            }
        }
    }

    func testLastLogitsAreTheLastRowOfAll() throws {
        let model = try TinyModel.load()
        let tokens = [3, 1, 4, 1, 5, 9, 2, 6]
        let all = model.forward(tokens: tokens, positions: Array(tokens.indices), cache: model.makeCache(capacity: 8), logits: .all)
        let last = model.forward(tokens: tokens, positions: Array(tokens.indices), cache: model.makeCache(capacity: 8), logits: .last)
        XCTAssertLessThan(maxDifference(Array(all.suffix(model.config.vocabularySize)), last), 1e-4)
    }

    func testPositionsMatterThroughRoPE() throws {
        let model = try TinyModel.load()
        model.numerics = .float32
        let a = model.forward(tokens: [10, 20, 30], positions: [0, 1, 2], cache: model.makeCache(capacity: 3))
        let b = model.forward(tokens: [10, 20, 30], positions: [0, 1, 40], cache: model.makeCache(capacity: 3))
        XCTAssertGreaterThan(maxDifference(a, b), 1e-3)
        // Shifting every position by the same amount leaves attention scores, and so logits, unchanged.
        let c = model.forward(tokens: [10, 20, 30], positions: [5, 6, 7], cache: model.makeCache(capacity: 3))
        XCTAssertLessThan(maxDifference(a, c), 1e-4)
    }

    func testTruncateDiscardsAppendedEntries() throws {
        let model = try TinyModel.load()
        let cache = model.makeCache(capacity: 16)
        model.forward(tokens: [1, 2, 3, 4], positions: [0, 1, 2, 3], cache: cache)
        let saved = cache.lengths
        let before = model.forward(tokens: [7], positions: [4], cache: cache)
        cache.truncate(to: saved)
        model.forward(tokens: [50, 60, 70], positions: [10, 11, 12], cache: cache)
        cache.truncate(to: saved)
        XCTAssertEqual(cache.lengths, saved)
        let after = model.forward(tokens: [7], positions: [4], cache: cache)
        XCTAssertEqual(before, after)
    }

    func testKeepingEverythingChangesNothingAndEvictionIsReal() throws {
        let model = try TinyModel.load()
        let cache = model.makeCache(capacity: 16)
        let prompt = Array(40..<52)
        model.forward(tokens: prompt, positions: Array(prompt.indices), cache: cache)
        let all = (0..<model.config.nLayers).map { _ in (0..<model.config.nKVHeads).map { _ in Array(prompt.indices) } }
        let copy = cache.keeping(all, extraCapacity: 4)
        XCTAssertEqual(copy.bytesHeld, cache.bytesHeld)
        let full = model.forward(tokens: [9], positions: [12], cache: cache)
        XCTAssertEqual(model.forward(tokens: [9], positions: [12], cache: copy), full)
        let half = (0..<model.config.nLayers).map { _ in (0..<model.config.nKVHeads).map { _ in Array(stride(from: 0, to: 12, by: 2)) } }
        let evicted = model.makeCache(capacity: 16)
        model.forward(tokens: prompt, positions: Array(prompt.indices), cache: evicted)
        let smaller = evicted.keeping(half)
        XCTAssertEqual(smaller.bytesHeld * 2, evicted.bytesHeld)
        XCTAssertEqual(smaller.positions(layer: 1, head: 0), [0, 2, 4, 6, 8, 10])
        XCTAssertGreaterThan(maxDifference(model.forward(tokens: [9], positions: [12], cache: smaller), full), 1e-4)
    }

    final class Recorder: ForwardObserver {
        var projected: [(layer: Int, positions: [Int])] = []
        var rowSums: [Float] = []
        var wantsAttention: Bool { true }
        func didProject(layer: Int, positions: [Int], queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>) {
            projected.append((layer, positions))
        }
        func didAttend(layer: Int, head: Int, firstRow: Int, rows: Int, keyCount: Int, probabilities: UnsafePointer<Float>) {
            for r in 0..<rows {
                rowSums.append((0..<keyCount).reduce(0) { $0 + probabilities[r * keyCount + $1] })
                // Causal (empty cache before the batch): batch row i sees entries 0...i only.
                let i = firstRow + r
                XCTAssertGreaterThan(probabilities[r * keyCount + i], 0)
                for j in (i + 1)..<keyCount { XCTAssertEqual(probabilities[r * keyCount + j], 0) }
            }
        }
    }

    func testObserverSeesEveryLayerAndNormalisedAttention() throws {
        let model = try TinyModel.load()
        let recorder = Recorder()
        model.forward(tokens: [1, 2, 3, 4, 5], positions: [0, 1, 2, 3, 4], cache: model.makeCache(capacity: 5), observer: recorder)
        XCTAssertEqual(recorder.projected.map(\.layer), [0, 1])
        XCTAssertEqual(recorder.projected[0].positions, [0, 1, 2, 3, 4])
        XCTAssertEqual(recorder.rowSums.count, 2 * TinyModel.heads * 5)
        for s in recorder.rowSums { XCTAssertEqual(s, 1, accuracy: 1e-5) }
    }

    func testPromptLongerThanContextIsRefused() throws {
        let model = try TinyModel.load()
        let decoder = GreedyDecoder(model: model)
        XCTAssertThrowsError(try decoder.generate(prompt: Array(repeating: 5, count: TinyModel.context + 1), maxTokens: 0)) { error in
            XCTAssertTrue("\(error)".contains("exceeds the model's context of \(TinyModel.context) tokens"), "\(error)")
        }
        XCTAssertThrowsError(try decoder.generate(prompt: Array(repeating: 5, count: 90), maxTokens: 10))
        let g = try decoder.generate(prompt: [5, 6, 7], maxTokens: 5)
        XCTAssertLessThanOrEqual(g.ids.count, 5)
    }
}
