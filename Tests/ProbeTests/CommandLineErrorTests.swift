import Foundation
import XCTest
@testable import Probe

/// Bad input through the command line: a one-line error naming the file and the problem, a non-zero exit.
final class CommandLineErrorTests: XCTestCase {
    func assertOneLineError(_ arguments: [String], containing fragments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try runCommand(try TestPaths.binary(), arguments)
        XCTAssertNotEqual(result.status, 0, file: file, line: line)
        let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(message.contains(fragment), "expected '\(fragment)' in: \(message)", file: file, line: line)
        }
    }

    func testCorruptModelFiles() throws {
        let dir = try TestPaths.temporaryDirectory()
        var bad = TinyModel.builder()
        bad.magic = Array("GGJT".utf8)
        let badMagic = dir.appendingPathComponent("bad-magic.gguf")
        try bad.write(to: badMagic)
        try assertOneLineError(["info", "--model", badMagic.path], containing: [badMagic.path, "bad magic"])
        try assertOneLineError(["generate", "--model", badMagic.path, "--prompt", "hi"], containing: [badMagic.path, "bad magic"])

        let whole = TinyModel.builder().data()
        let truncated = dir.appendingPathComponent("truncated.gguf")
        try whole.prefix(whole.count / 2).write(to: truncated)
        try assertOneLineError(["generate", "--model", truncated.path, "--prompt", "hi"], containing: [truncated.path, "truncated"])
    }

    func testMissingPathAndUnknownModel() throws {
        try assertOneLineError(["generate", "--model", "/nonexistent/model.gguf", "--prompt", "hi"], containing: ["/nonexistent/model.gguf", "no such file"])
        try assertOneLineError(["generate", "--prompt-file", "/nonexistent/prompt.txt"], containing: ["/nonexistent/prompt.txt"])
    }

    func testPromptLongerThanTheContextIsRefused() throws {
        let url = try TestPaths.temporaryDirectory().appendingPathComponent("tiny.gguf")
        try TinyModel.builder().write(to: url)
        let long = String(repeating: "a", count: TinyModel.context + 10)
        try assertOneLineError(["generate", "--model", url.path, "--prompt", long, "--max-tokens", "1"],
                               containing: ["exceeds the model's context of \(TinyModel.context) tokens"])
        let ok = try runCommand(try TestPaths.binary(), ["generate", "--model", url.path, "--prompt", "abc", "--max-tokens", "3", "--json"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any]
        XCTAssertNotNil(object?["ids"] as? [Int])
        XCTAssertNotNil(object?["text"] as? String)
    }

    /// `--kv-type`: f16 and f32 generate the same ids; f16 under float32 numerics is refused, naming the flags.
    func testKVTypeChoosesTheStorageAndHalfNeedsLlamaCppNumerics() throws {
        let url = try TestPaths.temporaryDirectory().appendingPathComponent("tiny.gguf")
        try TinyModel.builder().write(to: url)
        let common = ["generate", "--model", url.path, "--prompt", "abcdefghijklmnop", "--max-tokens", "6", "--json"]
        let half = try runCommand(try TestPaths.binary(), common + ["--kv-type", "f16"])
        let float = try runCommand(try TestPaths.binary(), common + ["--kv-type", "f32"])
        XCTAssertEqual(half.status, 0, half.stderr)
        XCTAssertEqual(float.status, 0, float.stderr)
        let ids = { (r: CommandResult) in (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["ids"] as? [Int] }
        XCTAssertNotNil(ids(half))
        XCTAssertEqual(ids(half), ids(float))
        let refused = try runCommand(try TestPaths.binary(), common + ["--numerics", "float32", "--kv-type", "f16"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("--kv-type f16 cannot hold float32 numerics"), refused.stderr)
    }
}
