import Foundation
import XCTest
@testable import Probe
import ProbeFuzzing

/// Malformed GGUF fields that used to be trusted (issue 22): each is refused with one line naming the file, before
/// anything is read or allocated for it; and non-finite weights do not stop the forward pass.
final class GGUFRobustnessTests: XCTestCase {
    let badName = "bad.gguf"

    func assertRejected(_ bytes: [UInt8], containing fragment: String, loadModel: Bool = false,
                        file: StaticString = #filePath, line: UInt = #line) {
        func load() throws {
            let gguf = try GGUFFile(bytes: bytes, name: badName)
            if loadModel { _ = try LanguageModel(gguf: gguf) }
        }
        XCTAssertThrowsError(try load(), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(self.badName + ": "), "message should name the file: \(message)", file: file, line: line)
            XCTAssertTrue(message.contains(fragment), "expected '\(fragment)' in: \(message)", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
        }
    }

    func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    func testInMemoryParseMatchesTheMappedFile() throws {
        let b = TinyModel.builder()
        let url = try TestPaths.temporaryDirectory().appendingPathComponent("tiny-memory.gguf")
        try b.write(to: url)
        let mapped = try GGUFFile(path: url.path)
        let memory = try GGUFFile(bytes: b.bytes(), name: "memory")
        XCTAssertEqual(memory.metadataKeys, mapped.metadataKeys)
        XCTAssertEqual(memory.tensors, mapped.tensors)
        XCTAssertEqual(memory.dataOffset, mapped.dataOffset)
        XCTAssertEqual(memory.fileSize, mapped.fileSize)
        for t in mapped.tensors { XCTAssertEqual(try memory.floats(of: t), try mapped.floats(of: t), t.name) }
        XCTAssertEqual(try LanguageModel(gguf: memory).tokenizer.encode("hello"), try LanguageModel(gguf: mapped).tokenizer.encode("hello"))
    }

    func testEmptyAndTinyInputs() {
        assertRejected([], containing: "truncated")
        assertRejected(Array("GGUF".utf8), containing: "truncated")
    }

    func testDimensionsWhoseProductOverflows() {
        var b = GGUFBuilder()
        b.tensors.append((name: "huge", shape: [1 << 40, 1 << 40, 1 << 40, 1 << 40], typeID: GGMLType.f32.rawValue, data: []))
        assertRejected(b.bytes(), containing: "tensor 'huge' with shape")
        b.tensors[0].shape = [1 << 47, 1 << 20]
        assertRejected(b.bytes(), containing: "tensor 'huge' with shape")
        b.tensors[0].shape = [1 << 30]
        assertRejected(b.bytes(), containing: "truncated: tensor 'huge' needs bytes up to")
    }

    func testTensorOffsetBeyondTheFile() {
        var b = TinyModel.builder()
        b.tensors.removeAll { $0.name != "output_norm.weight" }
        var bytes = b.bytes()
        // The offset is the last 8 bytes of the tensor table, just before the padding to the data section.
        let name = Array("output_norm.weight".utf8)
        let at = (0...(bytes.count - name.count)).first { bytes[$0..<$0 + name.count].elementsEqual(name) }! + name.count + 4 + 8 + 4
        bytes.replaceSubrange(at..<at + 8, with: le(UInt64(1) << 62))
        assertRejected(bytes, containing: "invalid data offset")
        bytes.replaceSubrange(at..<at + 8, with: le(UInt64(bytes.count / 32 * 32)))
        assertRejected(bytes, containing: "truncated: tensor 'output_norm.weight'")
    }

    func testCountsAndLengthsBeyondTheBytesLeft() {
        var b = GGUFBuilder()
        b.set("a", .strings(["x", "y"]))
        var bytes = b.bytes()
        // magic, version, tensor count, metadata count, key "a" (8 + 1), type 9, element type 8, then the array length.
        let lengthAt = 4 + 4 + 8 + 8 + 9 + 4 + 4
        XCTAssertEqual(Array(bytes[lengthAt..<lengthAt + 8]), le(UInt64(2)))
        bytes.replaceSubrange(lengthAt..<lengthAt + 8, with: le(UInt64(1) << 40))
        assertRejected(bytes, containing: "array length 1099511627776")
        bytes = b.bytes()
        bytes.replaceSubrange(16..<24, with: le(UInt64.max))
        assertRejected(bytes, containing: "metadata count")
        bytes = b.bytes()
        bytes.replaceSubrange(8..<16, with: le(UInt64(1) << 33))
        assertRejected(bytes, containing: "tensor count")
        bytes = b.bytes()
        bytes.replaceSubrange(24..<32, with: le(UInt64.max - 3))  // the key's length
        assertRejected(bytes, containing: "string length")
    }

    func testDuplicateKeysAndDeeplyNestedArrays() {
        var b = GGUFBuilder()
        b.set("general.name", .string("one"))
        b.set("general.name", .string("two"))
        assertRejected(b.bytes(), containing: "metadata key 'general.name' appears twice")
        b = GGUFBuilder()
        var nested = le(UInt32(5)) + le(UInt64(1)) + le(Int32(7))  // [7]
        for _ in 0..<5 { nested = le(UInt32(9)) + le(UInt64(1)) + nested }  // wrapped five more times
        b.set("deep", .raw(type: 9, payload: nested))
        assertRejected(b.bytes(), containing: "arrays nested deeper than 4")
        b = GGUFBuilder()
        b.set("bad", .raw(type: 9, payload: le(UInt32(77)) + le(UInt64(0))))
        assertRejected(b.bytes(), containing: "unknown array element type 77")
    }

    func testVocabularyArraysMustAgree() {
        func model(_ change: (inout GGUFBuilder) -> Void) -> [UInt8] {
            var b = TinyModel.builder()
            change(&b)
            return b.bytes()
        }
        func replace(_ key: String, _ value: GGUFBuilder.Value) -> (inout GGUFBuilder) -> Void {
            { b in b.metadata[b.metadata.firstIndex { $0.0 == key }!].1 = value }
        }
        let n = 256 + TinyModel.specials.count
        assertRejected(model(replace("tokenizer.ggml.token_type", .i32s(Array(repeating: 1, count: n + 1)))),
                       containing: "tokenizer.ggml.token_type has \(n + 1) entries for \(n) tokens", loadModel: true)
        assertRejected(model(replace("tokenizer.ggml.token_type", .strings(Array(repeating: "1", count: n)))),
                       containing: "tokenizer.ggml.token_type[0] is str, expected an integer", loadModel: true)
        assertRejected(model { $0.set("tokenizer.ggml.scores", .f32s([1, 2])) },
                       containing: "tokenizer.ggml.scores", loadModel: true)
        assertRejected(model(replace("tokenizer.ggml.merges", .i32s([1]))),
                       containing: "tokenizer.ggml.merges[0] is i32, expected a string", loadModel: true)
        // More tokens than embedding rows: an encoded id would index past the embedding.
        assertRejected(model(replace("tokenizer.ggml.tokens", .strings(TinyModel.byteTokens() + TinyModel.specials + ["extra"]))),
                       containing: "tokenizer.ggml.token_type has \(n) entries for \(n + 1) tokens", loadModel: true)
        assertRejected(model { b in
            replace("tokenizer.ggml.tokens", .strings(TinyModel.byteTokens() + TinyModel.specials + ["extra"]))(&b)
            replace("tokenizer.ggml.token_type", .i32s(Array(repeating: 1, count: n + 1)))(&b)
        }, containing: "the tokenizer has \(n + 1) tokens, token_embd.weight only \(n) rows", loadModel: true)
    }

    func testInconsistentHeadSizes() {
        var b = TinyModel.builder()
        b.set("llama.attention.key_length", .i32(-8))
        assertRejected(b.bytes(), containing: "head size -8", loadModel: true)
        b = TinyModel.builder()
        b.set("llama.rope.dimension_count", .u32(0))
        assertRejected(b.bytes(), containing: "rope.dimension_count 0", loadModel: true)
    }

    /// Found by the GGUF fuzzer: a block count of billions sized the per-layer array before any layer's tensors
    /// were looked up (an allocation of tens of gigabytes).
    func testBlockCountBeyondTheTensors() {
        var b = TinyModel.builder()
        b.metadata[b.metadata.firstIndex { $0.0 == "llama.block_count" }!].1 = .u32(3_000_000_000)
        assertRejected(b.bytes(), containing: "llama.block_count 3000000000 exceeds the file's \(b.tensors.count) tensors", loadModel: true)
    }

    /// Found by the GGUF fuzzer: a NaN or infinity in the weights reached the activations' 8-bit quantization,
    /// whose float-to-integer conversion trapped (and would be undefined with bounds checks off).
    func testNonFiniteWeightsDoNotStopTheForwardPass() throws {
        var quantized = SyntheticModel()
        quantized.matrixType = .q8_0  // activations are quantized to 8 bits for quantized weights only
        for poison in [Float.nan, .infinity] {
            var b = quantized.builder()
            let i = b.tensors.firstIndex { $0.name == "blk.0.attn_norm.weight" }!
            b.tensors[i].data = withUnsafeBytes(of: poison) { Array($0) } + b.tensors[i].data.dropFirst(4)
            let model = try LanguageModel(gguf: try GGUFFile(bytes: b.bytes(), name: "poisoned.gguf"))
            let logits = model.forward(tokens: [1, 2, 3], positions: [0, 1, 2], cache: model.makeCache(capacity: 4))
            XCTAssertEqual(logits.count, model.config.vocabularySize)
        }
    }
}
