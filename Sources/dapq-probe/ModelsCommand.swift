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
            if json { print(try JSONOutput.line(status.jsonObject)) } else { rows.append(status.row) }
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

}
