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
            let status = CatalogueStatus(of: entry, verify: verify)
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

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
}
