import Foundation
import ProbeFuzzing

// libFuzzer on the GGUF reader (GGUFFuzzTarget); built only by `make fuzz` (DAPQ_PROBE_FUZZ=1, coverage instrumentation, libFuzzer without its main).

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: LibFuzzerDriver.Callback) -> CInt

LibFuzzerDriver.prepare(seeds: FuzzSeeds.all())
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    GGUFFuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
