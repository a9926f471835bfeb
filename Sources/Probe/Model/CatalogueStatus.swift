import Foundation

/// What the cache holds of one catalogue model: missing, fetched (its GGUF header accounts for its size, which is
/// the catalogue's), verified (and its SHA-256 is the catalogue's), or broken (with the reason, naming the file).
/// The figures are the catalogue's, replaced by the file's own when it is present.
public struct CatalogueStatus: Sendable {
    public enum State: Sendable {
        case fetched, verified, missing
        case broken(String)

        public var isFetched: Bool {
            switch self { case .fetched, .verified: return true; default: return false }
        }

        /// The state in a word or three, as `dapq-probe models` prints it.
        public var word: String {
            switch self {
            case .fetched: return "yes"
            case .verified: return "yes, SHA-256 verified"
            case .missing: return "no"
            case .broken: return "BROKEN"
            }
        }
    }

    public var state: State
    /// Where the model lives (or will live once fetched); nil without a cache folder.
    public var path: String?
    public var bytes: Int
    public var architecture: String
    public var contextLength: Int
    /// The catalogue entry this is the status of.
    public var entry: CatalogueEntry

    /// The status of `entry` in the cache; with `verify`, the file is hashed too (read once).
    public init(of entry: CatalogueEntry, verify: Bool) {
        self.entry = entry
        state = .missing
        path = ModelCatalogue.cachedPath(of: entry)
        bytes = entry.fileSize
        architecture = entry.architecture
        contextLength = entry.contextLength
        guard let path, FileManager.default.fileExists(atPath: path) else { return }
        do {
            let gguf = try GGUFFile(path: path)
            bytes = gguf.fileSize
            if let arch = gguf.string("general.architecture") {
                architecture = arch
                contextLength = gguf.int(arch + ".context_length") ?? contextLength
            }
            guard gguf.fileSize == gguf.expectedFileSize else {
                state = .broken("\(path): the GGUF header accounts for \(gguf.expectedFileSize) bytes, the file has \(gguf.fileSize) (fetch it again: scripts/fetch_models.sh \(entry.name))")
                return
            }
            guard gguf.fileSize == entry.fileSize else {
                state = .broken("\(path): \(gguf.fileSize) bytes, the catalogue's \(entry.name) has \(entry.fileSize)")
                return
            }
            state = .fetched
            if verify {
                let hash = try SHA256.hex(ofFileAt: path)
                state = hash == entry.sha256 ? .verified
                    : .broken("\(path): SHA-256 \(hash), the catalogue's \(entry.name) has \(entry.sha256)")
            }
        } catch {
            state = .broken("\(error)")
        }
    }

    /// The status as `models --json` prints it (one object per model).
    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "name": entry.name, "file": entry.fileName, "bytes": bytes, "architecture": architecture,
            "context_length": contextLength, "fetched": state.isFetched, "state": state.word,
            "sha256": entry.sha256, "source": entry.source, "summary": entry.summary,
        ]
        if let path { object["path"] = path }
        if case .broken(let reason) = state { object["problem"] = reason }
        return object
    }

    /// The status as a row of `models`' table: name, size, architecture, context, fetched, file.
    public var row: [String] {
        [entry.name, String(format: "%.1f MB", Double(bytes) / 1e6), architecture, String(contextLength), state.word,
         path ?? entry.fileName]
    }
}
