import ArgumentParser
import Foundation
import Probe

/// `dapq-probe models`: the catalogue, with what is fetched.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the catalogue models: size, architecture, context length, and whether they are fetched.",
        discussion: """
            A model counts as fetched when its GGUF is in the cache (.cache/models, or $DAPQ_PROBE_CACHE/models) and \
            its own header and tensor table account for its size exactly. `make setup` fetches smollm2-135m and \
            qwen2.5-coder-0.5b, `make models` both Qwen models (scripts/fetch_models.sh NAME fetches one).
            """)

    @Flag(help: "Also hash every fetched file and compare with the catalogue's SHA-256 (reads each file once).")
    var verify = false

    @Flag(help: "One JSON object per model instead of the table.")
    var json = false

    func run() throws {
        var rows: [[String]] = [["name", "size", "architecture", "context", "fetched", "file"]]
        var failures: [String] = []
        for entry in ModelCatalogue.entries {
            let status = Self.status(of: entry, verify: verify)
            if case .broken(let reason) = status.state { failures.append(reason) }
            if json {
                var object: [String: Any] = [
                    "name": entry.name, "file": entry.fileName, "bytes": status.bytes, "architecture": status.architecture,
                    "context_length": status.contextLength, "fetched": status.state.isFetched, "state": status.state.word,
                    "sha256": entry.sha256, "source": entry.source, "summary": entry.summary,
                ]
                if let path = status.path { object["path"] = path }
                if case .broken(let reason) = status.state { object["problem"] = reason }
                print(try JSONOutput.line(object))
            } else {
                rows.append([entry.name, Self.megabytes(status.bytes), status.architecture, String(status.contextLength),
                             status.state.word, status.path ?? entry.fileName])
            }
        }
        if !json {
            let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
            for row in rows {
                print(row.enumerated().map { c, cell in
                    c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                }.joined(separator: "  "))
            }
            for entry in ModelCatalogue.entries { print("  \(entry.name): \(entry.summary); \(entry.source)") }
        }
        for reason in failures { FileHandle.standardError.write(Data("dapq-probe: \(reason)\n".utf8)) }
        if !failures.isEmpty { throw ExitCode.failure }
    }

    struct Status {
        enum State {
            case fetched, verified, missing
            case broken(String)
            var isFetched: Bool {
                switch self { case .fetched, .verified: return true; default: return false }
            }
            var word: String {
                switch self {
                case .fetched: return "yes"
                case .verified: return "yes, SHA-256 verified"
                case .missing: return "no"
                case .broken: return "BROKEN"
                }
            }
        }
        var state: State
        var path: String?
        var bytes: Int
        var architecture: String
        var contextLength: Int
    }

    /// The catalogue's figures, replaced by the file's own when it is fetched.
    static func status(of entry: CatalogueEntry, verify: Bool) -> Status {
        var s = Status(state: .missing, path: ModelCatalogue.cachedPath(of: entry), bytes: entry.fileSize,
                       architecture: entry.architecture, contextLength: entry.contextLength)
        guard let path = s.path, FileManager.default.fileExists(atPath: path) else { return s }
        do {
            let gguf = try GGUFFile(path: path)
            s.bytes = gguf.fileSize
            if let arch = gguf.string("general.architecture") {
                s.architecture = arch
                s.contextLength = gguf.int(arch + ".context_length") ?? s.contextLength
            }
            guard gguf.fileSize == gguf.expectedFileSize else {
                s.state = .broken("\(path): the GGUF header accounts for \(gguf.expectedFileSize) bytes, the file has \(gguf.fileSize) (fetch it again: scripts/fetch_models.sh \(entry.name))")
                return s
            }
            guard gguf.fileSize == entry.fileSize else {
                s.state = .broken("\(path): \(gguf.fileSize) bytes, the catalogue's \(entry.name) has \(entry.fileSize)")
                return s
            }
            s.state = .fetched
            if verify {
                let hash = try SHA256.hex(ofFileAt: path)
                s.state = hash == entry.sha256 ? .verified
                    : .broken("\(path): SHA-256 \(hash), the catalogue's \(entry.name) has \(entry.sha256)")
            }
        } catch {
            s.state = .broken("\(error)")
        }
        return s
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
}
