import Foundation
import XCTest
@testable import Probe

/// One model's llama.cpp parity fixtures (`Tests/Fixtures/<name>/`, from scripts/make_llama_fixtures.py) and the
/// checks that every model's tokenizer and parity tests run on them (SmolLM2 in TokenizerTests/ParityTests, the
/// Qwen models in QwenTokenizerTests/QwenParityTests).
struct LlamaCppFixtures {
    let name: String
    let directory: URL

    init(_ name: String) {
        self.name = name
        directory = TestPaths.fixtures.appendingPathComponent(name)
    }

    func json(_ file: String) throws -> [String: Any] {
        let url = directory.appendingPathComponent(file)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw MissingPrerequisite("fixture missing at \(url.path): run `make fixtures`")
        }
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    // MARK: - tokenizer and chat template

    /// Every string of tokenize.json: ids, pieces, detokenization and round trip as llama.cpp. Returns (exact, total).
    @discardableResult
    func checkTokenIDs(_ tok: Tokenizer, file: StaticString = #filePath, line: UInt = #line) throws -> (matches: Int, total: Int) {
        let cases = try XCTUnwrap(try json("tokenize.json")["cases"] as? [[String: Any]])
        XCTAssertGreaterThan(cases.count, 40, file: file, line: line)
        var idMatches = 0
        for c in cases {
            let text = try XCTUnwrap(c["text"] as? String)
            let want = try XCTUnwrap(c["ids"] as? [Int])
            let got = tok.encode(text)
            if got == want { idMatches += 1 }
            XCTAssertEqual(got, want, "\(name): ids of \"\(TokenText.show(text))\"", file: file, line: line)
            // Pieces (special tokens as their text) and the whole detokenization, byte for byte.
            if let pieces = c["pieces_special_hex"] as? [String] {
                XCTAssertEqual(want.map { TokenText.hex(tok.pieceBytes($0)) }, pieces, "\(name): pieces of \"\(TokenText.show(text))\"",
                               file: file, line: line)
            }
            if let whole = c["detokenized_special_hex"] as? String {
                XCTAssertEqual(TokenText.hex(Array(tok.decode(want).utf8)), whole, "\(name): decode of \"\(TokenText.show(text))\"",
                               file: file, line: line)
            }
            // Round trip, compared as bytes (Swift's String == would accept canonically equivalent text).
            XCTAssertEqual(Array(tok.decode(got).utf8), Array(text.utf8), "\(name): round trip of \"\(TokenText.show(text))\"",
                           file: file, line: line)
        }
        print("\(name): \(idMatches)/\(cases.count) fixture strings tokenize exactly as llama.cpp")
        return (idMatches, cases.count)
    }

    /// Every conversation of chat.json rendered as the GGUF's Jinja template renders it, and tokenized as llama.cpp.
    @discardableResult
    func checkChatTemplate(_ template: ChatTemplate, _ tok: Tokenizer, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let conversations = try XCTUnwrap(try json("chat.json")["conversations"] as? [[String: Any]])
        XCTAssertFalse(conversations.isEmpty, file: file, line: line)
        for (i, conversation) in conversations.enumerated() {
            let messages = try XCTUnwrap(conversation["messages"] as? [[String: String]]).map {
                ChatMessage(role: $0["role"] ?? "", content: $0["content"] ?? "")
            }
            let rendered = try XCTUnwrap(conversation["rendered"] as? String)
            XCTAssertEqual(Array(template.render(messages).utf8), Array(rendered.utf8), "\(name): conversation \(i)", file: file, line: line)
            if let bare = conversation["rendered_without_generation_prompt"] as? String {
                XCTAssertEqual(Array(template.render(messages, addGenerationPrompt: false).utf8), Array(bare.utf8),
                               "\(name): conversation \(i) without the generation prompt", file: file, line: line)
            }
            if let ids = conversation["token_ids"] as? [Int] {
                XCTAssertEqual(tok.encode(rendered), ids, "\(name): token ids of conversation \(i)", file: file, line: line)
            }
        }
        return conversations.count
    }

    /// The prompts of the logit and generation fixtures tokenize as llama.cpp tokenized them, and the generated ids
    /// decode to llama.cpp's text.
    func checkPromptTokenization(_ tok: Tokenizer, file: StaticString = #filePath, line: UInt = #line) throws {
        for p in try XCTUnwrap(try json("logits.json")["prompts"] as? [[String: Any]]) {
            let text = try XCTUnwrap(p["prompt"] as? String)
            XCTAssertEqual(tok.encode(text), p["token_ids"] as? [Int], "\(name): logits prompt \(p["label"] ?? "?")", file: file, line: line)
        }
        for g in try XCTUnwrap(try json("generate.json")["prompts"] as? [[String: Any]]) {
            let text = try XCTUnwrap(g["prompt"] as? String)
            XCTAssertEqual(tok.encode(text), g["prompt_ids"] as? [Int], "\(name): generation prompt \"\(TokenText.show(text))\"",
                           file: file, line: line)
            if let generated = g["generated_ids"] as? [Int], let hex = g["generated_hex"] as? String {
                // llama.cpp's text leaves out control tokens (the closing <|im_end|>).
                let shown = generated.filter { tok.vocabulary.attributes[$0].isDisjoint(with: [.control, .unknown]) }
                XCTAssertEqual(TokenText.hex(shown.flatMap { tok.pieceBytes($0) }), hex, "\(name): generated bytes", file: file, line: line)
            }
        }
    }

    // MARK: - greedy continuations

    /// Our greedy continuations in the model's current numerics against llama.cpp's reference configuration: identical
    /// on every prompt that is stable across llama.cpp's equivalent configurations and never passes a near-tie
    /// (top-1/top-2 margin ≥ `minimumMargin` at every step). Returns the number of such prompts per kind.
    func checkGreedyContinuations(_ model: LanguageModel, minimumMargin: Double,
                                  file: StaticString = #filePath, line: UInt = #line) throws -> [String: Int] {
        let doc = try json("generate.json")
        let eog = Set((doc["eog_ids"] as? [Int]) ?? [])
        XCTAssertEqual(model.tokenizer.endOfGenerationIDs, eog, "\(name): end-of-generation ids", file: file, line: line)
        var stableKinds: [String: Int] = [:]
        var identical = 0
        let prompts = try XCTUnwrap(doc["prompts"] as? [[String: Any]])
        for p in prompts {
            let text = try XCTUnwrap(p["prompt"] as? String)
            let ids = try XCTUnwrap(p["prompt_ids"] as? [Int])
            XCTAssertEqual(model.tokenizer.encode(text), ids, "\(name): prompt tokenization: \(text)", file: file, line: line)
            let expected = try XCTUnwrap(p["generated_ids"] as? [Int])
            let stable = try XCTUnwrap(p["stable"] as? Bool)
            let agreed = try XCTUnwrap(p["common_prefix_len"] as? Int)
            let g = try GreedyDecoder(model: model).generate(prompt: ids, maxTokens: try XCTUnwrap(p["max_new_tokens"] as? Int))
            // llama.cpp lists the end-of-generation token it stopped at; we report it as a flag.
            let ours = g.ids + (g.stoppedAtEndOfGeneration ? [expected.last ?? -1] : [])
            let same = zip(ours, expected).prefix { $0 == $1 }.count
            if ours == expected { identical += 1 }
            let margin = (p["min_top1_top2_margin"] as? Double) ?? 0
            print("\(name) greedy: \(stable ? "stable  " : "unstable") margin \(String(format: "%.3f", margin)) agreed \(agreed), "
                  + "ours matches \(same)/\(expected.count): \(text.debugDescription.suffix(50))")
            if stable && margin >= minimumMargin {
                XCTAssertEqual(ours, expected, "\(name): stable prompt: \(text)", file: file, line: line)
                XCTAssertEqual(model.tokenizer.decode(g.ids), p["generated_text"] as? String, file: file, line: line)
                stableKinds[try XCTUnwrap(p["kind"] as? String), default: 0] += 1
            }
        }
        print("\(name) greedy (\(model.numerics)): \(identical)/\(prompts.count) continuations identical to llama.cpp's reference, "
              + "\(stableKinds.values.reduce(0, +)) held to it (stable, margin ≥ \(minimumMargin)): \(stableKinds)")
        return stableKinds
    }

    /// Our greedy continuations (call with `Numerics.float32`) against llama.cpp on the model dequantized to float32
    /// weights with a float32 KV cache: every prompt, near-ties included.
    /// Returns (identical, compared).
    @discardableResult
    func checkFloat32Continuations(_ model: LanguageModel, file: StaticString = #filePath, line: UInt = #line) throws -> (Int, Int) {
        let doc = try json("generate.json")
        let eog = Set((doc["eog_ids"] as? [Int]) ?? [])
        var identical = 0, total = 0
        for p in try XCTUnwrap(doc["prompts"] as? [[String: Any]]) {
            let ids = try XCTUnwrap(p["prompt_ids"] as? [Int])
            let reference = try XCTUnwrap(p["f32_weights"] as? [String: Any])
            let expected = try XCTUnwrap(reference["generated_ids"] as? [Int])
            let g = try GreedyDecoder(model: model).generate(prompt: ids, maxTokens: try XCTUnwrap(p["max_new_tokens"] as? Int))
            let want = expected.filter { !eog.contains($0) }
            total += 1
            if g.ids == want && g.stoppedAtEndOfGeneration == reference["stopped_at_eog"] as? Bool { identical += 1 }
            XCTAssertEqual(g.ids, want, "\(name): prompt: \(p["prompt"] ?? "")", file: file, line: line)
            XCTAssertEqual(g.stoppedAtEndOfGeneration, reference["stopped_at_eog"] as? Bool, file: file, line: line)
        }
        print("\(name) float32 greedy: \(identical)/\(total) continuations identical to llama.cpp on float32 weights")
        return (identical, total)
    }

    // MARK: - final logits

    /// llama.cpp's final-position logits of a logits.json entry, reference configuration or (`f32Weights`) the
    /// float32-weights one: the whole vocabulary (`ids` nil; "full" fixtures, `file`/`file_f32_weights`) or the
    /// values at `ids` ("sample" fixtures: the reference's highest ids and evenly spaced ones).
    func logits(of entry: [String: Any], f32Weights: Bool) throws -> (ids: [Int]?, values: [Float]) {
        if let file = entry[f32Weights ? "file_f32_weights" : "file"] as? String {
            return (nil, try readFloats(directory.appendingPathComponent(file)))
        }
        let ids = try XCTUnwrap(entry["sample_ids"] as? [Int], "\(name): logits entry without file or sample_ids")
        let values = try XCTUnwrap(entry[f32Weights ? "sample_logits_f32_weights" : "sample_logits"] as? [Double])
        return (ids, values.map { Float($0) })
    }

    /// max |ours − llama.cpp| over the entries the fixture holds (the whole vocabulary or the sample).
    func worstDifference(_ ours: [Float], _ reference: (ids: [Int]?, values: [Float])) -> Float {
        guard let ids = reference.ids else { return maxAbsDifference(ours, reference.values) }
        return maxAbsDifference(ids.map { ours[$0] }, reference.values)
    }
}

/// Our final-position logits for `ids`, from a fresh cache.
func finalPositionLogits(_ model: LanguageModel, _ ids: [Int]) -> [Float] {
    model.forward(tokens: ids, positions: Array(ids.indices), cache: model.makeCache(capacity: ids.count))
}

/// The `k` highest entries' indices, highest first (lowest index on ties).
func topK(_ v: [Float], _ k: Int) -> [Int] {
    Array(v.indices.sorted { v[$0] > v[$1] || (v[$0] == v[$1] && $0 < $1) }.prefix(k))
}

/// Text helpers for tokenizer failure messages.
enum TokenText {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// A readable form of a string (controls and non-ASCII as escapes).
    static func show(_ s: String) -> String {
        s.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : String(format: "\\u{%X}", $0.value) }.joined()
    }
}

extension TestPaths {
    /// A catalogue model's cached GGUF (`ModelCatalogue`, in `TestPaths.cache`); fails the calling test (never
    /// skips) when it is not fetched.
    static func model(_ name: String) throws -> String {
        guard let entry = ModelCatalogue.entry(named: name) else { throw MissingPrerequisite("no catalogue model '\(name)'") }
        let path = cache.appendingPathComponent("models/\(entry.fileName)").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw MissingPrerequisite("model '\(name)' missing at \(path): run `scripts/fetch_models.sh \(name)` "
                                      + "(`make setup` fetches qwen2.5-coder-0.5b, `make models` both Qwen models)")
        }
        return path
    }
}
