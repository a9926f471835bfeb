import ArgumentParser
import Foundation
import Probe

struct BenchForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-forward",
        abstract: "Times prefill and decoding of the forward pass (used by `make bench`).")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "A file of whitespace-separated token ids (repeated to the prompt length).")
    var ids: String

    @Option(help: "Prompt length in tokens.")
    var promptTokens: Int = 512

    @Option(help: "Decoding steps after the prompt.")
    var decodeTokens: Int = 64

    @Option(help: "Runs; the median is reported.")
    var repeats: Int = 3

    func run() throws {
        let model = try modelOptions.load()
        guard let text = try? String(contentsOfFile: ids, encoding: .utf8) else { throw ProbeError("\(ids): cannot read the token id file") }
        let tokenIDs = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        let r = try ForwardBenchmark(model: model).run(ids: tokenIDs, promptTokens: promptTokens, decodeTokens: decodeTokens, repeats: repeats)
        print(try JSONOutput.line([
            "impl": "dapq-probe", "threads": modelOptions.threads, "simd_tier": SIMDTier.active.rawValue, "blas_core": ComputeThreads.blasCore, "kv_type": model.cacheType.rawValue,
            "prompt_tokens": r.promptTokens,
            "decode_tokens": r.decodeTokens, "prefill_tokens_per_s": r.prefillTokensPerSecond,
            "decode_tokens_per_s": r.decodeTokensPerSecond, "prefill_seconds": r.prefillSeconds,
            "decode_seconds": r.decodeSeconds, "peak_rss_bytes": r.peakResidentBytes,
        ] as [String: Any]))
    }
}
