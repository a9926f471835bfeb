import Foundation
import XCTest
@testable import Probe

/// The Qwen2.5-Coder tokenizer (qwen2 pre-tokenizer, 151k vocabulary, ChatML template with a default system
/// prompt, FIM and tool tokens) against llama.cpp: fixtures from scripts/make_llama_fixtures.py in
/// Tests/Fixtures/qwen2.5-coder-0.5b (tokenize.json, chat.json). Only the GGUF's header is read, not the weights.
/// The 1.5B model's tokenizer is checked by Qwen15ParityTests (`make parity`).
final class QwenTokenizerTests: XCTestCase {
    static let modelName = "qwen2.5-coder-0.5b"
    static let fixtures = LlamaCppFixtures(modelName)

    nonisolated(unsafe) static var shared: (GGUFFile, Tokenizer)?
    static let lock = NSLock()

    func qwen() throws -> (GGUFFile, Tokenizer) {
        Self.lock.lock()
        defer { Self.lock.unlock() }
        if let s = Self.shared { return s }
        let gguf = try GGUFFile(path: try TestPaths.model(Self.modelName))
        let s = (gguf, try Tokenizer(gguf: gguf))
        Self.shared = s
        return s
    }

    func testVocabularyAndSpecialTokensMatchLlamaCpp() throws {
        let (_, tok) = try qwen()
        try QwenTokenizerChecks.vocabulary(tok, Self.fixtures)
    }

    func testTokenIDsMatchLlamaCpp() throws {
        let (_, tok) = try qwen()
        let (matches, total) = try Self.fixtures.checkTokenIDs(tok)
        XCTAssertEqual(matches, total)
        XCTAssertGreaterThanOrEqual(total, 40)
    }

    func testChatTemplateMatchesJinja() throws {
        let (gguf, tok) = try qwen()
        try QwenTokenizerChecks.chatTemplate(gguf, tok, Self.fixtures)
    }

    func testPromptFixturesMatchLlamaCpp() throws {
        let (_, tok) = try qwen()
        try Self.fixtures.checkPromptTokenization(tok)
    }

    /// The corpus covers what the issue asks for: code, CJK, emoji, whitespace runs and Qwen's special tokens.
    func testCorpusCoversTheRequiredCategories() throws {
        let cases = try XCTUnwrap(try Self.fixtures.json("tokenize.json")["cases"] as? [[String: Any]])
        let texts = cases.compactMap { $0["text"] as? String }
        let categories = Set(cases.compactMap { $0["category"] as? String })
        XCTAssertTrue(categories.isSuperset(of: ["code", "cjk", "emoji", "spaces", "special"]), "\(categories)")
        for token in ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|repo_name|>",
                      "<|file_sep|>", "<tool_call>"] {
            XCTAssertTrue(texts.contains { $0.contains(token) }, "no fixture string with \(token)")
        }
    }
}

/// Checks shared by the 0.5B and 1.5B tokenizer tests.
enum QwenTokenizerChecks {
    static func vocabulary(_ tok: Tokenizer, _ fixtures: LlamaCppFixtures, file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try fixtures.json("tokenize.json")
        XCTAssertEqual(f["tokenizer_pre"] as? String, "qwen2", file: file, line: line)
        XCTAssertEqual(tok.vocabularySize, f["n_vocab"] as? Int, file: file, line: line)
        let ids = try XCTUnwrap(f["special_ids"] as? [String: Any])
        XCTAssertEqual(tok.bosID, ids["bos"] as? Int, file: file, line: line)
        XCTAssertEqual(tok.eosID, ids["eos"] as? Int, file: file, line: line)
        XCTAssertEqual(tok.addsBOS, ids["add_bos"] as? Bool, file: file, line: line)
        // (No check of the end-of-turn id: llama.cpp picks it by text from a hash map, <|im_end|> here, where we take
        // the lowest qualifying id, <|endoftext|>; both end generation, which is what the runtime uses.)
        XCTAssertEqual(tok.endOfGenerationIDs, Set(try XCTUnwrap(f["eog_ids"] as? [Int])), file: file, line: line)
        // <|endoftext|>, <|im_end|>, FIM pad / repo name / file separator, and "</s>" (an end-of-text by its text).
        XCTAssertEqual(tok.endOfGenerationIDs, [128247, 151643, 151645, 151662, 151663, 151664], file: file, line: line)
        XCTAssertEqual(tok.tokenID(of: "<|im_start|>"), 151644, file: file, line: line)
        XCTAssertEqual(tok.tokenID(of: "<|fim_prefix|>"), ids["fim_pre"] as? Int, file: file, line: line)
        XCTAssertEqual(tok.tokenID(of: "<|fim_middle|>"), ids["fim_mid"] as? Int, file: file, line: line)
        XCTAssertEqual(tok.tokenID(of: "<|fim_suffix|>"), ids["fim_suf"] as? Int, file: file, line: line)
        // Every token's attributes (control, user-defined, lstrip/rstrip …) as llama.cpp sets them; tokens the
        // fixture does not list are plain normal ones.
        let bits = try XCTUnwrap(f["attr_bits"] as? [String: Int])
        let listed = try XCTUnwrap(f["non_normal_tokens"] as? [String: [String: Any]])
        XCTAssertFalse(listed.isEmpty, file: file, line: line)
        var expected = [Int](repeating: try XCTUnwrap(bits["NORMAL"]), count: tok.vocabularySize)
        for (id, info) in listed { expected[try XCTUnwrap(Int(id))] = try XCTUnwrap(info["attr"] as? Int) }
        let wrong = expected.indices.filter { Int(tok.vocabulary.attributes[$0].rawValue) != expected[$0] }
        XCTAssertEqual(wrong.count, 0, "tokens whose attributes differ from llama.cpp's: "
                       + wrong.prefix(8).map { "\($0) (ours \(tok.vocabulary.attributes[$0].rawValue), llama.cpp \(expected[$0]))" }
                           .joined(separator: ", "), file: file, line: line)
    }

    static func chatTemplate(_ gguf: GGUFFile, _ tok: Tokenizer, _ fixtures: LlamaCppFixtures,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let template = try ChatTemplate(gguf: gguf)
        XCTAssertEqual(template.family, .chatML, file: file, line: line)
        XCTAssertEqual(template.defaultSystemPrompt, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", file: file, line: line)
        // An empty conversation is an error in this template (it reads messages[0]), so that case is not checked.
        let rendered = try fixtures.checkChatTemplate(template, tok, file: file, line: line)
        XCTAssertGreaterThanOrEqual(rendered, 10, file: file, line: line)
    }
}
