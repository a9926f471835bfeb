import Analysis
import ArgumentParser
import Compression
import Probe

/// The policy settings shared by `compress`, `niah` and `ruler` (defaults: docs/policies.md).
struct CompressionOptions: ParsableArguments {
    @Option(help: "Observation window w of snapkv, pyramidkv, laq (the last w prompt queries score; the last w entries are kept).")
    var window: Int = 32

    @Option(help: "Pooling kernel over the scores (odd) of every policy that pools but lookahead-full (--full-lookahead-pool-kernel).")
    var poolKernel: Int = 7

    @Option(help: "Pooling type: max or avg (kvpress uses avg).")
    var pooling: Pooling = .max

    @Option(help: "How a KV head's query heads combine: mean, max, or layer (the mean over all the layer's query heads, as TOVA).")
    var aggregation: GroupAggregation = .mean

    @Option(help: "How a layer's budget is shared among its KV heads: uniform (B each) or adaptive (AdaKV-style: a floor each, the rest to the layer's highest scores).")
    var headBudgets: HeadBudgets = .uniform

    @Option(help: "With --head-budgets adaptive: the share of each head's non-recent entries it chooses by its own scores.")
    var adaptiveFloor: Double = 0.2

    @Option(help: "Always-kept recent entries of snapkv, pyramidkv, laq, dapq (default: the window) and lookahead-full (default: 8).")
    var recent: Int?

    @Option(help: "Attention sinks streaming keeps.")
    var sinks: Int = 4

    @Option(help: "PyramidKV: the last layer keeps (B − w)/β non-window entries, the first 2(B − w) minus that.")
    var pyramidBeta: Int = 20

    @Option(help: "Greedy lookahead tokens of laq.")
    var lookaheadSteps: Int = 8

    @Option(help: "LAQ: the policy that compresses the cache its lookahead decodes on: snapkv (LAQ's recipe) or dapq.")
    var laqFirstStage: LookaheadFirstStage = .snapkv

    @Option(help: "Real prompt queries (the last r) joining the lookahead queries of laq and lookahead-full.")
    var lookaheadPromptQueries: Int = 8

    @Option(help: "Greedy tokens lookahead-full decodes on the full cache.")
    var fullLookaheadSteps: Int = 16

    @Option(help: "The most tokens lookahead-full decodes while its answer still copies the prompt.")
    var fullLookaheadMaxSteps: Int = 64

    @Option(help: "lookahead-full's pooling kernel over its scores (odd; 1: no pooling).")
    var fullLookaheadPoolKernel: Int = 1

    @Option(help: "lookahead-full: a generic question put after the prompt (in a user turn) for the lookahead alone, for query-agnostic compression with --question-placement outside.")
    var lookaheadProbe: String?

    @Option(help: "DapQ: pseudo tokens w.")
    var pseudoCount: Int = 32

    @Option(help: "DapQ: pseudo-token content: prefix+suffix, suffix, prefix, random, repeat, oracle (the full-cache answer).")
    var pseudoContent: String = PseudoContent.prefixSuffix.name

    @Option(help: "DapQ: pseudo-token positions: future (n … n+w−1), input (n−w … n−1), far (n+Δ …), fixed (all at n).")
    var pseudoPosition: String = PseudoPosition.future.name

    @Option(help: "DapQ: Δ of the far position.")
    var farOffset: Int = 1024

    @Option(help: "DapQ: a of prefix+suffix (the first a prompt tokens, then the last w − a).")
    var pseudoPrefixCount: Int = 4

    @Option(help: "DapQ: real prompt queries (the last r) joining the pseudo queries.")
    var pseudoPromptQueries: Int = 0

    @Option(help: "Expected Attention: future positions the query statistics are rotated to.")
    var expectedFuture: Int = 512

    @Option(help: "Expected Attention: the first prompt entries always kept (attention sinks), left out of the query statistics.")
    var expectedSinks: Int = 4

    @OptionGroup var seedOptions: SeedOptions

    @Option(help: "inside: the question is compressed with the context (query-aware); outside: the context alone is compressed and the question appended after eviction (query-agnostic).")
    var questionPlacement: String = QuestionPlacement.inside.rawValue

    /// The settings these options describe (checked).
    func settings() throws -> CompressionSettings {
        var s = CompressionSettings()
        s.window = window
        s.poolKernel = poolKernel
        s.pooling = pooling
        s.aggregation = aggregation
        s.headBudgets = headBudgets
        s.adaptiveFloor = adaptiveFloor
        s.recent = recent
        s.sinks = sinks
        s.pyramidBeta = pyramidBeta
        s.lookaheadSteps = lookaheadSteps
        s.lookaheadPromptQueries = lookaheadPromptQueries
        s.lookaheadFirstStage = laqFirstStage
        s.fullLookaheadSteps = fullLookaheadSteps
        s.fullLookaheadMaxSteps = fullLookaheadMaxSteps
        s.fullLookaheadPoolKernel = fullLookaheadPoolKernel
        s.lookaheadProbe = lookaheadProbe
        s.pseudoCount = pseudoCount
        s.pseudoContent = try parsed(pseudoContent, "--pseudo-content", PseudoContent.allCases.map(\.name), PseudoContent.init)
        s.pseudoPosition = try parsed(pseudoPosition, "--pseudo-position", PseudoPosition.allCases.map(\.name), PseudoPosition.init)
        s.pseudoFarOffset = farOffset
        s.questionPlacement = try parsed(questionPlacement, "--question-placement", QuestionPlacement.allCases.map(\.rawValue),
                                         QuestionPlacement.init)
        s.pseudoPromptQueries = pseudoPromptQueries
        s.pseudoPrefixCount = pseudoPrefixCount
        s.expectedFuturePositions = expectedFuture
        s.expectedSinks = expectedSinks
        s.seed = seedOptions.seed
        try s.check()
        return s
    }
}

/// `value` as one of `known`, or a one-line error naming the option.
private func parsed<T>(_ value: String, _ option: String, _ known: [String], _ make: (String) -> T?) throws -> T {
    guard let result = make(value) else { throw ProbeError("\(option) '\(value)': known are \(known.joined(separator: ", "))") }
    return result
}

extension Pooling: ExpressibleByArgument {}
extension GroupAggregation: ExpressibleByArgument {}
extension HeadBudgets: ExpressibleByArgument {}
extension LookaheadFirstStage: ExpressibleByArgument {}
