import Foundation
@testable import Probe

/// A tiny synthetic Llama-architecture model (seeded random weights, a byte-level vocabulary) written as
/// GGUF, so runtime tests run in milliseconds in any build mode.
enum TinyModel {
    static let layers = 2, dModel = 32, dFF = 64, heads = 4, kvHeads = 2, context = 96
    static var dHead: Int { dModel / heads }

    /// GPT-2's byte-to-character map, written out here independently of the tokenizer under test.
    static func byteTokens() -> [String] {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var chars = printable
        var extra = 0
        for b in 0..<256 where !printable.contains(b) {
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
        }
        var byByte = [String](repeating: "", count: 256)
        for (b, c) in zip(printable, chars) { byByte[b] = String(UnicodeScalar(UInt32(c))!) }
        return byByte
    }

    static let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

    /// The builder holding the whole model; tests mutate it to make bad files.
    static func builder(architecture: String = "llama", seed: UInt64 = 7) -> GGUFBuilder {
        var rng = SeededGenerator(seed: seed)
        var b = GGUFBuilder()
        let a = architecture
        let tokens = byteTokens() + specials
        b.set("general.architecture", .string(a))
        b.set("\(a).block_count", .u32(UInt32(layers)))
        b.set("\(a).context_length", .u32(UInt32(context)))
        b.set("\(a).embedding_length", .u32(UInt32(dModel)))
        b.set("\(a).feed_forward_length", .u32(UInt32(dFF)))
        b.set("\(a).attention.head_count", .u32(UInt32(heads)))
        b.set("\(a).attention.head_count_kv", .u32(UInt32(kvHeads)))
        b.set("\(a).rope.freq_base", .f32(10000))
        b.set("\(a).attention.layer_norm_rms_epsilon", .f32(1e-5))
        b.set("tokenizer.ggml.model", .string("gpt2"))
        b.set("tokenizer.ggml.pre", .string("smollm"))
        b.set("tokenizer.ggml.tokens", .strings(tokens))
        b.set("tokenizer.ggml.token_type", .i32s(Array(repeating: 1, count: 256) + Array(repeating: 3, count: specials.count)))
        b.set("tokenizer.ggml.merges", .strings([]))
        b.set("tokenizer.ggml.bos_token_id", .u32(256))
        b.set("tokenizer.ggml.eos_token_id", .u32(258))
        b.set("tokenizer.ggml.add_bos_token", .bool(false))
        b.set("tokenizer.chat_template", .string("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"))
        let vocab = tokens.count
        func random(_ n: Int, scale: Float) -> [Float] { (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale } }
        func norm(_ n: Int) -> [Float] { (0..<n).map { _ in 1 + (rng.nextFloat() - 0.5) * 0.2 } }
        b.addF32("token_embd.weight", shape: [dModel, vocab], values: random(dModel * vocab, scale: 1))
        b.addF32("output_norm.weight", shape: [dModel], values: norm(dModel))
        let q = heads * dHead, kv = kvHeads * dHead
        for l in 0..<layers {
            let p = "blk.\(l)."
            b.addF32(p + "attn_norm.weight", shape: [dModel], values: norm(dModel))
            b.addF32(p + "attn_q.weight", shape: [dModel, q], values: random(dModel * q, scale: 0.5))
            b.addF32(p + "attn_k.weight", shape: [dModel, kv], values: random(dModel * kv, scale: 0.5))
            b.addF32(p + "attn_v.weight", shape: [dModel, kv], values: random(dModel * kv, scale: 0.5))
            if architecture == "qwen2" {
                b.addF32(p + "attn_q.bias", shape: [q], values: random(q, scale: 0.1))
                b.addF32(p + "attn_k.bias", shape: [kv], values: random(kv, scale: 0.1))
                b.addF32(p + "attn_v.bias", shape: [kv], values: random(kv, scale: 0.1))
            }
            b.addF32(p + "attn_output.weight", shape: [q, dModel], values: random(q * dModel, scale: 0.3))
            b.addF32(p + "ffn_norm.weight", shape: [dModel], values: norm(dModel))
            b.addF32(p + "ffn_gate.weight", shape: [dModel, dFF], values: random(dModel * dFF, scale: 0.5))
            b.addF32(p + "ffn_up.weight", shape: [dModel, dFF], values: random(dModel * dFF, scale: 0.5))
            b.addF32(p + "ffn_down.weight", shape: [dFF, dModel], values: random(dFF * dModel, scale: 0.3))
        }
        return b
    }

    /// Writes the model to a temporary file and loads it.
    static func load(architecture: String = "llama") throws -> LanguageModel {
        let url = try TestPaths.temporaryDirectory().appendingPathComponent("tiny-\(architecture).gguf")
        try builder(architecture: architecture).write(to: url)
        return try LanguageModel(path: url.path)
    }
}

/// The tests' seeded generator: Probe's SplitMix64, plus uniform floats for synthetic weights.
typealias SeededGenerator = SplitMix64

extension SplitMix64 {
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
