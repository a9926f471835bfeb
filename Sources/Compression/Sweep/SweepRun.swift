import Foundation
import Probe

/// A sweep from options to files: checks the outputs first, resumes from the journal when asked, runs this
/// shard's units, writes `OUT` (HDF5) and the CSV beside it, removes the journal, and returns the rows.
public struct SweepRun {
    public var out: String
    public var shard: Shard = .whole
    public var resume = false
    public var force = false
    public var haystackPath: String?
    public var wordListPath = RulerWordList.defaultPath
    /// A folder to write this shard's prompts into before the sweep runs (`SavedPrompts`); nil: none.
    public var savePrompts: String?

    public init(out: String) { self.out = out }

    public func execute(compressor: Compressor, grid: EvaluationGrid, provenance: ModelProvenance,
                        progress: ((SweepProgress) -> Void)? = nil) throws -> [EvaluationRow] {
        guard !grid.units.isEmpty else { throw ProbeError("the grid is empty: give at least one task, length and depth or sample") }
        let output = try AtomicOutputFile(path: out, overwrite: force)
        let csvPath = EvaluationFile.csvPath(for: out)
        let csv: AtomicOutputFile
        do { csv = try AtomicOutputFile(path: csvPath, overwrite: force) } catch {
            output.discard()
            throw error
        }
        InterruptCleanup.install(for: output)
        defer { InterruptCleanup.uninstall() }
        do {
            let samples = try EvaluationSamples(model: compressor.model, grid: grid, haystackPath: haystackPath, wordListPath: wordListPath)
            let sweep = EvaluationSweep(compressor: compressor, grid: grid, samples: samples)
            try sweep.check(shard.units(of: grid.units))
            if let savePrompts {
                for unit in shard.units(of: grid.units) { try SavedPrompts.write(try samples.sample(unit), unit: unit, to: savePrompts) }
            }
            let journal = try EvaluationJournal(out: out, grid: grid, shard: shard, modelSHA256: provenance.modelSHA256,
                                                resume: resume, restart: force)
            let rows: [EvaluationRow]
            do {
                rows = try sweep.run(shard: shard, journal: journal, progress: progress)
            } catch {
                // A run that failed before finishing any prompt leaves nothing to resume: no journal either.
                if journal.finishedUnits.isEmpty { journal.remove() }
                throw error
            }
            try EvaluationFile.write(rows: rows, grid: grid, shard: shard, units: shard.units(of: grid.units).count,
                                     metadata: provenance, to: output, csv: csv)
            journal.remove()
            return rows
        } catch {
            output.discard()
            csv.discard()
            throw error
        }
    }
}
