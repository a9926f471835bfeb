import Foundation
import XCTest
@testable import Probe

/// The runtime against llama.cpp on SmolLM2-135M-Instruct Q4_1 (fixtures from scripts/make_llama_fixtures.py).
///
/// Tolerance for final-position logits: llama.cpp multiplies Q4_1/Q8_0 weights with activations quantized to
/// 8 bits and keeps K/V in F16; we use float32 activations and cache. So logits are compared by the ranking
/// they induce (top-1 identical, top-10 sets identical) and by max |Δ| ≤ `logitTolerance`.
final class ParityTests: XCTestCase {
    static let logitTolerance: Float = 0.75
    static let fixtureDir = TestPaths.fixtures.appendingPathComponent("smollm2-135m")

    nonisolated(unsafe) static var sharedModel: LanguageModel?

    func model() throws -> LanguageModel {
        if let m = Self.sharedModel { return m }
        ComputeThreads.set(2)
        let m = try LanguageModel(path: try TestPaths.smolLM2())
        Self.sharedModel = m
        return m
    }

    func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.fixtureDir.appendingPathComponent(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func testGreedyContinuationsMatchLlamaCpp() throws {
        let model = try model()
        let doc = try json("generate.json")
        let eog = Set((doc["eog_ids"] as? [Int]) ?? [])
        let prompts = try XCTUnwrap(doc["prompts"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(prompts.count, 6)
        XCTAssertEqual(model.tokenizer.endOfGenerationIDs, eog)
        var kinds = Set<String>()
        for p in prompts {
            let ids = try XCTUnwrap(p["prompt_ids"] as? [Int])
            let expected = try XCTUnwrap(p["generated_ids"] as? [Int])
            let maxNew = try XCTUnwrap(p["max_new_tokens"] as? Int)
            let stopped = try XCTUnwrap(p["stopped_at_eog"] as? Bool)
            let g = try GreedyDecoder(model: model).generate(prompt: ids, maxTokens: maxNew)
            XCTAssertEqual(g.ids, expected.filter { !eog.contains($0) }, "prompt: \(p["prompt"] ?? "")")
            XCTAssertEqual(g.stoppedAtEndOfGeneration, stopped)
            XCTAssertEqual(model.tokenizer.decode(g.ids), p["generated_text"] as? String)
            XCTAssertEqual(model.tokenizer.encode(try XCTUnwrap(p["prompt"] as? String)), ids, "prompt tokenization")
            kinds.insert(try XCTUnwrap(p["kind"] as? String))
        }
        XCTAssertEqual(kinds, ["plain", "chat"])
    }

    func testFinalLogitsMatchLlamaCpp() throws {
        let model = try model()
        let doc = try json("logits.json")
        let entries = try XCTUnwrap(doc["prompts"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(entries.count, 4)
        for e in entries {
            let ids = try XCTUnwrap(e["token_ids"] as? [Int])
            let raw = try Data(contentsOf: Self.fixtureDir.appendingPathComponent(try XCTUnwrap(e["file"] as? String)))
            let theirs: [Float] = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let ours = model.forward(tokens: ids, positions: Array(ids.indices), cache: model.makeCache(capacity: ids.count))
            XCTAssertEqual(ours.count, theirs.count)
            let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? .infinity
            let top10Ours = Set(topK(ours, 10)), top10Theirs = Set(topK(theirs, 10))
            let diffs = zip(ours, theirs).map { Double($0 - $1) }
            let mean = diffs.reduce(0, +) / Double(diffs.count)
            let rms = (diffs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(diffs.count)).squareRoot()
            print("parity: \(ids.count) tokens: max |Δlogit| = \(worst), mean Δ \(mean), rms Δ \(rms), top-1 \(topK(ours, 1)) vs \(topK(theirs, 1))")
            XCTAssertEqual(topK(ours, 1), topK(theirs, 1), "top-1, \(ids.count) tokens")
            XCTAssertEqual(top10Ours, top10Theirs, "top-10 set, \(ids.count) tokens")
            XCTAssertLessThanOrEqual(worst, Self.logitTolerance, "max |Δlogit|, \(ids.count) tokens")
        }
    }

    /// With `Numerics.float32` the runtime is exact float32 arithmetic: it must reproduce an independent float64
    /// NumPy forward pass (scripts/make_reference_fixtures.py) to float32 rounding.
    func testFloat32NumericsMatchTheFloat64Reference() throws {
        let model = try model()
        model.numerics = .float32
        defer { model.numerics = .llamaCpp }
        let doc = try json("reference.json")
        let entries = try XCTUnwrap(doc["prompts"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(entries.count, 2)
        for e in entries {
            let ids = try XCTUnwrap(e["token_ids"] as? [Int])
            let raw = try Data(contentsOf: Self.fixtureDir.appendingPathComponent(try XCTUnwrap(e["file"] as? String)))
            let exact: [Float] = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let ours = model.forward(tokens: ids, positions: Array(ids.indices), cache: model.makeCache(capacity: ids.count))
            let worst = zip(ours, exact).map { abs($0 - $1) }.max() ?? .infinity
            print("reference: \(ids.count) tokens: float32 vs float64 max |Δlogit| = \(worst)")
            XCTAssertLessThanOrEqual(worst, 0.01, "\(ids.count) tokens")
            XCTAssertEqual(topK(ours, 10), topK(exact, 10))
        }
    }

    func topK(_ v: [Float], _ k: Int) -> [Int] {
        Array(v.indices.sorted { v[$0] > v[$1] || (v[$0] == v[$1] && $0 < $1) }.prefix(k))
    }
}
