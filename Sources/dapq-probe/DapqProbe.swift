import ArgumentParser
import Probe

/// The command line: parses options and delegates to the libraries.
@main
struct DapqProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dapq-probe",
        abstract: "Does the position of a pseudo query matter more than its content? Measurements on real GGUF models.",
        version: ToolVersion.string,
        subcommands: [GenerateCommand.self, TokenizeCommand.self, InfoCommand.self, BenchForwardCommand.self, BenchKernelsCommand.self,
                      CaptureCommand.self, InspectCommand.self, AblateCommand.self, ModelsCommand.self, CompressCommand.self,
                      NiahCommand.self, RulerCommand.self, MergeCommand.self, SlurmCommand.self])
}
