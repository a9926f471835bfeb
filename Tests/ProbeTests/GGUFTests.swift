import Foundation
import XCTest
@testable import Probe
import ProbeFuzzing

/// The GGUF reader and dequantization against the `gguf` Python package (fixtures from
/// scripts/make_dequant_fixtures.py), and the errors for bad files.
final class GGUFTests: XCTestCase {
    let dir = TestPaths.fixtures.appendingPathComponent("dequant")

    struct Expected: Decodable {
        struct Tensor: Decodable {
            let name: String
            let type: String
            let shape: [Int]
            let values_file: String
        }
        let tensors: [Tensor]
        let gguf_version: Int
        let alignment: Int
    }

    func testEveryTypeDequantizesLikeTheGGUFPackage() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        let file = try GGUFFile(path: dir.appendingPathComponent("types.gguf").path)
        XCTAssertEqual(file.version, expected.gguf_version)
        XCTAssertEqual(file.alignment, expected.alignment)
        var seen = Set<String>()
        for t in expected.tensors {
            let info = try XCTUnwrap(file.tensor(named: t.name))
            XCTAssertEqual(info.shape, t.shape, t.name)
            XCTAssertEqual(info.type.name, t.type, t.name)
            let ours = try file.floats(of: info)
            let theirs = try readFloats(dir.appendingPathComponent(t.values_file))
            XCTAssertEqual(ours.count, theirs.count, t.name)
            // Same arithmetic in float32: exact up to one rounding of a fused multiply-add.
            var worst: Float = 0
            for (a, b) in zip(ours, theirs) {
                if a.isNaN || b.isNaN { XCTAssertTrue(a.isNaN && b.isNaN, t.name); continue }
                worst = max(worst, abs(a - b) / max(1, abs(b)))
            }
            XCTAssertLessThanOrEqual(worst, 1e-6, "\(t.name): relative difference \(worst)")
            seen.insert(t.type)
        }
        XCTAssertEqual(seen, ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"])
    }

    func testEveryMetadataTypeReads() throws {
        let file = try GGUFFile(path: dir.appendingPathComponent("types.gguf").path)
        guard case .uint8(200) = file.metadata["test.u8"] else { return XCTFail("u8") }
        guard case .int8(-100) = file.metadata["test.i8"] else { return XCTFail("i8") }
        guard case .uint16(60000) = file.metadata["test.u16"] else { return XCTFail("u16") }
        guard case .int16(-30000) = file.metadata["test.i16"] else { return XCTFail("i16") }
        guard case .uint32(4_000_000_000) = file.metadata["test.u32"] else { return XCTFail("u32") }
        guard case .int32(-2_000_000_000) = file.metadata["test.i32"] else { return XCTFail("i32") }
        guard case .float32(0.15625) = file.metadata["test.f32"] else { return XCTFail("f32") }
        guard case .bool(true) = file.metadata["test.bool_true"], case .bool(false) = file.metadata["test.bool_false"] else { return XCTFail("bool") }
        XCTAssertEqual(file.string("test.string"), "héllo, wörld 中文 😀")
        XCTAssertEqual(file.string("test.string_empty"), "")
        guard case .uint64(18_446_744_073_709_551_557) = file.metadata["test.u64"] else { return XCTFail("u64") }
        guard case .int64(-9_000_000_000_000_000_000) = file.metadata["test.i64"] else { return XCTFail("i64") }
        guard case .float64(2.718281828459045) = file.metadata["test.f64"] else { return XCTFail("f64") }
        XCTAssertEqual(file.metadata["test.arr_i32"]?.arrayValue?.compactMap(\.intValue), [1, -2, 3, 2_147_483_647, -2_147_483_648])
        XCTAssertEqual(file.metadata["test.arr_str"]?.arrayValue?.compactMap(\.stringValue), ["alpha", "", "γάμμα", "<|im_end|>"])
    }

    // MARK: bad files

    func assertFails(_ data: Data, containing fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let url = try TestPaths.temporaryDirectory().appendingPathComponent("bad.gguf")
        try data.write(to: url)
        XCTAssertThrowsError(try LanguageModelFiles.check(url.path), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(url.path), "message should name the file: \(message)", file: file, line: line)
            XCTAssertTrue(message.contains(fragment), "expected '\(fragment)' in: \(message)", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
        }
    }

    func testTruncatedFile() throws {
        let whole = try Data(contentsOf: dir.appendingPathComponent("types.gguf"))
        try assertFails(whole.prefix(whole.count - 100), containing: "truncated")
        try assertFails(whole.prefix(200), containing: "truncated")
        try assertFails(whole.prefix(5), containing: "truncated")
    }

    func testBadMagicAndVersion() throws {
        var b = TinyModel.builder()
        b.magic = Array("GGML".utf8)
        try assertFails(b.data(), containing: "bad magic")
        b = TinyModel.builder()
        b.version = 7
        try assertFails(b.data(), containing: "unsupported GGUF version 7")
    }

    func testUnknownAndUnsupportedTensorTypes() throws {
        var b = TinyModel.builder()
        b.tensors[1].typeID = 99
        try assertFails(b.data(), containing: "unknown ggml type id 99")
        b = TinyModel.builder()
        let i = b.tensors.firstIndex { $0.name == "blk.0.attn_q.weight" }!
        b.tensors[i].typeID = GGMLType.q8_1.rawValue
        b.tensors[i].data = Array(repeating: 0, count: TinyModel.dModel * TinyModel.dModel / 32 * 36)
        try assertFails(b.data(), containing: "tensor 'blk.0.attn_q.weight' has type Q8_1, which is not supported")
    }

    func testInconsistentShapes() throws {
        var b = TinyModel.builder()
        let i = b.tensors.firstIndex { $0.name == "blk.1.ffn_up.weight" }!
        b.tensors[i].shape = [b.tensors[i].shape[1], b.tensors[i].shape[0]]
        try assertFails(b.data(), containing: "tensor 'blk.1.ffn_up.weight' has shape")
    }

    func testMissingMetadataAndTensors() throws {
        var b = TinyModel.builder()
        b.metadata.removeAll { $0.0 == "llama.block_count" }
        try assertFails(b.data(), containing: "missing required metadata 'llama.block_count'")
        b = TinyModel.builder()
        b.tensors.removeAll { $0.name == "blk.1.attn_v.weight" }
        try assertFails(b.data(), containing: "missing tensor 'blk.1.attn_v.weight'")
        b = TinyModel.builder()
        b.metadata.removeAll { $0.0 == "tokenizer.ggml.tokens" }
        try assertFails(b.data(), containing: "tokenizer.ggml.tokens")
    }

    func testUnsupportedArchitecture() throws {
        var b = TinyModel.builder()
        let i = b.metadata.firstIndex { $0.0 == "general.architecture" }!
        b.metadata[i].1 = .string("mamba")
        try assertFails(b.data(), containing: "unsupported architecture 'mamba'")
    }
}

/// Loading a model file fully (what the command line does), for the error tests.
enum LanguageModelFiles {
    static func check(_ path: String) throws { _ = try LanguageModel(path: path) }
}
