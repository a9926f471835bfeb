import Foundation

/// What the libFuzzer executables (`make fuzz`) do before they hand their command line to libFuzzer's
/// `LLVMFuzzerRunDriver`: write the seeds into the folder that `DAPQ_PROBE_FUZZ_SEEDS` names, when set.
public enum LibFuzzerDriver {
    /// libFuzzer's callback: one input, its size; returns 0.
    public typealias Callback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    public static func prepare(seeds: [(name: String, bytes: [UInt8])]) {
        guard let folder = ProcessInfo.processInfo.environment["DAPQ_PROBE_FUZZ_SEEDS"] else { return }
        do { try FuzzSeeds.write(seeds, to: folder) } catch { fatalError("cannot write the seeds to \(folder): \(error)") }
    }
}
