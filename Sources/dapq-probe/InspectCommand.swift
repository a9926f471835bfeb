import Analysis
import ArgumentParser
import Probe

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Attributes, datasets, shapes and dimension names of an HDF5 file (e.g. a capture); the retrieval heads of a capture or ablation.")

    @Argument(help: "The HDF5 file.")
    var file: String

    @Flag(help: "JSON lines instead of the text: the file and its attributes, one object per dataset, the retrieval heads (fields: docs/output.md).")
    var json = false

    func run() throws {
        let summary = try HDF5Inspection(path: file)
        // Captures and ablations: the heads whose strongest attention lies on the copied token.
        let heads = try RetrievalHeads.read(path: file)
        if json {
            for object in summary.jsonObjects(path: file) + (heads.map { [$0.jsonObject] } ?? []) { print(try JSONOutput.line(object)) }
            return
        }
        print(file)
        print(summary.text)
        if let heads { print(heads.description) }
    }
}
