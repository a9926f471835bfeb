import Foundation
import XCTest

@testable import Compression
@testable import Probe

/// Our snapkv, streaming, tova and expected against NVIDIA's kvpress (0.5.5) on the same GGUF and token ids
/// (fixtures from scripts/kvpress/make_kvpress_fixtures.py): with kvpress's settings (window 64, average
/// pooling with kernel 5, mean over the query-head group, 4 sinks, 512 future positions) each (layer, KV head)
/// must keep the same entries: mean Jaccard ≥ 0.95 over layers and heads, printed per policy.
final class KVPressAgreementTests: XCTestCase {
    private struct Case: Decodable {
        let prompt: String
        let press: String
        let budget: Int
    }

    private struct Meta: Decodable { let cases: [Case] }

    private static let root = TestPaths.fixtures.appendingPathComponent("kvpress")

    private func ints<T: FixedWidthInteger>(_ name: String, as _: T.Type) throws -> [Int] {
        try Data(contentsOf: Self.root.appendingPathComponent(name)).withUnsafeBytes { raw in
            raw.bindMemory(to: T.self).map { Int(T(littleEndian: $0)) }
        }
    }

    func testSelectionsMatchKVPress() throws {
        let model = try LanguageModel(path: try TestPaths.smolLM2())
        model.numerics = .float32   // kvpress runs transformers in float32 on the dequantized weights
        let c = model.config
        var settings = CompressionSettings()
        settings.window = 64
        settings.poolKernel = 5
        settings.pooling = .avg
        settings.aggregation = .mean
        settings.sinks = 4
        settings.expectedSinks = 4
        settings.expectedFuturePositions = 512
        let policies: [String: PolicySpec] = ["snapkv": PolicySpec(.snapkv), "streaming": PolicySpec(.streaming), "tova": PolicySpec(.tova),
                                              "expected": PolicySpec(.expected)]
        let meta = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: Self.root.appendingPathComponent("meta.json")))
        let compressor = try Compressor(model: model, settings: settings)
        var jaccards: [String: [Double]] = [:]
        for prompt in Set(meta.cases.map(\.prompt)).sorted() {
            let ids = try ints("prompts/\(prompt).ids.i32", as: Int32.self)
            let cases = meta.cases.filter { $0.prompt == prompt }
            let evidence = try compressor.evidence(prompt: ids, policies: Array(policies.values), maxTokens: 1)
            for item in cases {
                let policy = try XCTUnwrap(policies[item.press])
                let ours = try compressor.select(evidence, policies: [policy], budgets: [.entries(item.budget)])[0].kept
                let theirs = try ints("kept/\(prompt)_\(item.press)_b\(item.budget).i16", as: Int16.self)
                for l in 0..<c.nLayers {
                    for g in 0..<c.nKVHeads {
                        let start = (l * c.nKVHeads + g) * item.budget
                        let a = Set(ours[l][g]), b = Set(theirs[start..<(start + item.budget)])
                        jaccards[item.press, default: []].append(Double(a.intersection(b).count) / Double(a.union(b).count))
                    }
                }
            }
        }
        XCTAssertEqual(Set(jaccards.keys), Set(policies.keys))
        for (press, values) in jaccards.sorted(by: { $0.key < $1.key }) {
            let mean = values.reduce(0, +) / Double(values.count)
            print(String(format: "kvpress agreement: %@ mean Jaccard %.4f, min %.4f over %d (layer, KV head) selections",
                         press, mean, values.min()!, values.count))
            XCTAssertGreaterThanOrEqual(mean, 0.95, "\(press) against kvpress")
        }
    }
}
