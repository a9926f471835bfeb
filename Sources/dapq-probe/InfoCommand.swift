import ArgumentParser
import Probe

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Metadata, tensor table and sizes of a GGUF model.")

    @Option(help: "Catalogue name or path to a GGUF file.")
    var model: String?

    func run() throws {
        try SIMDTier.applyEnvironment()
        print(try ModelReport(path: try ModelCatalogue.resolve(model)).text)
        print("SIMD tier: \(SIMDTier.active.rawValue) (supported: \(SIMDTier.supported.map(\.rawValue).joined(separator: ", ")); \(SIMDTier.environmentVariable) forces one)")
        print("BLAS kernels: \(ComputeThreads.blasCore) (OpenBLAS's core type; DAPQ_PROBE_BLAS_CORE=openblas keeps OpenBLAS's own choice)")
    }
}
