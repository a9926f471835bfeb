import CSIMD
import Foundation
import XCTest
@testable import Probe

/// The float16 KV cache (`KVType.f16`): its conversions are IEEE's on every SIMD tier, its attention kernels give the
/// float32 kernels' bits, and a forward pass on an f16 cache gives exactly the logits of an f32 cache (prefill,
/// decoding, eviction, batched decoding) on the tiny model and on SmolLM2, in half the bytes.
final class KVTypeTests: XCTestCase {
    override func tearDown() {
        try? SIMDTier.select(SIMDTier.supported.last!)
        super.tearDown()
    }

    func testHalfConversionsAreIEEEOnEveryTier() throws {
        let halves = (0...UInt16.max).map { $0 }
        var rng = SeededGenerator(seed: 11)
        var floats: [Float] = [0, -0, 65504, 65519.99, 65520, -65520, 1e9, .infinity, -.infinity, 0x1p-24, 0x1p-25,
                               0x1.8p-25, 0x1p-26, 0x1.ffcp-15, 0x1p-14, -0x1.004p-14, .leastNonzeroMagnitude]
        for _ in 0..<200_000 {
            // Magnitudes across float16's range and beyond, both signs.
            let exponent = Int(rng.next() % 56) - 34
            floats.append(Float(sign: rng.next() & 1 == 0 ? .plus : .minus, exponent: exponent, significand: 1 + rng.nextFloat()))
        }
        var firstTier: [[UInt32]] = []
        for tier in SIMDTier.supported {
            try SIMDTier.select(tier)
            var widened = [Float](repeating: 0, count: halves.count)
            csimd_widen_half(halves, &widened, Int64(halves.count))
            for (h, f) in zip(halves, widened) where !Float16(bitPattern: h).isNaN {
                XCTAssertEqual(f.bitPattern, Float(Float16(bitPattern: h)).bitPattern, "\(tier.rawValue): widen \(h)")
            }
            var narrowed = [UInt16](repeating: 0, count: floats.count)
            csimd_narrow_to_half(floats, &narrowed, Int64(floats.count))
            for (x, h) in zip(floats, narrowed) {
                XCTAssertEqual(h, Float16(x).bitPattern, "\(tier.rawValue): narrow \(x)")
            }
            var roundTrip = [UInt16](repeating: 0, count: halves.count)
            csimd_narrow_to_half(widened, &roundTrip, Int64(halves.count))
            XCTAssertEqual(zip(halves, roundTrip).filter { $0 != $1 && !Float16(bitPattern: $0).isNaN }.count, 0, tier.rawValue)
            let bits = [widened.map(\.bitPattern), narrowed.map(UInt32.init), roundTrip.map(UInt32.init)]
            if firstTier.isEmpty { firstTier = bits } else { XCTAssertEqual(bits, firstTier, "\(tier.rawValue): NaNs included") }
        }
    }

    func testHalfKernelsGiveTheFloatKernelsBitsOnEveryTier() throws {
        var rng = SeededGenerator(seed: 12)
        let count = 203
        let query: [Float] = (0..<128).map { _ in rng.nextFloat() * 2 - 1 }
        let weights: [Float] = (0..<count).map { _ in rng.nextFloat() }
        for width in [64, 8, 13, 128] {
            var half = [UInt16](repeating: 0, count: count * width)
            let values: [Float] = (0..<(count * width)).map { _ in (rng.nextFloat() * 2 - 1) * 8 }
            csimd_narrow_to_half(values, &half, Int64(values.count))
            var rows = [Float](repeating: 0, count: half.count)
            csimd_widen_half(half, &rows, Int64(half.count))
            for tier in SIMDTier.supported {
                try SIMDTier.select(tier)
                for j in 0..<count {
                    let expected = rows.withUnsafeBufferPointer { Kernels.dot(query, $0.baseAddress! + j * width, count: width) }
                    let got = half.withUnsafeBufferPointer { Kernels.dot(query, half: $0.baseAddress! + j * width, count: width) }
                    XCTAssertEqual(got.bitPattern, expected.bitPattern, "\(tier.rawValue) width \(width) row \(j)")
                }
                var expected = [Float](repeating: 0, count: width), got = [Float](repeating: 1, count: width)
                Kernels.weightedSum(weights, rows: rows, count: count, width: width, into: &expected)
                Kernels.weightedSum(weights, halfRows: half, count: count, width: width, into: &got)
                XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern), "\(tier.rawValue) width \(width)")
            }
        }
    }

    /// Prefill (a batch wider than the exact-batch limit: matrix-product attention), decoding steps, an evicted copy
    /// and two sequences decoded in one batch, on `model` with a cache of `type`: every logit produced.
    func run(_ model: LanguageModel, _ type: KVType, prompt: [Int], steps: Int) -> (logits: [[Float]], bytes: [Int]) {
        model.kvType = type
        defer { model.kvType = nil }
        let n = prompt.count, c = model.config
        let cache = model.makeCache(capacity: n + steps)
        XCTAssertEqual(cache.kvType, type)
        var logits = [model.forward(tokens: prompt, positions: Array(0..<n), cache: cache, logits: .all)]
        for s in 0..<steps {
            logits.append(model.forward(tokens: [GreedyDecoder.argmax(logits.last!.suffix(c.vocabularySize).map { $0 })],
                                        positions: [n + s], cache: cache))
        }
        // Every other entry of each head (different per head), then two sequences in one batch.
        let kept = (0..<c.nLayers).map { l in (0..<c.nKVHeads).map { g in (0..<(n + steps)).filter { ($0 + l + g) % 2 == 0 } } }
        let evicted = cache.keeping(kept, extraCapacity: 4)
        let other = cache.keeping(kept.map { $0.map { Array($0.dropFirst()) } }, extraCapacity: 4)
        logits.append(model.forward(tokens: [7], positions: [n + steps], cache: evicted))
        logits.append(model.forwardBatch(tokens: [8, 9], positions: [n + steps + 1, n + steps + 1], caches: [evicted, other]))
        return (logits, [cache.bytesHeld, evicted.bytesHeld])
    }

    func testHalfCacheGivesTheFloatCachesLogitsOnTheTinyModelOnEveryTier() throws {
        for arch in ["llama", "qwen2"] {
            let model = try TinyModel.load(architecture: arch)
            XCTAssertEqual(model.cacheType, .f16, "llama-cpp numerics default to a half cache")
            let prompt = (0..<40).map { ($0 * 37 + 11) % 256 }
            for tier in SIMDTier.supported {
                try SIMDTier.select(tier)
                let half = run(model, .f16, prompt: prompt, steps: 5), float = run(model, .f32, prompt: prompt, steps: 5)
                XCTAssertEqual(half.logits.map { $0.map(\.bitPattern) }, float.logits.map { $0.map(\.bitPattern) }, "\(arch) \(tier.rawValue)")
                XCTAssertEqual(half.bytes.map { $0 * 2 }, float.bytes)
            }
        }
    }

    func testHalfCacheGivesTheFloatCachesLogitsOnSmolLM2() throws {
        ComputeThreads.set(2)
        let model = try LanguageModel(path: try TestPaths.smolLM2())
        let prompt = model.tokenizer.encode("The float16 cache holds every key and value that llama.cpp rounds to half precision, "
                                            + "so attention reads the same numbers from half the memory. Paris is the capital of")
        let half = run(model, .f16, prompt: prompt, steps: 4), float = run(model, .f32, prompt: prompt, steps: 4)
        XCTAssertEqual(half.logits.map { $0.map(\.bitPattern) }, float.logits.map { $0.map(\.bitPattern) })
        let c = model.config
        XCTAssertEqual(half.bytes[0], (prompt.count + 4) * c.nLayers * c.nKVHeads * c.dHead * 2 * 2)
        XCTAssertEqual(half.bytes.map { $0 * 2 }, float.bytes)
    }

    func testHalfStorageIsRefusedUnderFloat32Numerics() throws {
        XCTAssertEqual(KVType.default(for: .llamaCpp), .f16)
        XCTAssertEqual(KVType.default(for: .float32), .f32)
        XCTAssertNoThrow(try KVType.f32.check(for: .float32))
        XCTAssertThrowsError(try KVType.f16.check(for: .float32)) { error in
            XCTAssertTrue("\(error)".contains("float32 numerics"), "\(error)")
        }
        let model = try TinyModel.load()
        model.numerics = .float32
        XCTAssertEqual(model.cacheType, .f32)
        XCTAssertEqual(model.makeCache(capacity: 4).kvType, .f32)
    }

    func testCacheReadsBackWhatWasAppended() throws {
        let model = try TinyModel.load()
        let cache = model.makeCache(capacity: 1)
        model.forward(tokens: [1, 2, 3], positions: [0, 1, 2], cache: cache)
        let float = model.makeCache(capacity: 1)
        model.kvType = .f32
        model.forward(tokens: [1, 2, 3], positions: [0, 1, 2], cache: float)
        model.kvType = nil
        for l in 0..<model.config.nLayers {
            for g in 0..<model.config.nKVHeads {
                XCTAssertEqual(cache.keys(layer: l, head: g), float.keys(layer: l, head: g))
                XCTAssertEqual(cache.values(layer: l, head: g, rows: 1..<3), float.values(layer: l, head: g, rows: 1..<3))
            }
        }
    }
}
