import Foundation
import XCTest
@testable import Probe
import ProbeFuzzing

/// The tokenizer and chat template: unit tests on hand-made data, then parity with llama.cpp on SmolLM2
/// (fixtures from scripts/make_llama_fixtures.py: tokenize.json, chat.json).
final class TokenizerTests: XCTestCase {
    // MARK: - the model and fixtures

    static let modelFile = "SmolLM2-135M-Instruct.Q4_1.gguf"
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = LlamaCppFixtures("smollm2-135m")

    struct Missing: Error, CustomStringConvertible { let description: String }

    /// The cached SmolLM2 GGUF: in `$DAPQ_MODEL_CACHE`, else `$DAPQ_PROBE_CACHE/models`, else `.cache/models` in the
    /// package root. Absent, the calling test fails (never skips).
    static func modelPath() throws -> String {
        let env = ProcessInfo.processInfo.environment
        let folder: URL
        if let dir = env["DAPQ_MODEL_CACHE"], !dir.isEmpty {
            folder = URL(fileURLWithPath: dir)
        } else if let dir = env["DAPQ_PROBE_CACHE"], !dir.isEmpty {
            folder = URL(fileURLWithPath: dir).appendingPathComponent("models")
        } else {
            folder = packageRoot.appendingPathComponent(".cache/models")
        }
        let path = folder.appendingPathComponent(modelFile).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw Missing(description: "model missing at \(path): run `make setup` first")
        }
        return path
    }

    nonisolated(unsafe) static var shared: (GGUFFile, Tokenizer)?
    static let lock = NSLock()

    func smolLM2() throws -> (GGUFFile, Tokenizer) {
        Self.lock.lock()
        defer { Self.lock.unlock() }
        if let s = Self.shared { return s }
        let gguf = try GGUFFile(path: try Self.modelPath())
        let s = (gguf, try Tokenizer(gguf: gguf))
        Self.shared = s
        return s
    }

    func fixture(_ name: String) throws -> [String: Any] { try Self.fixtures.json(name) }

    // MARK: - byte-level map

    func testByteLevelMapRoundTripsEveryByte() {
        let scalars = ByteLevelEncoding.scalarOfByte
        XCTAssertEqual(Set(scalars).count, 256, "the map must be a bijection")
        for b in 0..<256 {
            let spelled = ByteLevelEncoding.encode([UInt8(b)])
            XCTAssertEqual(ByteLevelEncoding.decode(String(decoding: spelled, as: UTF8.self)), [UInt8(b)], "byte \(b)")
        }
        let all = (0..<256).map { UInt8($0) }
        XCTAssertEqual(ByteLevelEncoding.decode(String(decoding: ByteLevelEncoding.encode(all), as: UTF8.self)), all)
        // Fixed points of GPT-2's table.
        XCTAssertEqual(String(decoding: ByteLevelEncoding.encode(Array(" ".utf8)), as: UTF8.self), "Ġ")
        XCTAssertEqual(String(decoding: ByteLevelEncoding.encode(Array("\n".utf8)), as: UTF8.self), "Ċ")
        XCTAssertEqual(String(decoding: ByteLevelEncoding.encode(Array("\t".utf8)), as: UTF8.self), "ĉ")
        XCTAssertEqual(String(decoding: ByteLevelEncoding.encode(Array("A~".utf8)), as: UTF8.self), "A~")
        XCTAssertEqual(String(decoding: ByteLevelEncoding.encode([0x00, 0x7F, 0xAD]), as: UTF8.self), "ĀġŃ")
        XCTAssertEqual(String(decoding: ByteLevelEncoding.encode(Array("é".utf8)), as: UTF8.self), "Ã©")
    }

    // MARK: - BPE merge loop

    /// A tiny vocabulary: the letters a–d, and merges of known rank.
    func tinyEncoder(merges: [(String, String)], extraTokens: [String] = [], ignoresMerges: Bool = false) -> BytePairEncoder {
        let texts = (["a", "b", "c", "d", "e"] + extraTokens).map { Array($0.utf8) }
        var idOfText: [[UInt8]: Int] = [:]
        for (i, t) in texts.enumerated() { idOfText[t] = i }
        return BytePairEncoder(texts: texts, idOfText: idOfText,
                               merges: merges.map { (Array($0.0.utf8), Array($0.1.utf8)) }, ignoresMerges: ignoresMerges)
    }

    func merged(_ e: BytePairEncoder, _ word: String) -> [String] {
        e.mergedSymbols(Array(word.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    func encoded(_ e: BytePairEncoder, _ word: String) -> [Int] {
        var out: [Int] = []
        e.encode(word: ArraySlice(Array(word.utf8)), into: &out)
        return out
    }

    func testBPEMergesLowestRankFirst() {
        // Ranks: b c (0) < a b (1) < a bc (2) < c d (3). In "abcd" the pair bc wins over ab, then a+bc.
        let e = tinyEncoder(merges: [("b", "c"), ("a", "b"), ("a", "bc"), ("c", "d")], extraTokens: ["bc", "ab", "abc", "cd"])
        XCTAssertEqual(merged(e, "abcd"), ["abc", "d"])
        XCTAssertEqual(encoded(e, "abcd"), [7, 3])
        // Without "a bc", ab never forms once bc took the b.
        let e2 = tinyEncoder(merges: [("b", "c"), ("a", "b"), ("c", "d")], extraTokens: ["bc", "ab", "cd"])
        XCTAssertEqual(merged(e2, "abcd"), ["a", "bc", "d"])
        // Rank order reversed: ab first, then cd.
        let e3 = tinyEncoder(merges: [("a", "b"), ("c", "d"), ("b", "c")], extraTokens: ["ab", "cd", "bc"])
        XCTAssertEqual(merged(e3, "abcd"), ["ab", "cd"])
    }

    func testBPETiesMergeLeftmostFirst() {
        let e = tinyEncoder(merges: [("a", "a")], extraTokens: ["aa"])
        XCTAssertEqual(merged(e, "aaa"), ["aa", "a"])
        XCTAssertEqual(merged(e, "aaaaa"), ["aa", "aa", "a"])
        let e2 = tinyEncoder(merges: [("a", "a"), ("aa", "aa")], extraTokens: ["aa", "aaaa"])
        XCTAssertEqual(merged(e2, "aaaaa"), ["aaaa", "a"])
        XCTAssertEqual(merged(e2, "aaaaaaaa"), ["aaaa", "aaaa"])
    }

    func testBPEFallsBackToByteTokensForUnknownSymbols() {
        // "d e" merges to "de", which is not a token: its bytes come out one by one; unknown bytes vanish.
        let e = tinyEncoder(merges: [("d", "e")])
        XCTAssertEqual(merged(e, "cde"), ["c", "de"])
        XCTAssertEqual(encoded(e, "cde"), [2, 3, 4])
        XCTAssertEqual(encoded(e, "axb"), [0, 1], "a byte without a token is dropped, as llama.cpp does")
        XCTAssertEqual(encoded(e, ""), [])
    }

    func testBPEIgnoreMergesTakesWholeWordTokens() {
        // llama3's ignore_merges: a word that is a token is that token even where merges cannot build it.
        let e = tinyEncoder(merges: [], extraTokens: ["abc"], ignoresMerges: true)
        XCTAssertEqual(encoded(e, "abc"), [5])
        XCTAssertEqual(encoded(e, "abd"), [0, 1, 3])
    }

    func testBPEHandlesLongWords() {
        let e = tinyEncoder(merges: [("a", "b"), ("ab", "ab")], extraTokens: ["ab", "abab"])
        let word = String(repeating: "ab", count: 5000)
        XCTAssertEqual(encoded(e, word), Array(repeating: 6, count: 2500))
    }

    // MARK: - pre-tokenizers

    func words(_ pre: String, _ text: String) throws -> [String] {
        let p = try XCTUnwrap(PreTokenizer(name: pre), pre)
        let scalars = text.unicodeScalars.map(\.value)
        return p.split(scalars).map { r in
            var s = String.UnicodeScalarView()
            for v in scalars[r] { s.append(Unicode.Scalar(v)!) }
            return String(s)
        }
    }

    func testPreTokenizerSmolLM() throws {
        // Digits one by one (the \p{N} stage), then GPT-2's pattern within each fragment: the two spaces before the
        // digits end their fragment, so `\s+(?!\S)` keeps both.
        XCTAssertEqual(try words("smollm", "Hello world's  123456 !!\n\n x"),
                       ["Hello", " world", "'s", "  ", "1", "2", "3", "4", "5", "6", " !!", "\n\n", " x"])
        XCTAssertEqual(try words("smollm", "a  b"), ["a", " ", " b"])
        XCTAssertEqual(try words("smollm", "I'M don't x²½"), ["I", "'", "M", " don", "'t", " x", "²", "½"])
        XCTAssertEqual(try words("smollm", "trailing   "), ["trailing", "   "])
        XCTAssertEqual(try words("smollm", ""), [])
    }

    func testPreTokenizerGPT2() throws {
        XCTAssertEqual(try words("gpt-2", "Hello world's  123456 !!\n\n x"),
                       ["Hello", " world", "'s", " ", " 123456", " !!", "\n\n", " x"])
        // Only an ASCII space joins the next word; other whitespace stands alone.
        XCTAssertEqual(try words("gpt2", "a\u{00A0}\u{3000}b"), ["a", "\u{00A0}", "\u{3000}", "b"])
    }

    func testPreTokenizerLlama3() throws {
        XCTAssertEqual(try words("llama-bpe", "Hello world's  123456 !!\n\n x"),
                       ["Hello", " world", "'s", " ", " ", "123", "456", " !!\n\n", " x"])
        XCTAssertEqual(try words("llama-bpe", "I'M 1234567 \tword\r\n\r\nEnd"),
                       ["I", "'M", " ", "123", "456", "7", " ", "\tword", "\r\n\r\n", "End"])
    }

    func testPreTokenizerQwen2() throws {
        XCTAssertEqual(try words("qwen2", "Hello world's  123456 !!\n\n x"),
                       ["Hello", " world", "'s", " ", " ", "1", "2", "3", "4", "5", "6", " !!\n\n", " x"])
        XCTAssertEqual(try words("qwen2", "x  \n  y"), ["x", "  \n", " ", " y"])
    }

    func testPreTokenizerDefault() throws {
        XCTAssertEqual(try words("default", "Hello world's  123456 !!\n\n x"),
                       ["Hello", " world", "'", "s", " ", " ", "123", "456", " ", "!!", "\n\n", " x"])
    }

    func testUnknownPreTokenizerIsRejected() {
        XCTAssertNil(PreTokenizer(name: "no-such-pre"))
    }

    // MARK: - a synthetic GGUF vocabulary

    /// A byte-level vocabulary (all 256 byte tokens, a few merges, special tokens) written as GGUF.
    func syntheticTokenizer(pre: String = "smollm", extra: [(String, Int32)] = [], merges: [String] = ["h e", "l l", "he ll", "hell o"],
                            model: String = "gpt2", omit: Set<String> = []) throws -> Tokenizer {
        let bytes = (0..<256).map { String(decoding: ByteLevelEncoding.encode([UInt8($0)]), as: UTF8.self) }
        let merged = ["he", "ll", "hell", "hello"]
        let specials: [(String, Int32)] = [("<|endoftext|>", 3), ("<|im_start|>", 3), ("<|im_end|>", 3), ("<tool>", 4)] + extra
        var b = GGUFBuilder()
        b.set("general.architecture", .string("llama"))
        if !omit.contains("model") { b.set("tokenizer.ggml.model", .string(model)) }
        b.set("tokenizer.ggml.pre", .string(pre))
        if !omit.contains("tokens") {
            b.set("tokenizer.ggml.tokens", .strings(bytes + merged + specials.map(\.0)))
            b.set("tokenizer.ggml.token_type", .i32s(Array(repeating: 1, count: 256 + merged.count) + specials.map(\.1)))
        }
        if !omit.contains("merges") { b.set("tokenizer.ggml.merges", .strings(merges)) }
        b.set("tokenizer.ggml.bos_token_id", .u32(261))
        b.set("tokenizer.ggml.eos_token_id", .u32(262))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString).gguf")
        try b.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try Tokenizer(gguf: try GGUFFile(path: url.path))
    }

    func testSyntheticVocabularyEncodesAndSplitsSpecialTokens() throws {
        let t = try syntheticTokenizer()
        XCTAssertEqual(t.vocabularySize, 264)
        XCTAssertEqual(t.bosID, 261)
        XCTAssertEqual(t.eosID, 262)
        XCTAssertFalse(t.addsBOS)
        XCTAssertEqual(t.endOfGenerationIDs, [260, 262])
        XCTAssertEqual(t.tokenID(of: "hello"), 259)
        XCTAssertEqual(t.tokenID(of: "<|im_end|>"), 262)
        XCTAssertEqual(t.tokenID(of: " "), 32)
        XCTAssertNil(t.tokenID(of: "nope"))
        let space = 32
        // "hello" merges fully; " hello" is a separate word: the space stays a byte token.
        XCTAssertEqual(t.encode("hello"), [259])
        XCTAssertEqual(t.encode("<|im_start|>hello<|im_end|>"), [261, 259, 262])
        XCTAssertEqual(t.encode("x<tool> hello"), [120, 263, space, 259])
        // Without parseSpecial, control tokens stay text but user-defined ones are still recognised.
        let plain = t.encode("<|im_end|><tool>", parseSpecial: false)
        XCTAssertEqual(plain.last, 263)
        XCTAssertFalse(plain.contains(262))
        XCTAssertEqual(t.decode(plain), "<|im_end|><tool>")
        XCTAssertEqual(t.pieceBytes(262), Array("<|im_end|>".utf8))
        XCTAssertEqual(t.pieceBytes(259), Array("hello".utf8))
        XCTAssertEqual(t.piece(10), "\n")
        XCTAssertEqual(t.pieceBytes(99_999), [])
        // Multi-byte characters: byte tokens, decoded back whole; a cut character is replaced only where cut.
        let ids = t.encode("é€")
        XCTAssertEqual(ids, [0xC3, 0xA9, 0xE2, 0x82, 0xAC])
        XCTAssertEqual(t.decode(ids), "é€")
        XCTAssertEqual(t.decode(Array(ids.prefix(3))), "é\u{FFFD}")
    }

    func testLongestSpecialTokenWins() throws {
        let t = try syntheticTokenizer(extra: [("<|im_end|>x", 4)])
        XCTAssertEqual(t.encode("<|im_end|>x<|im_end|>"), [264, 262])
    }

    func testUnsupportedTokenizersNameTheFile() throws {
        for (model, pre, expected) in [("bert", "default", "tokenizer.ggml.model 'bert'"),
                                       ("gpt2", "deepseek-coder", "tokenizer.ggml.pre 'deepseek-coder'")] {
            XCTAssertThrowsError(try syntheticTokenizer(pre: pre, model: model)) { error in
                let message = String(describing: error)
                XCTAssertTrue(message.contains(".gguf: "), message)
                XCTAssertTrue(message.contains(expected), message)
            }
        }
        for part in ["tokens", "merges", "model"] {
            XCTAssertThrowsError(try syntheticTokenizer(omit: [part])) { error in
                let message = String(describing: error)
                XCTAssertTrue(message.contains(".gguf: ") && message.contains("tokenizer.ggml."), message)
            }
        }
    }

    /// A SentencePiece vocabulary: specials, 256 byte tokens, and scored pieces.
    func sentencePieceTokenizer() throws -> Tokenizer {
        let pieces: [(String, Float)] = [("▁", -1), ("h", -2), ("e", -2), ("l", -2), ("o", -2), ("▁h", -3), ("he", -1),
                                          ("ll", -1.5), ("hell", -1), ("hello", -0.5), ("▁hello", -0.1)]
        let bytes = (0..<256).map { String(format: "<0x%02X>", $0) }
        var b = GGUFBuilder()
        b.set("general.architecture", .string("llama"))
        b.set("tokenizer.ggml.model", .string("llama"))
        b.set("tokenizer.ggml.tokens", .strings(["<unk>", "<s>", "</s>"] + bytes + pieces.map(\.0)))
        b.set("tokenizer.ggml.scores", .f32s([0, 0, 0] + Array(repeating: 0, count: 256) + pieces.map(\.1)))
        b.set("tokenizer.ggml.token_type", .i32s([2, 3, 3] + Array(repeating: 6, count: 256) + Array(repeating: 1, count: pieces.count)))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spm-\(UUID().uuidString).gguf")
        try b.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try Tokenizer(gguf: try GGUFFile(path: url.path))
    }

    func testSentencePieceMergesByScoreWithByteFallback() throws {
        let t = try sentencePieceTokenizer()
        XCTAssertEqual(t.bosID, 1)
        XCTAssertEqual(t.eosID, 2)
        XCTAssertTrue(t.addsBOS)
        XCTAssertEqual(t.endOfGenerationIDs, [2])
        let byte = { (b: Int) in 3 + b }
        // "▁hello": he, ll, hell, hello, ▁hello in score order.
        XCTAssertEqual(t.encode("hello"), [269])
        // 'i' is no piece: its byte token.
        XCTAssertEqual(t.encode("hi"), [264, byte(0x69)])
        XCTAssertEqual(t.encode("a b"), [259, byte(0x61), 259, byte(0x62)])
        // A space is prefixed again after a special token.
        XCTAssertEqual(t.encode("<s>hello</s>"), [1, 269, 2])
        XCTAssertEqual(t.decode(t.encode("hi")), "hi")
        XCTAssertEqual(t.decode(t.encode("a b")), "a b")
        XCTAssertEqual(t.pieceBytes(269), Array(" hello".utf8))
        XCTAssertEqual(t.pieceBytes(byte(0xFF)), [0xFF])
        XCTAssertEqual(t.tokenID(of: " hello"), 269)
    }

    // MARK: - chat templates

    static let qwen25Template = """
        {%- if tools %}
            {{- '<|im_start|>system\\n' }}
            {%- if messages[0]['role'] == 'system' %}
                {{- messages[0]['content'] }}
            {%- else %}
                {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
            {%- endif %}
            {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n" }}
        {%- else %}
            {%- if messages[0]['role'] == 'system' %}
                {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
            {%- else %}
                {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
            {%- endif %}
        {%- endif %}
        {%- for message in messages %}
            {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
                {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
            {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}
            {{- '<|im_start|>assistant\\n' }}
        {%- endif %}
        """

    func testQwenTemplateDefaultSystemPrompt() throws {
        let t = try ChatTemplate(template: Self.qwen25Template)
        XCTAssertEqual(t.family, .chatML)
        XCTAssertEqual(t.defaultSystemPrompt, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        XCTAssertTrue(t.defaultSystemPromptWithoutMessages)
        XCTAssertEqual(t.render([.user("Hi")]),
                       "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                       + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(t.render([.system("Be brief."), .user("Hi"), .assistant("Hello."), .user("Bye")], addGenerationPrompt: false),
                       "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                       + "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n")
    }

    func testPlainChatMLTemplateHasNoDefaultSystemPrompt() throws {
        let source = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        let t = try ChatTemplate(template: source)
        XCTAssertNil(t.defaultSystemPrompt)
        XCTAssertEqual(t.render([.user("Hi")]), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(t.render([], addGenerationPrompt: true), "<|im_start|>assistant\n")
    }

    func testUnsupportedTemplatesAreRejected() {
        let llama3 = "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}{% endfor %}"
        XCTAssertThrowsError(try ChatTemplate(template: llama3, path: "m.gguf")) { error in
            XCTAssertTrue(String(describing: error).hasPrefix("m.gguf: unsupported chat template"), "\(error)")
        }
        XCTAssertThrowsError(try ChatTemplate(template: "<|im_start|>{{ x }}<|im_end|>{% if reasoning_content %}<think>{% endif %}"))
    }

    // MARK: - SmolLM2 against llama.cpp

    func testSmolLM2VocabularyMatchesLlamaCpp() throws {
        let (_, tok) = try smolLM2()
        let f = try fixture("tokenize.json")
        XCTAssertEqual(tok.vocabularySize, f["n_vocab"] as? Int)
        let ids = try XCTUnwrap(f["special_ids"] as? [String: Any])
        XCTAssertEqual(tok.bosID, ids["bos"] as? Int)
        XCTAssertEqual(tok.eosID, ids["eos"] as? Int)
        XCTAssertEqual(tok.addsBOS, ids["add_bos"] as? Bool)
        XCTAssertEqual(tok.endOfGenerationIDs, Set(try XCTUnwrap(f["eog_ids"] as? [Int])))
        XCTAssertEqual(tok.endOfGenerationIDs, [0, 2, 4])  // <|endoftext|>, <|im_end|>, <reponame> (FIM repo)
        XCTAssertEqual(tok.tokenID(of: "<|im_start|>"), 1)
        XCTAssertEqual(tok.tokenID(of: "<|im_end|>"), 2)
        XCTAssertEqual(tok.tokenID(of: "\n"), 198)
    }

    func testSmolLM2TokenIDsMatchLlamaCpp() throws {
        let (_, tok) = try smolLM2()
        try Self.fixtures.checkTokenIDs(tok)
    }

    func testSmolLM2ChatTemplateMatchesJinja() throws {
        let (gguf, tok) = try smolLM2()
        let template = try ChatTemplate(gguf: gguf)
        XCTAssertEqual(template.family, .chatML)
        XCTAssertEqual(template.defaultSystemPrompt, "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        XCTAssertFalse(template.defaultSystemPromptWithoutMessages)
        try Self.fixtures.checkChatTemplate(template, tok)
    }

    /// The prompts of the logit and generation fixtures tokenize as llama.cpp tokenized them, and the generated
    /// ids decode to llama.cpp's text.
    func testSmolLM2PromptFixturesMatchLlamaCpp() throws {
        let (_, tok) = try smolLM2()
        try Self.fixtures.checkPromptTokenization(tok)
    }

    func testSmolLM2TokenizesEssayTextFast() throws {
        let (_, tok) = try smolLM2()
        let sentence = "It was the best of times, it was the worst of times; in 1859 Dickens wrote 45,000 words. "
        let text = String(repeating: sentence, count: 100_000 / sentence.utf8.count + 1)
        let start = Date()
        let ids = tok.encode(text)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(Array(tok.decode(ids).utf8), Array(text.utf8))
        XCTAssertLessThan(seconds, 2.0, "100 KB took \(seconds) s")
    }
}
