import Probe

/// The GGUF reader's fuzzing target. One input is parsed as a GGUF file from memory; when that succeeds, every
/// small tensor of a supported type is dequantized, the model (configuration, weights, tokenizer) is loaded, and
/// when that succeeds too, a few tokens run through the forward pass; where only the tokenizer can be built, it
/// encodes and decodes sample texts. Rejections must be one line naming the file; anything else (a trap, an
/// out-of-bounds read under the address sanitizer, a broken invariant) is a crash.
public enum GGUFFuzzTarget {
    /// The name that stands for the input's path in errors.
    public static let inputName = "fuzz-input.gguf"

    public static func run(_ bytes: UnsafeRawBufferPointer) {
        let file: GGUFFile
        do { file = try GGUFFile(bytes: bytes, name: inputName) } catch {
            return FuzzRejection.check(error, name: inputName)
        }
        for t in file.tensors {
            guard file.dataOffset + t.offset + t.byteCount <= file.fileSize, file.data(of: t).count == t.byteCount else {
                fatalError("tensor '\(t.name)' reaches past the end of the file")
            }
            guard t.type.isSupported, t.elementCount <= 1 << 16 else { continue }
            do {
                let values = try file.floats(of: t)
                guard values.count == t.elementCount else { fatalError("tensor '\(t.name)': \(values.count) values") }
            } catch { fatalError("a supported tensor type failed to dequantize: \(error)") }
        }
        _ = file.accountedSize
        _ = file.expectedFileSize
        let model: LanguageModel
        do { model = try LanguageModel(gguf: file) } catch {
            FuzzRejection.check(error, name: inputName)
            if let tokenizer = try? Tokenizer(gguf: file) {
                for text in TokenizerExercise.texts { TokenizerExercise.run(tokenizer, text: text) }
            }
            return
        }
        runForward(model)
    }

    /// A few tokens of sample text through the forward pass (small models only: fuzzing inputs are small).
    static func runForward(_ model: LanguageModel) {
        let ids = TokenizerExercise.run(model.tokenizer, text: TokenizerExercise.texts[0])
        let c = model.config
        guard !ids.isEmpty, c.dModel * max(c.dFF, c.vocabularySize) <= 1 << 20, c.nLayers <= 8 else { return }
        let tokens = Array(ids.prefix(3))
        let cache = model.makeCache(capacity: 4)
        let logits = model.forward(tokens: tokens, positions: Array(0..<tokens.count), cache: cache, logits: .last)
        guard logits.count == c.vocabularySize else { fatalError("\(logits.count) logits for \(c.vocabularySize) tokens") }
    }
}
