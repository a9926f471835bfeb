import Analysis
import ArgumentParser
import Compression
import Probe

/// The policy settings shared by `compress`, `niah` and `ruler` (defaults: DESIGN.md, "Compression policies").
struct CompressionOptions: ParsableArguments {
    @Option(help: "Observation window w of snapkv, pyramidkv, laq (the last w prompt queries score; the last w entries are kept).")
    var window: Int = 32

    @Option(help: "Pooling kernel over the scores (odd).")
    var poolKernel: Int = 7

    @Option(help: "Pooling type: max or avg (kvpress uses avg).")
    var pooling: Pooling = .max

    @Option(help: "How a KV head's query heads combine: mean or max.")
    var aggregation: GroupAggregation = .mean

    @Option(help: "Always-kept recent entries of snapkv, pyramidkv, laq, dapq (default: the window).")
    var recent: Int?

    @Option(help: "Attention sinks streaming keeps.")
    var sinks: Int = 4

    @Option(help: "Greedy lookahead tokens of laq.")
    var lookaheadSteps: Int = 8

    @Option(help: "Greedy tokens lookahead-full decodes on the full cache.")
    var fullLookaheadSteps: Int = 16

    @Option(help: "DapQ: pseudo tokens at positions n … n+w−1.")
    var pseudoCount: Int = 32

    @Option(help: "DapQ: pseudo-token content: prefix+suffix, suffix, prefix, random, repeat.")
    var pseudoContent: String = PseudoContent.prefixSuffix.name

    @Option(help: "DapQ: real prompt queries (the last r) joining the pseudo queries.")
    var pseudoPromptQueries: Int = 0

    @Option(help: "Expected Attention: future positions the query statistics are rotated to.")
    var expectedFuture: Int = 512

    @Option(help: "Seed of random and of DapQ's random content.")
    var seed: UInt64 = 0

    /// The settings these options describe (checked).
    func settings() throws -> CompressionSettings {
        var s = CompressionSettings()
        s.window = window
        s.poolKernel = poolKernel
        s.pooling = pooling
        s.aggregation = aggregation
        s.recent = recent
        s.sinks = sinks
        s.lookaheadSteps = lookaheadSteps
        s.fullLookaheadSteps = fullLookaheadSteps
        s.pseudoCount = pseudoCount
        guard let content = PseudoContent(rawValue: pseudoContent), content != .oracle else {
            throw ProbeError("--pseudo-content '\(pseudoContent)': known are prefix+suffix, suffix, prefix, random, repeat")
        }
        s.pseudoContent = content
        s.pseudoPromptQueries = pseudoPromptQueries
        s.expectedFuturePositions = expectedFuture
        s.seed = seed
        try s.check()
        return s
    }
}

extension Pooling: ExpressibleByArgument {}
extension GroupAggregation: ExpressibleByArgument {}

/// Parses `--budget 32,64,3%`.
func parseBudgets(_ text: String) throws -> [Budget] {
    let budgets = try text.split(separator: ",", omittingEmptySubsequences: false).map { try Budget(parsing: String($0)) }
    guard Set(budgets.map(\.description)).count == budgets.count else { throw ProbeError("--budget lists a budget twice") }
    return budgets
}
