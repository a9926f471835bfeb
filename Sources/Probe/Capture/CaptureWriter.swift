import Foundation

/// Facts about a capture run that the file records besides the tensors.
public struct CaptureMetadata: Sendable {
    /// The model file, arithmetic, threads and command line.
    public var provenance: ModelProvenance
    /// The random seed (a capture draws nothing at random; recorded as 0 for the common schema).
    public var seed: Int
    /// The text the model saw (after the chat template, when one was applied), and whether it was applied.
    public var promptText: String
    public var chat: Bool
    /// The generated tokens decoded to text.
    public var generatedText: String

    public var modelPath: String { provenance.modelPath }
    public var modelSHA256: String { provenance.modelSHA256 }
    public var ropeLayout: String { provenance.ropeLayout }

    /// The metadata of a capture made with `model` from `modelPath`, hashing the model file.
    public init(model: LanguageModel, modelPath: String, promptText: String, chat: Bool, generatedText: String,
                threads: Int, commandLine: String, seed: Int = 0) throws {
        provenance = try ModelProvenance(model: model, modelPath: modelPath, threads: threads, commandLine: commandLine)
        self.seed = seed
        self.promptText = promptText
        self.chat = chat
        self.generatedText = generatedText
    }
}

/// Writes a capture in the schema of docs/schema.md: `schema = "dapq-probe/capture"`, version 2 (version 1
/// had no answer evidence: `decode/copy_source`, `decode/retrieval_score`, `prompt/answer_span`).
///
/// Layout (dimension names in brackets; every one is a root-level HDF5 dimension scale, so h5netcdf/xarray
/// show named dimensions; every tensor is float32, chunked, shuffle + gzip, with a `description`):
/// - `tokens/prompt` [position] int32, `tokens/generated` [step] int32, `text/prompt`, `text/generated`
/// - `prompt/rot_k` [layer, kv_head, position, d_head], `prompt/rot_q_window` [layer, head, window, d_head],
///   `prompt/v` (with values) [layer, kv_head, position, d_head]
/// - `decode/rot_q` [layer, head, step, d_head], `decode/rot_k` [layer, kv_head, step, d_head],
///   `decode/importance` [layer, kv_head, position], `decode/attention` (with attention) [layer, head, step, position]
/// - answer evidence: `decode/copy_source` [step] int32, `decode/retrieval_score` [layer, head] (attribute
///   `copying_steps`), `prompt/answer_span` [position] uint8 (when the span is known)
/// - dimension scales `/layer`, `/head`, `/kv_head`, `/position` (absolute positions 0…n-1), `/step`
///   (0…S-1; step s sits at position n+s), `/window` (the window queries' absolute positions), `/d_head`
///
/// The file is built in memory with the root attribute `complete = 1` written last, written under a
/// temporary name beside `path` (`AtomicOutputFile`), synced, and renamed onto `path`.
public enum CaptureWriter {
    public static let schema = "dapq-probe/capture"
    public static let schemaVersion = 2

    /// Writes `data` with `metadata` to `output`'s temporary file and commits it; on any error the
    /// temporary file is removed and the error says what failed.
    public static func write(_ data: CaptureData, metadata: CaptureMetadata, to output: AtomicOutputFile) throws {
        do {
            // Built in memory, then written in one go: disk errors come from plain writes, never from
            // inside HDF5 (see `HDF5File.createInMemory`).
            let file = try HDF5File.createInMemory(name: output.temporaryPath)
            try write(data, metadata: metadata, into: file)
            let image = try file.image()
            file.close()
            try output.write(image)
            try output.commit()
        } catch let error as HDF5Error {
            output.discard()
            throw ProbeError("\(output.targetPath): writing the capture failed: \(error)")
        } catch {
            output.discard()
            throw error
        }
    }

    /// Writes `data` to a new file at `path` (refused when it exists unless `overwrite`).
    public static func write(_ data: CaptureData, metadata: CaptureMetadata, toPath path: String,
                             overwrite: Bool) throws {
        try write(data, metadata: metadata, to: AtomicOutputFile(path: path, overwrite: overwrite))
    }

    /// Writes every group, dataset and attribute into an open, empty file; `complete` last.
    static func write(_ data: CaptureData, metadata: CaptureMetadata, into file: HDF5File) throws {
        let L = data.nLayers, H = data.nHeads, G = data.nKVHeads, d = data.dHead
        let n = data.promptLength, S = data.steps, w = data.window

        try metadata.provenance.writeHeader(to: file, schema: schema, schemaVersion: schemaVersion)
        try file.setAttribute("n_prompt", n)
        try file.setAttribute("n_decode", S)
        try file.setAttribute("n_window", w)
        try file.setAttribute("requested_steps", data.requestedSteps)
        try file.setAttribute("stopped_at_end_of_generation", data.stoppedAtEndOfGeneration ? 1 : 0)
        try file.setAttribute("chat", metadata.chat ? 1 : 0)
        try file.setAttribute("seed", metadata.seed)
        try file.setAttribute("importance_definition",
                              "mean over decoding steps and the query heads of the KV group of softmax(q.k/sqrt(d_head)) "
                              + "over every key the query sees (prompt and steps 0..s), restricted to prompt keys")

        try file.makeDimensionScale(name: "layer", values: Array(0..<L), description: "transformer layer index")
        try file.makeDimensionScale(name: "head", values: Array(0..<H), description: "query head index")
        try file.makeDimensionScale(name: "kv_head", values: Array(0..<G),
                                    description: "KV head index; query head h uses KV head h / (n_heads / n_kv_heads)")
        try file.makeDimensionScale(name: "position", values: Array(0..<n), description: "absolute prompt position")
        try file.makeDimensionScale(name: "step", values: Array(0..<S),
                                    description: "decoding step s, feeding the s-th generated token at position n_prompt + s")
        try file.makeDimensionScale(name: "window", values: data.windowPositions,
                                    description: "absolute positions of the window queries (the last n_window prompt tokens)")
        try file.makeDimensionScale(name: "d_head", values: Array(0..<d), description: "component within a head")

        func tensor<T: HDF5Scalar>(_ path: String, _ values: [T], _ dims: [(String, Int)], _ description: String) throws {
            let dataset = try file.createDataset(path, values: values, shape: dims.map(\.1), description: description)
            try dataset.attachScales(dims.map(\.0))
            dataset.close()
        }
        let layer = ("layer", L), head = ("head", H), kvHead = ("kv_head", G), position = ("position", n)
        let step = ("step", S), window = ("window", w), dHead = ("d_head", d)

        try tensor("tokens/prompt", data.promptTokens.map { Int32($0) }, [position], "prompt token ids")
        try tensor("tokens/generated", data.generatedTokens.map { Int32($0) }, [step],
                   "greedily generated token ids, one per decoding step (end-of-generation token excluded)")
        try file.createStringDataset("text/prompt", value: metadata.promptText,
                                     description: "the prompt text the model saw (after the chat template when chat = 1)").close()
        try file.createStringDataset("text/generated", value: metadata.generatedText,
                                     description: "the generated tokens decoded to text").close()

        try tensor("prompt/rot_k", data.promptKeys, [layer, kvHead, position, dHead],
                   "prompt keys after RoPE (\(metadata.ropeLayout)), as the KV cache holds them")
        if let values = data.promptValues {
            try tensor("prompt/v", values, [layer, kvHead, position, dHead], "prompt values, as the KV cache holds them")
        }
        try tensor("prompt/rot_q_window", data.windowQueries, [layer, head, window, dHead],
                   "queries after RoPE of the last n_window prompt tokens (from prefill)")
        try tensor("decode/rot_q", data.decodeQueries, [layer, head, step, dHead],
                   "true decoding queries after RoPE: step s feeds generated token s at position n_prompt + s")
        try tensor("decode/rot_k", data.decodeKeys, [layer, kvHead, step, dHead],
                   "keys after RoPE of the generated tokens, appended to the cache at positions n_prompt + s")
        try tensor("decode/importance", data.importance, [layer, kvHead, position],
                   "T: mean over steps and the query heads of the KV group of each decoding query's softmax weight "
                   + "on prompt key j; the softmax runs over the prompt and steps 0..s")
        try tensor("decode/copy_source", data.copySource.map { Int32($0) }, [step],
                   "the prompt position generated token s copies (generated tokens aligned onto the prompt, longest run "
                   + "first, runs of at least \(CopySource.defaultMinimumRun) tokens); -1 where it copies nothing")
        let retrieval = try file.createDataset(
            "decode/retrieval_score", values: data.retrievalScore.map { Float($0) }, shape: [L, H],
            description: "retrieval score (Wu et al. 2024): the fraction of copying steps (copy_source >= 0) at which the "
                + "head's largest attention weight, in the query that chose the token (the last prompt query for token 0, "
                + "step s-1 for token s; softmax over every key it sees), lies on the copied prompt position; NaN when nothing is copied")
        try retrieval.attachScales(["layer", "head"])
        try retrieval.setAttribute("copying_steps", data.copyingSteps)
        retrieval.close()
        try file.setAttribute("copying_steps", data.copyingSteps)
        if let span = data.answerSpan {
            try tensor("prompt/answer_span", AnswerSpan.mask(span, promptLength: n), [position],
                       "1 at the prompt positions holding the answer's source (the needle's value tokens), 0 elsewhere")
            try file.setAttribute("answer_span", [span.lowerBound, span.upperBound])
        }
        if let attention = data.attention {
            try tensor("decode/attention", attention, [layer, head, step, position],
                       "each decoding query's softmax weight on each prompt key (softmax over the prompt and steps 0..s)")
        }
        try file.setAttribute("complete", 1)
    }
}
