import ArgumentParser
import Compression
import Foundation
import Probe

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the shard files of a sweep (niah/ruler --shard I/N) into one HDF5 + CSV, as an unsharded run writes it.",
        discussion: "Refuses shards of different grids, models, numerics or tool versions, and cells present twice; names missing cells.")

    @Argument(help: "The merged HDF5 file to write (the CSV goes beside it).")
    var out: String

    @Argument(help: "The shard files.")
    var shards: [String]

    @Flag(help: "Replace existing output files.")
    var force = false

    func run() throws {
        guard !shards.isEmpty else { throw ProbeError("merge: give the output file, then the shard files") }
        let output = try AtomicOutputFile(path: out, overwrite: force)
        let csv = try AtomicOutputFile(path: EvaluationFile.csvPath(for: out), overwrite: force)
        let merged: (grid: EvaluationGrid, rows: [EvaluationRow], provenance: ModelProvenance)
        do {
            merged = try EvaluationMerge.merge(shards, commandLine: ModelProvenance.shellQuoted(CommandLine.arguments))
        } catch {
            output.discard()
            csv.discard()
            throw error
        }
        try EvaluationFile.write(rows: merged.rows, grid: merged.grid, shard: .whole, units: merged.grid.units.count,
                                 metadata: merged.provenance, to: output, csv: csv)
        print("\(out): \(merged.rows.count) cells from \(shards.count) shards; CSV \(EvaluationFile.csvPath(for: out))")
        print(EvaluationSummary.table(merged.rows))
    }
}
