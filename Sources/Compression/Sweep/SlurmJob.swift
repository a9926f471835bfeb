import Foundation
import Probe

/// A sharded sweep as Slurm jobs: an `sbatch` job array whose task I runs shard I/N of the sweep, and a merge
/// job that runs after the whole array succeeded (`afterok`). Ordinary `#SBATCH` lines a user can read and edit;
/// the toolkit schedules nothing itself.
public struct SlurmJob: Sendable {
    /// `niah` or `ruler`, and the sweep's own arguments (not `--out`, `--shard`, `--resume`: the job sets them).
    public var sweep: String
    public var arguments: [String]
    public var shards: Int
    /// The merged output; the scripts, shard files and logs go to `<out>.slurm/`.
    public var out: String
    public var partition: String?
    public var time: String?
    public var memory: String?
    public var cpusPerTask = 2
    /// The dapq-probe binary and the folder the jobs run in (absolute paths).
    public var binary: String
    public var workingDirectory: String

    public init(sweep: String, arguments: [String], shards: Int, out: String, binary: String, workingDirectory: String) throws {
        guard ["niah", "ruler"].contains(sweep) else { throw ProbeError("slurm: the sweep must be niah or ruler, got '\(sweep)'") }
        guard shards >= 1 else { throw ProbeError("--shards must be at least 1") }
        for reserved in ["--out", "--shard", "--resume"] where arguments.contains(where: { $0 == reserved || $0.hasPrefix(reserved + "=") }) {
            throw ProbeError("slurm: leave \(reserved) to the job (it writes shard files under \(out).slurm/ and merges them into \(out))")
        }
        self.sweep = sweep
        self.arguments = arguments
        self.shards = shards
        self.out = out
        self.binary = binary
        self.workingDirectory = workingDirectory
    }

    /// `<out>.slurm`: scripts, shard files, logs.
    public var folder: String { out + ".slurm" }
    public var arrayScriptPath: String { folder + "/array.sbatch" }
    public var mergeScriptPath: String { folder + "/merge.sbatch" }
    public func shardPath(_ index: Int) -> String { folder + "/shard-\(index)-of-\(shards).h5" }

    private func header(name: String) -> [String] {
        var lines = ["#!/bin/bash", "#SBATCH --job-name=\(name)", "#SBATCH --cpus-per-task=\(cpusPerTask)"]
        if let partition { lines.append("#SBATCH --partition=\(partition)") }
        if let time { lines.append("#SBATCH --time=\(time)") }
        if let memory { lines.append("#SBATCH --mem=\(memory)") }
        return lines
    }

    private func quoted(_ words: [String]) -> String { ModelProvenance.shellQuoted(words) }

    /// The job array: task I runs shard I/N, resuming its own journal if it ran before.
    public var arrayScript: String {
        var args = arguments
        if !args.contains(where: { $0 == "--threads" || $0.hasPrefix("--threads=") }) { args += ["--threads", String(cpusPerTask)] }
        let shardFile = "\(folder)/shard-${SLURM_ARRAY_TASK_ID}-of-\(shards).h5"
        return (header(name: "dapq-\(sweep)") + [
            "#SBATCH --array=1-\(shards)",
            "#SBATCH --output=\(folder)/logs/\(sweep)-%A_%a.log",
            "# Shard I of \(shards) of the sweep; rerunning a task resumes its journal.",
            "set -euo pipefail",
            "cd \(quoted([workingDirectory]))",
            "exec \(quoted([binary, sweep] + args)) --shard \"${SLURM_ARRAY_TASK_ID}/\(shards)\" --out \"\(shardFile)\" --resume --progress always",
        ]).joined(separator: "\n") + "\n"
    }

    /// The merge, run after every array task succeeded.
    public var mergeScript: String {
        (header(name: "dapq-\(sweep)-merge") + [
            "#SBATCH --output=\(folder)/logs/merge-%j.log",
            "# Joins the \(shards) shard files into \(out) (and its CSV).",
            "set -euo pipefail",
            "cd \(quoted([workingDirectory]))",
            "exec \(quoted([binary, "merge", "--force", out] + (1...shards).map(shardPath)))",
        ]).joined(separator: "\n") + "\n"
    }

    /// Writes both scripts (and the log folder); returns their paths.
    public func writeScripts() throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder + "/logs", withIntermediateDirectories: true)
        for (path, text) in [(arrayScriptPath, arrayScript), (mergeScriptPath, mergeScript)] {
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o755]) else {
                throw ProbeError("\(path): cannot write the script")
            }
        }
        return [arrayScriptPath, mergeScriptPath]
    }

    /// Submits the array, then the merge with `--dependency=afterok:<array>`; returns both job ids.
    public func submit() throws -> (array: String, merge: String) {
        let array = try Self.sbatch([arrayScriptPath])
        let merge = try Self.sbatch(["--dependency=afterok:\(array)", mergeScriptPath])
        return (array, merge)
    }

    /// Runs `sbatch --parsable ARGS`, returning the job id.
    static func sbatch(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sbatch", "--parsable"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { throw ProbeError("sbatch: cannot run it (is Slurm installed and SLURM_CONF set?): \(error)") }
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let reason = stderr.split(separator: "\n").first.map(String.init) ?? "exit \(process.terminationStatus)"
            throw ProbeError("sbatch \(arguments.last ?? ""): \(reason)")
        }
        guard let id = stdout.split(separator: ";").first?.trimmingCharacters(in: .whitespacesAndNewlines), !id.isEmpty else {
            throw ProbeError("sbatch \(arguments.last ?? ""): no job id in its answer '\(stdout)'")
        }
        return id
    }
}
