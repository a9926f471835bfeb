import Foundation
import ProbeFuzzing

// libFuzzer on the tokenizer (TokenizerFuzzTarget); built only by `make fuzz` (DAPQ_PROBE_FUZZ=1, coverage instrumentation, libFuzzer without its main).

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: LibFuzzerDriver.Callback) -> CInt

LibFuzzerDriver.prepare(seeds: TokenizerFuzzTarget.seeds().enumerated().map { (name: "text-\($0.offset)", bytes: $0.element) })
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    TokenizerFuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
