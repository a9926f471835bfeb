import Foundation
import Probe

/// A capture file (`dapq-probe capture`, docs/schema.md) read back: what the ablation needs.
public struct CaptureFile: Sendable {
    /// The file's path as given.
    public let path: String
    public let modelPath: String
    public let modelSHA256: String
    public let architecture: String
    public let nLayers: Int, nHeads: Int, nKVHeads: Int, dHead: Int
    public let ropeBase: Double
    public let ropeLayout: String
    /// How the capture's forward pass rounded (`llama-cpp`, `float32`), when recorded.
    public let numerics: String?
    public let stoppedAtEndOfGeneration: Bool
    /// `tokens/prompt` `[n]` and `tokens/generated` `[S]`.
    public let promptTokens: [Int]
    public let generatedTokens: [Int]
    /// `prompt/rot_k` `[L, G, n, d]`.
    public let promptKeys: [Float]
    /// `prompt/rot_q_window` `[L, H, w, d]` and the window's absolute positions `[w]`.
    public let windowQueries: [Float]
    public let windowPositions: [Int]
    /// `decode/rot_q` `[L, H, S, d]`, `decode/rot_k` `[L, G, S, d]`, `decode/importance` `[L, G, n]` (T).
    public let decodeQueries: [Float]
    public let decodeKeys: [Float]
    public let importance: [Float]
    /// Answer evidence (schema 2; nil in older captures): `prompt/answer_span` `[n]` (nil also when the capture
    /// was made without a span), `decode/copy_source` `[S]`, `decode/retrieval_score` `[L, H]`.
    public let answerSpan: [Bool]?
    public let copySource: [Int]?
    public let retrievalScore: [Double]?
    /// Generated tokens that copy the prompt (0 when unknown).
    public let copyingSteps: Int

    public var promptLength: Int { promptTokens.count }
    public var steps: Int { generatedTokens.count }

    /// The header of a capture (root attributes only): cheap, for checking many files before a long run.
    public struct Header: Sendable {
        public let path: String
        public let modelPath: String
        public let modelSHA256: String
        public let nLayers: Int, nHeads: Int, nKVHeads: Int, dHead: Int
        public let promptLength: Int
        public let steps: Int
        /// The capture's arithmetic (`llama-cpp`, `float32`), when recorded.
        public var numerics: String? = nil
        /// `decode/retrieval_score` `[L, H]` and its copying steps (nil and 0 in captures before schema 2).
        public var retrievalScore: [Double]? = nil
        public var copyingSteps: Int = 0
        /// Whether the capture holds `prompt/answer_span`.
        public var hasAnswerSpan = false
    }

    /// Whether the file at `path` is a complete capture (for picking captures out of a folder).
    public static func isCapture(_ path: String) -> Bool {
        guard let file = try? open(path) else { return false }
        file.close()
        return true
    }

    /// Reads and checks the root attributes of the capture at `path`; errors name the file.
    public static func header(_ path: String) throws -> Header {
        let file = try open(path)
        defer { file.close() }
        return try wrap(path) {
            Header(path: path, modelPath: try file.stringAttribute("model_path"),
                   modelSHA256: try file.stringAttribute("model_sha256"),
                   nLayers: try file.attribute("n_layers", as: Int.self), nHeads: try file.attribute("n_heads", as: Int.self),
                   nKVHeads: try file.attribute("n_kv_heads", as: Int.self), dHead: try file.attribute("d_head", as: Int.self),
                   promptLength: try file.attribute("n_prompt", as: Int.self), steps: try file.attribute("n_decode", as: Int.self),
                   numerics: (try? file.hasAttribute("numerics")) == true ? try? file.stringAttribute("numerics") : nil,
                   retrievalScore: try readRetrievalScore(file, layers: try file.attribute("n_layers", as: Int.self),
                                                          heads: try file.attribute("n_heads", as: Int.self)),
                   copyingSteps: try readCopyingSteps(file),
                   hasAnswerSpan: file.exists("prompt/answer_span"))
        }
    }

    /// `decode/retrieval_score` [layer, head] as float64, or nil when the capture has none.
    private static func readRetrievalScore(_ file: HDF5InputFile, layers: Int, heads: Int) throws -> [Double]? {
        guard file.exists("decode/retrieval_score") else { return nil }
        return try file.read("decode/retrieval_score", as: Float.self, shape: [layers, heads]).map(Double.init)
    }

    private static func readCopyingSteps(_ file: HDF5InputFile) throws -> Int {
        try file.hasAttribute("copying_steps") ? try file.attribute("copying_steps", as: Int.self) : 0
    }

    /// The capture at `path`, opened and checked: an HDF5 file, schema `dapq-probe/capture`, complete.
    private static func open(_ path: String) throws -> HDF5InputFile {
        try HDF5InputFile(path: path, schema: CaptureWriter.schema, kind: "capture file")
    }

    private static func wrap<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ProbeError { throw error } catch {
            throw ProbeError("\(path): cannot read the capture: \(error)")
        }
    }

    /// Reads the capture at `path`; errors are one line naming the file.
    public init(path: String) throws {
        let file = try Self.open(path)
        defer { file.close() }
        self.path = path
        (modelPath, modelSHA256, architecture, ropeLayout) = try Self.wrap(path) {
            (try file.stringAttribute("model_path"), try file.stringAttribute("model_sha256"),
             try file.stringAttribute("architecture"), try file.stringAttribute("rope_layout"))
        }
        (nLayers, nHeads, nKVHeads, dHead) = try Self.wrap(path) {
            (try file.attribute("n_layers", as: Int.self), try file.attribute("n_heads", as: Int.self),
             try file.attribute("n_kv_heads", as: Int.self), try file.attribute("d_head", as: Int.self))
        }
        ropeBase = try Self.wrap(path) { try file.attribute("rope_base", as: Double.self) }
        numerics = (try? file.hasAttribute("numerics")) == true ? try? file.stringAttribute("numerics") : nil
        stoppedAtEndOfGeneration = ((try? file.attribute("stopped_at_end_of_generation", as: Int.self)) ?? 0) == 1
        /// The dataset's numbers, after checking that it exists, holds numbers and has `shape` (from the root attributes).
        func read<T: HDF5Scalar>(_ name: String, _ type: T.Type, shape: [Int]) throws -> [T] {
            try file.read(name, as: T.self, shape: shape)
        }
        let L = nLayers, H = nHeads, G = nKVHeads, d = dHead
        let n = try Self.wrap(path) { try file.attribute("n_prompt", as: Int.self) }
        let S = try Self.wrap(path) { try file.attribute("n_decode", as: Int.self) }
        guard n >= 1, S >= 1, L >= 1, H >= 1, G >= 1, d >= 1, H % G == 0 else {
            throw ProbeError("\(path): inconsistent root attributes (n_prompt \(n), n_decode \(S), \(L) layers, \(H) heads, \(G) KV heads)")
        }
        promptTokens = try read("tokens/prompt", Int.self, shape: [n])
        generatedTokens = try read("tokens/generated", Int.self, shape: [S])
        promptKeys = try read("prompt/rot_k", Float.self, shape: [L, G, n, d])
        let w = try file.shape(of: "prompt/rot_q_window", holding: .numbers)
        guard w.count == 4, w[0] == L, w[1] == H, w[3] == d, w[2] >= 1, w[2] <= n else {
            throw ProbeError("\(path): dataset 'prompt/rot_q_window' has shape \(w), expected [\(L), \(H), w, \(d)] with 1 ≤ w ≤ \(n)")
        }
        windowQueries = try read("prompt/rot_q_window", Float.self, shape: w)
        windowPositions = Array((n - w[2])..<n)
        decodeQueries = try read("decode/rot_q", Float.self, shape: [L, H, S, d])
        decodeKeys = try read("decode/rot_k", Float.self, shape: [L, G, S, d])
        importance = try read("decode/importance", Float.self, shape: [L, G, n])
        answerSpan = file.exists("prompt/answer_span") ? try read("prompt/answer_span", UInt8.self, shape: [n]).map { $0 != 0 } : nil
        copySource = file.exists("decode/copy_source") ? try read("decode/copy_source", Int.self, shape: [S]) : nil
        retrievalScore = file.exists("decode/retrieval_score")
            ? try read("decode/retrieval_score", Float.self, shape: [L, H]).map(Double.init) : nil
        copyingSteps = try Self.wrap(path) { try Self.readCopyingSteps(file) }
    }

    /// The true decoding queries as a query set (each step sees the prompt and the steps up to itself).
    public var truthQuerySet: QuerySet {
        let S = steps
        return QuerySet(nLayers: nLayers, nHeads: nHeads, nKVHeads: nKVHeads, dHead: dHead,
                        fileQueries: decodeQueries, fileKeys: decodeKeys,
                        positions: (0..<S).map { promptLength + $0 }, tokens: generatedTokens,
                        visiblePrompt: Array(repeating: promptLength, count: S), visibleOwn: (0..<S).map { $0 + 1 })
    }
}
