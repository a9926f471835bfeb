import Foundation
import XCTest
@testable import Probe

/// The runtime against llama.cpp on SmolLM2-135M-Instruct Q4_1 (fixtures from scripts/make_llama_fixtures.py).
///
/// This model's logits are chaotic under rounding: llama.cpp disagrees with itself when only its rounding
/// changes (float32 instead of float16 KV cache, flash attention, float32 weights instead of 8-bit
/// activations), by up to ~1.8 in max |Δlogit|. The fixtures record, per prompt, what is stable across those
/// four equivalent llama.cpp configurations, and the tests hold us to that:
/// - greedy continuations: identical on every prompt that is stable across the configurations and never
///   passes a near-tie (llama.cpp's top-1/top-2 margin ≥ `minimumMargin` at every step): ≥ 6, plain and chat;
/// - final logits: the same top-1 where llama.cpp's top-1 is stable, the same top-10 set where its top-10 set is
///   stable, and max |Δ| within `spreadFactor` × the largest difference llama.cpp shows against itself.
/// `testFloat32NumericsMatchLlamaCppOnFloat32Weights` is the tight check: with float32 arithmetic on both
/// sides, there is no rounding to disagree about.
final class ParityTests: XCTestCase {
    static let spreadFactor = 1.5
    /// Below this top-1/top-2 margin, a greedy step is decided by rounding (our logits differ from llama.cpp's
    /// by an rms of 0.1–0.2, as llama.cpp's own configurations differ from each other).
    static let minimumMargin = 0.25
    static let fixtures = LlamaCppFixtures("smollm2-135m")

    nonisolated(unsafe) static var sharedModel: LanguageModel?

    func model() throws -> LanguageModel {
        if let m = Self.sharedModel { return m }
        ComputeThreads.set(2)
        let m = try LanguageModel(path: try TestPaths.smolLM2())
        Self.sharedModel = m
        return m
    }

    func json(_ name: String) throws -> [String: Any] { try Self.fixtures.json(name) }

    func testGreedyContinuationsMatchLlamaCpp() throws {
        let stableKinds = try Self.fixtures.checkGreedyContinuations(try model(), minimumMargin: Self.minimumMargin)
        XCTAssertGreaterThanOrEqual(stableKinds.values.reduce(0, +), 6)
        XCTAssertGreaterThanOrEqual(stableKinds["plain"] ?? 0, 3)
        XCTAssertGreaterThanOrEqual(stableKinds["chat"] ?? 0, 3)
    }

    /// Once per SIMD tier this CPU supports (the tiers' logits are also bit-identical to each other).
    func testFinalLogitsMatchLlamaCpp() throws {
        let model = try model()
        let doc = try json("logits.json")
        let entries = try XCTUnwrap(doc["prompts"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(entries.count, 4)
        defer { try? SIMDTier.select(SIMDTier.supported.last!) }
        var firstTier: [[Float]] = []
        for tier in SIMDTier.supported {
            try SIMDTier.select(tier)
            var logits: [[Float]] = []
            for e in entries {
                let ids = try XCTUnwrap(e["token_ids"] as? [Int])
                let (ours, theirs) = try finalLogits(model, ids, against: try XCTUnwrap(e["file"] as? String))
                logits.append(ours)
                XCTAssertEqual(ours.count, theirs.count)
                let worst = Double(maxAbsDifference(ours, theirs))
                let spread = try XCTUnwrap(e["variant_max_abs_diff"] as? [String: Double]).values.max() ?? 0
                let tolerance = Self.spreadFactor * spread
                print("parity (\(tier.rawValue)): \(ids.count) tokens: max |Δlogit| = \(worst), llama.cpp's own spread \(spread), tolerance \(tolerance)")
                if try XCTUnwrap(e["top1_stable"] as? Bool) {
                    XCTAssertEqual(topK(ours, 1), topK(theirs, 1), "top-1, \(ids.count) tokens, \(tier.rawValue)")
                }
                if try XCTUnwrap(e["top10_stable"] as? Bool) {
                    XCTAssertEqual(Set(topK(ours, 10)), Set(topK(theirs, 10)), "top-10 set, \(ids.count) tokens, \(tier.rawValue)")
                }
                XCTAssertLessThanOrEqual(worst, tolerance, "max |Δlogit|, \(ids.count) tokens, \(tier.rawValue)")
            }
            if firstTier.isEmpty { firstTier = logits } else { XCTAssertEqual(logits, firstTier, "\(tier.rawValue) logits differ from portable's") }
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
            let (ours, exact) = try finalLogits(model, ids, against: try XCTUnwrap(e["file"] as? String))
            let worst = maxAbsDifference(ours, exact)
            print("reference: \(ids.count) tokens: float32 vs float64 max |Δlogit| = \(worst)")
            XCTAssertLessThanOrEqual(worst, 0.01, "\(ids.count) tokens")
            XCTAssertEqual(topK(ours, 10), topK(exact, 10))
        }
    }

    /// Float32 arithmetic on both sides: llama.cpp on the model dequantized to float32 weights with a float32
    /// KV cache, and our `Numerics.float32`. Only summation order differs, so the logits agree to 1e-2 and
    /// every greedy continuation is identical, near-ties included.
    func testFloat32NumericsMatchLlamaCppOnFloat32Weights() throws {
        let model = try model()
        model.numerics = .float32
        defer { model.numerics = .llamaCpp }
        for e in try XCTUnwrap(try json("logits.json")["prompts"] as? [[String: Any]]) {
            let ids = try XCTUnwrap(e["token_ids"] as? [Int])
            let (ours, theirs) = try finalLogits(model, ids, against: try XCTUnwrap(e["file_f32_weights"] as? String))
            let worst = maxAbsDifference(ours, theirs)
            print("float32 parity: \(ids.count) tokens: max |Δlogit| = \(worst)")
            XCTAssertLessThanOrEqual(worst, 0.01, "\(ids.count) tokens")
            XCTAssertEqual(topK(ours, 10), topK(theirs, 10))
        }
        try Self.fixtures.checkFloat32Continuations(model)
    }

    /// Our final-position logits for `ids` (fresh cache) and the fixture's logits in `file`.
    func finalLogits(_ model: LanguageModel, _ ids: [Int], against file: String) throws -> (ours: [Float], fixture: [Float]) {
        (finalPositionLogits(model, ids), try readFloats(Self.fixtures.directory.appendingPathComponent(file)))
    }
}
