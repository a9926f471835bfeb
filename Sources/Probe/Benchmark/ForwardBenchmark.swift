import Foundation

/// Times the forward pass the way the peers are timed: a prefill of `promptTokens` ids in one batch, then
/// `decodeTokens` greedy decoding steps on that cache. Each figure is the median of `repeats` runs.
public struct ForwardBenchmark {
    public struct Result: Sendable {
        public var promptTokens: Int
        public var decodeTokens: Int
        public var prefillSeconds: [Double]
        public var decodeSeconds: [Double]
        public var peakResidentBytes: Int

        public var prefillTokensPerSecond: Double { Double(promptTokens) / Self.median(prefillSeconds) }
        public var decodeTokensPerSecond: Double { Double(decodeTokens) / Self.median(decodeSeconds) }

        static func median(_ v: [Double]) -> Double {
            let s = v.sorted()
            return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
        }
    }

    public let model: LanguageModel

    public init(model: LanguageModel) { self.model = model }

    /// Runs the benchmark on `ids` (cut or repeated to `promptTokens`).
    public func run(ids: [Int], promptTokens: Int, decodeTokens: Int, repeats: Int) throws -> Result {
        guard !ids.isEmpty else { throw ProbeError("the benchmark needs at least one prompt token") }
        let prompt = (0..<promptTokens).map { ids[$0 % ids.count] }
        try GreedyDecoder(model: model).checkFits(promptLength: promptTokens, newTokens: decodeTokens)
        var prefill: [Double] = [], decode: [Double] = []
        for _ in 0..<repeats {
            let cache = model.makeCache(capacity: promptTokens + decodeTokens)
            let t0 = DispatchTime.now().uptimeNanoseconds
            var logits = model.forward(tokens: prompt, positions: Array(0..<promptTokens), cache: cache)
            let t1 = DispatchTime.now().uptimeNanoseconds
            for step in 0..<decodeTokens {
                let next = GreedyDecoder.argmax(logits)
                logits = model.forward(tokens: [next], positions: [promptTokens + step], cache: cache)
            }
            let t2 = DispatchTime.now().uptimeNanoseconds
            prefill.append(Double(t1 - t0) / 1e9)
            decode.append(Double(t2 - t1) / 1e9)
        }
        return Result(promptTokens: promptTokens, decodeTokens: decodeTokens, prefillSeconds: prefill,
                      decodeSeconds: decode, peakResidentBytes: ResourceUsage.peakResidentBytes)
    }
}

/// The process's resource figures.
public enum ResourceUsage {
    /// Peak resident set size (VmHWM), in bytes.
    public static var peakResidentBytes: Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            // "VmHWM:\t  123456 kB"; from 10⁷ kB on no space follows the tab.
            let kb = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}
