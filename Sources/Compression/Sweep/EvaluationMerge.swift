import Foundation
import Probe

/// Joins the files of a sharded sweep (`--shard I/N`) into the file an unsharded run writes: the shards must
/// share the grid, the model (SHA-256), the numerics, the KV cache type and the tool version; no cell may appear twice; every cell of
/// the grid must be there. Rows come out in grid order.
public enum EvaluationMerge {
    /// The merged rows and the grid, with the provenance to write (the shards', with `commandLine`).
    public static func merge(_ paths: [String], commandLine: String) throws -> (grid: EvaluationGrid, rows: [EvaluationRow], provenance: ModelProvenance) {
        guard let first = paths.first else { throw ProbeError("merge needs at least one shard file") }
        let shards = try paths.map { try EvaluationFile.read($0) }
        let reference = shards[0]
        var provenance = reference.provenance
        provenance.commandLine = commandLine
        for (path, shard) in zip(paths, shards).dropFirst() {
            guard shard.gridJSON == reference.gridJSON else {
                throw ProbeError("\(path): another grid than \(first) (lengths, depths, samples, policies, budgets, seed or settings differ); shards of one sweep only")
            }
            let (mine, theirs) = (shard.provenance, reference.provenance)
            guard mine.modelSHA256 == theirs.modelSHA256 else {
                throw ProbeError("\(path): made with another model (sha256 \(mine.modelSHA256.prefix(12))…) than \(first) (\(theirs.modelSHA256.prefix(12))…)")
            }
            guard mine.numerics == theirs.numerics else {
                throw ProbeError("\(path): made with \(mine.numerics) numerics, \(first) with \(theirs.numerics)")
            }
            guard mine.kvType == theirs.kvType else {
                throw ProbeError("\(path): made with kv_type \(mine.kvType), \(first) with \(theirs.kvType) (cache_bytes would mix)")
            }
            guard shard.toolVersion == reference.toolVersion else {
                throw ProbeError("\(path): made by dapq-probe \(shard.toolVersion), \(first) by \(reference.toolVersion)")
            }
        }
        var owner: [String: String] = [:]
        var byCell: [String: EvaluationRow] = [:]
        for (path, shard) in zip(paths, shards) {
            for row in shard.rows {
                if let earlier = owner[row.cellName] {
                    throw ProbeError("\(path): cell \(row.cellName) is also in \(earlier); each cell must come from one shard")
                }
                owner[row.cellName] = path
                byCell[row.cellName] = row
            }
        }
        let grid = reference.grid
        let expected = grid.units.flatMap { unit in grid.policyBudgets.map { "\(unit.name)/\($0.policy)/\($0.budget)" } }
        let missing = expected.filter { byCell[$0] == nil }
        guard missing.isEmpty else {
            let shown = missing.prefix(5).joined(separator: ", ")
            throw ProbeError("the shards lack \(missing.count) of the grid's \(expected.count) cells: \(shown)\(missing.count > 5 ? ", …" : "") (a shard missing or unfinished?)")
        }
        let extra = byCell.count - expected.count
        guard extra == 0 else { throw ProbeError("the shards hold \(extra) cells outside their grid") }
        return (grid, expected.map { byCell[$0]! }, provenance)
    }
}
