import Foundation
import Probe

/// The running record of a sweep, beside its output (`OUT.journal.jsonl`): a header line naming the grid,
/// shard and model, then one JSON line per finished cell, appended and synced to disk unit by unit. A killed
/// sweep resumes from it (`--resume`) without redoing or losing finished cells; the finished sweep writes
/// the HDF5 and CSV files and removes it.
public final class EvaluationJournal {
    public let path: String
    /// Rows already finished (complete units only), in the order they were written.
    public private(set) var rows: [EvaluationRow] = []
    private let handle: FileHandle

    struct Header: Codable, Equatable {
        var grid: String
        var shard: String
        var modelSHA256: String
        var toolVersion: String
    }

    /// The journal of output `out`.
    public static func path(for out: String) -> String { out + ".journal.jsonl" }

    /// Opens the journal for `grid` and `shard`: a new one, or with `resume` the existing one (which must be
    /// of the same grid, shard, model and tool version). An existing journal without `resume` is refused
    /// unless `restart` (then it is replaced).
    public init(out: String, grid: EvaluationGrid, shard: Shard, modelSHA256: String, resume: Bool, restart: Bool) throws {
        path = Self.path(for: out)
        let header = Header(grid: grid.json, shard: shard.description, modelSHA256: modelSHA256, toolVersion: ToolVersion.string)
        let exists = FileManager.default.fileExists(atPath: path)
        if exists && resume {
            let (found, rows) = try Self.read(path)
            guard found == header else {
                var what: [String] = []
                if found.grid != header.grid { what.append("grid") }
                if found.shard != header.shard { what.append("shard (\(found.shard), now \(header.shard))") }
                if found.modelSHA256 != header.modelSHA256 { what.append("model") }
                if found.toolVersion != header.toolVersion { what.append("tool version (\(found.toolVersion))") }
                throw ProbeError("\(path): the unfinished sweep there has another \(what.joined(separator: ", ")); resume it with its own options, or --force to start over")
            }
            let units = Set(grid.units.map(\.name)), perUnit = grid.policyBudgets.count
            let complete = Dictionary(grouping: rows, by: \.unitName).filter { units.contains($0.key) && $0.value.count == perUnit }
            self.rows = rows.filter { complete[$0.unitName] != nil }
            // Rewrite without any torn tail, so appends start on a clean line.
            try Self.write(header: header, rows: self.rows, to: path)
        } else {
            if exists && !restart {
                throw ProbeError("\(path): an unfinished sweep is there; --resume continues it, --force starts over")
            }
            try Self.write(header: header, rows: [], to: path)
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ProbeError("\(path): cannot open the journal") }
        self.handle = handle
        handle.seekToEndOfFile()
    }

    deinit { try? handle.close() }

    /// Names of the units already finished.
    public var finishedUnits: Set<String> { Set(rows.map(\.unitName)) }

    /// Appends a finished unit's rows and syncs them to disk.
    public func append(_ unitRows: [EvaluationRow]) throws {
        let encoder = Self.encoder
        var data = Data()
        for row in unitRows {
            data.append(try encoder.encode(row))
            data.append(0x0A)
        }
        do {
            try handle.write(contentsOf: data)
            try handle.synchronize()
        } catch {
            throw ProbeError("\(path): cannot append to the journal: \(error)")
        }
        rows += unitRows
    }

    /// Removes the journal (after the final files are written).
    public func remove() {
        try? handle.close()
        unlink(path)
    }

    private static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    private static func write(header: Header, rows: [EvaluationRow], to path: String) throws {
        var data = try encoder.encode(header)
        data.append(0x0A)
        for row in rows {
            data.append(try encoder.encode(row))
            data.append(0x0A)
        }
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw ProbeError("\(path): cannot write the journal")
        }
    }

    /// The header and the complete lines of a journal (a torn last line, from a kill mid-write, is dropped).
    private static func read(_ path: String) throws -> (Header, [EvaluationRow]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw ProbeError("\(path): cannot read the journal") }
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: true)
        if data.last != 0x0A, !lines.isEmpty { lines.removeLast() }
        guard let first = lines.first, let header = try? JSONDecoder().decode(Header.self, from: Data(first)) else {
            throw ProbeError("\(path): not a dapq-probe sweep journal; remove it or use --force")
        }
        let rows = try lines.dropFirst().map { line -> EvaluationRow in
            do { return try JSONDecoder().decode(EvaluationRow.self, from: Data(line)) } catch {
                throw ProbeError("\(path): a damaged line in the journal; remove it or use --force")
            }
        }
        return (header, rows)
    }
}
