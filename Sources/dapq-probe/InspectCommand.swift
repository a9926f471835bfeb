import Analysis
import ArgumentParser
import Probe

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Attributes, datasets, shapes and dimension names of an HDF5 file (e.g. a capture); the retrieval heads of a capture or ablation.")

    @Argument(help: "The HDF5 file.")
    var file: String

    func run() throws {
        let summary = try HDF5Inspection(path: file)
        print(file)
        print(summary.text)
        // Captures and ablations: the heads whose strongest attention lies on the copied token.
        if let heads = try RetrievalHeads.read(path: file) { print(heads.description) }
    }
}
