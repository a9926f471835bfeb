import ArgumentParser
import Compression
import Foundation
import Probe

struct SlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Write (and with --submit submit) Slurm scripts that run a niah/ruler sweep as a job array of shards, then merge them.",
        discussion: """
            Example: dapq-probe slurm niah --shards 8 --out eval/niah.h5 --partition cpu --time 02:00:00 -- --lengths 1000,2000,4000
            The array task I runs `dapq-probe niah … --shard I/8 --out eval/niah.h5.slurm/shard-I-of-8.h5 --resume`; a job \
            depending on the whole array (afterok) runs `dapq-probe merge`. Scripts, shard files and logs go to OUT.slurm/.
            """)

    @Argument(help: "The sweep: niah or ruler.")
    var sweep: String

    @Option(help: "Shards (array tasks).")
    var shards: Int

    @Option(help: "The merged HDF5 file (CSV beside it).")
    var out: String

    @Option(help: "Slurm partition (#SBATCH --partition).")
    var partition: String?

    @Option(help: "Time limit per task (#SBATCH --time), e.g. 02:00:00.")
    var time: String?

    @Option(help: "Memory per task (#SBATCH --mem), e.g. 4G.")
    var mem: String?

    @Option(help: "CPUs per task (#SBATCH --cpus-per-task), also the sweep's --threads unless given.")
    var cpusPerTask: Int = 2

    @Flag(help: "Submit the array and the dependent merge with sbatch (needs Slurm on this machine).")
    var submit = false

    @Argument(parsing: .postTerminator, help: "The sweep's own options, after --.")
    var sweepArguments: [String] = []

    func run() throws {
        guard cpusPerTask >= 1 else { throw ProbeError("--cpus-per-task must be at least 1") }
        let cwd = FileManager.default.currentDirectoryPath
        let absoluteOut = out.hasPrefix("/") ? out : cwd + "/" + out
        let binary = URL(fileURLWithPath: CommandLine.arguments[0], relativeTo: URL(fileURLWithPath: cwd + "/")).standardizedFileURL.path
        var job = try SlurmJob(sweep: sweep, arguments: sweepArguments, shards: shards, out: absoluteOut, binary: binary,
                               workingDirectory: cwd)
        job.partition = partition
        job.time = time
        job.memory = mem
        job.cpusPerTask = cpusPerTask
        let paths = try job.writeScripts()
        print("# \(paths[0])")
        print(job.arrayScript)
        print("# \(paths[1])")
        print(job.mergeScript)
        if submit {
            let ids = try job.submit()
            print("submitted: array job \(ids.array) (\(shards) tasks), merge job \(ids.merge) after it (afterok)")
        } else {
            print("to submit: merge_dependency=$(sbatch --parsable \(paths[0])) && sbatch --dependency=afterok:$merge_dependency \(paths[1])")
        }
    }
}
