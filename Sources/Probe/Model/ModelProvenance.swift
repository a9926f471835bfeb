import Foundation

/// Where a result came from, as every dapq-probe output file records it: the model file and its SHA-256,
/// its family and shapes, the arithmetic, the KV cache's storage, the thread count, the SIMD tier of the integer kernels and the command line.
public struct ModelProvenance: Sendable {
    /// The GGUF file the model came from, and its SHA-256 (hex).
    public var modelPath: String
    public var modelSHA256: String
    /// `general.architecture` (`llama`, `qwen2`).
    public var architecture: String
    public var nLayers: Int
    public var nHeads: Int
    public var nKVHeads: Int
    public var dHead: Int
    /// RoPE base and head layout (`gguf_adjacent_pairs`, `neox_halves`).
    public var ropeBase: Double
    public var ropeLayout: String
    /// How the forward pass rounded (`llama-cpp`, `float32`).
    public var numerics: String
    /// How the KV caches stored keys and values (`f16`, `f32`; `unrecorded` in files written before it was recorded).
    public var kvType: String
    /// Threads of the numeric kernels.
    public var threads: Int
    /// The `SIMDTier` the integer kernels ran on (`unrecorded` in files written before it was recorded).
    public var simdTier: String
    /// The command line that made the file, shell-quoted.
    public var commandLine: String

    /// The provenance of `model` loaded from `modelPath` (hashes the file).
    public init(model: LanguageModel, modelPath: String, threads: Int, commandLine: String) throws {
        self.modelPath = URL(fileURLWithPath: modelPath).standardizedFileURL.path
        modelSHA256 = try SHA256.hex(ofFileAt: modelPath)
        let c = model.config
        architecture = c.architecture.name
        nLayers = c.nLayers
        nHeads = c.nHeads
        nKVHeads = c.nKVHeads
        dHead = c.dHead
        ropeBase = Double(c.ropeBase)
        ropeLayout = c.architecture.ropeLayout.rawValue
        numerics = model.numerics.rawValue
        kvType = model.cacheType.rawValue
        self.threads = threads
        simdTier = SIMDTier.active.rawValue
        self.commandLine = commandLine
    }

    /// The provenance another dapq-probe file recorded (to carry it into a file derived from it, such as a merge),
    /// with this run's command line.
    public init(recordedIn file: HDF5File, commandLine: String) throws {
        modelPath = try file.stringAttribute("model_path")
        modelSHA256 = try file.stringAttribute("model_sha256")
        architecture = try file.stringAttribute("architecture")
        nLayers = try file.attribute("n_layers", as: Int.self)
        nHeads = try file.attribute("n_heads", as: Int.self)
        nKVHeads = try file.attribute("n_kv_heads", as: Int.self)
        dHead = try file.attribute("d_head", as: Int.self)
        ropeBase = try file.attribute("rope_base", as: Double.self)
        ropeLayout = try file.stringAttribute("rope_layout")
        numerics = try file.stringAttribute("numerics")
        kvType = try file.hasAttribute("kv_type") ? try file.stringAttribute("kv_type") : "unrecorded"
        threads = try file.attribute("threads", as: Int.self)
        simdTier = try file.hasAttribute("simd_tier") ? try file.stringAttribute("simd_tier") : "unrecorded"
        self.commandLine = commandLine
    }

    /// Writes the root attributes every dapq-probe file starts with: `schema`, `schema_version`,
    /// `complete = 0` (the writer sets it to 1 last), `tool_version`, `created` (ISO 8601), and these facts.
    public func writeHeader(to file: HDF5File, schema: String, schemaVersion: Int) throws {
        try file.setAttribute("schema", schema)
        try file.setAttribute("schema_version", schemaVersion)
        try file.setAttribute("complete", 0)
        try file.setAttribute("tool_version", ToolVersion.string)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        try file.setAttribute("created", formatter.string(from: Date()))
        try file.setAttribute("model_path", modelPath)
        try file.setAttribute("model_sha256", modelSHA256)
        try file.setAttribute("architecture", architecture)
        try file.setAttribute("n_layers", nLayers)
        try file.setAttribute("n_heads", nHeads)
        try file.setAttribute("n_kv_heads", nKVHeads)
        try file.setAttribute("d_head", dHead)
        try file.setAttribute("rope_base", ropeBase)
        try file.setAttribute("rope_layout", ropeLayout)
        try file.setAttribute("threads", threads)
        try file.setAttribute("simd_tier", simdTier)
        try file.setAttribute("command_line", commandLine)
        try file.setAttribute("numerics", numerics)
        try file.setAttribute("kv_type", kvType)
    }

    /// `arguments` joined as a POSIX shell would need them quoted.
    public static func shellQuoted(_ arguments: [String]) -> String {
        arguments.map { argument in
            let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
            if !argument.isEmpty && argument.allSatisfy(safe.contains) { return argument }
            return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }
}
