import Analysis
import Probe

/// How scores are smoothed over neighbouring prompt positions before the top entries are chosen.
public enum Pooling: String, CaseIterable, Sendable {
    /// Max over the kernel (SnapKV's published choice, our default).
    case max
    /// Mean over the kernel, zero padding counted (kvpress's choice).
    case avg
}

/// How the query heads that share one KV head are combined into that KV head's score.
public enum GroupAggregation: String, CaseIterable, Sendable {
    /// Mean of the group's query heads (kvpress; the importance of docs/metrics.md).
    case mean
    /// The largest of the group's query heads.
    case max
    /// Mean of all the layer's query heads, the same for every KV head of the layer (as TOVA ranks).
    case layer
}

/// How a layer's budget is shared among its KV heads (docs/policies.md).
public enum HeadBudgets: String, CaseIterable, Sendable {
    /// Every KV head keeps the same B entries.
    case uniform
    /// AdaKV-style: every KV head keeps its recent entries and a floor share of its other entries by its own
    /// scores; the rest of the layer's G·B entries go to the highest scores over all its heads, so a head whose
    /// scores are concentrated on few keys gives entries to one whose scores are spread.
    case adaptive
}

/// Which policy compresses the cache that `laq`'s lookahead decodes on.
public enum LookaheadFirstStage: String, CaseIterable, Sendable {
    /// SnapKV (the LAQ recipe).
    case snapkv
    /// DapQ with the settings' pseudo content and positions.
    case dapq
}

/// Where the question sits when the cache is compressed (docs/metrics.md).
public enum QuestionPlacement: String, CaseIterable, Sendable {
    /// Query-aware: the question is part of the prompt the policies score and evict.
    case inside
    /// Query-agnostic: the context alone is scored and evicted; the question is prefilled on the compressed
    /// cache afterwards, at the positions after the context (kvpress's pipeline, real multi-turn use).
    case outside

    /// The tokens compression sees and those appended after eviction: all of `prompt` and none (`inside`), or the
    /// tokens before `questionStart` and the rest (`outside`; an error when there is no such cut).
    public func split(_ prompt: [Int], questionStart: Int?) throws -> (context: [Int], question: [Int]) {
        switch self {
        case .inside: return (prompt, [])
        case .outside:
            guard let cut = questionStart, cut > 0, cut < prompt.count else {
                throw ProbeError("the question cannot be placed outside: no token boundary found before it")
            }
            return (Array(prompt[..<cut]), Array(prompt[cut...]))
        }
    }
}

/// Every knob of the policies (docs/policies.md); the defaults are the documented ones.
public struct CompressionSettings: Sendable {
    /// SnapKV's observation window `w`: the last `w` prompt queries score the keys, and the last `w` prompt
    /// entries are always kept (`snapkv`, `pyramidkv`, `laq`, `dapq`).
    public var window = 32
    /// Pooling kernel (odd) and type over the scores of the window-scored policies.
    public var poolKernel = 7
    public var pooling = Pooling.max
    public var aggregation = GroupAggregation.mean
    /// How a layer's budget is shared among its KV heads, and with `adaptive` the share of each head's
    /// non-recent entries it chooses by its own scores before the layer's pool is shared.
    public var headBudgets = HeadBudgets.uniform
    public var adaptiveFloor = 0.2
    /// Always-kept most recent prompt entries of the window-scored policies; nil: the window `w`.
    public var recent: Int?
    /// Recent entries `h2o` keeps beside its heavy hitters, as a fraction of the budget (H2O's half).
    public var h2oRecentFraction = 0.5
    /// Attention sinks `streaming` keeps at the start.
    public var sinks = 4
    /// PyramidKV: the last layer keeps (B − w)/β non-window entries, the first 2(B − w) − that.
    public var pyramidBeta = 20
    /// LAQ: greedy tokens decoded on the SnapKV-compressed cache, and the last prompt queries added.
    public var lookaheadSteps = 8
    public var lookaheadPromptQueries = 8
    /// LAQ: the policy that compresses the cache its lookahead decodes on.
    public var lookaheadFirstStage = LookaheadFirstStage.snapkv
    /// `lookahead-full`: greedy tokens decoded on the full cache (its prompt queries are `lookaheadPromptQueries`).
    public var fullLookaheadSteps = 16
    /// `lookahead-full`: the most tokens it decodes while the answer is still copying the prompt.
    public var fullLookaheadMaxSteps = 64
    /// `lookahead-full`: the pooling kernel over its scores (odd; 1, no pooling). Its own default, not
    /// `poolKernel`'s 7: a kernel of 7 spends a small budget on the neighbours of a few peaks (docs/policies.md).
    public var fullLookaheadPoolKernel = 1
    /// `lookahead-full`: a generic question (text) put after the prompt for the lookahead alone, in the chat
    /// template's user turn, then answered greedily; its entries and the answer's are dropped before eviction. For
    /// query-agnostic compression (the question outside), where the prompt ends with the context. nil: none.
    public var lookaheadProbe: String?
    /// DapQ: pseudo tokens, their content, where they sit (the ablation's positions: `future` is n … n+w−1,
    /// `far` starts Δ = `pseudoFarOffset` later), `a` of `prefix+suffix`, and how many of the last real prompt
    /// queries join them (r). `oracle` content is the full-cache answer continued greedily to w tokens.
    public var pseudoCount = 32
    public var pseudoContent = PseudoContent.prefixSuffix
    public var pseudoPosition = PseudoPosition.future
    public var pseudoFarOffset = 1024
    public var pseudoPrefixCount = 4
    public var pseudoPromptQueries = 0
    /// Expected Attention: future positions the query statistics are rotated to, sinks always kept, whether
    /// the covariance term and the value norms enter, and kvpress's ε.
    public var expectedFuturePositions = 512
    public var expectedSinks = 4
    public var expectedCovariance = true
    public var expectedValueNorm = true
    public var expectedEpsilon = 0.0
    /// Seed of `random` and of DapQ's `random` content.
    public var seed: UInt64 = 0
    /// Whether the question is compressed with the context (`inside`) or appended after eviction (`outside`).
    public var questionPlacement = QuestionPlacement.inside

    public init() {}

    /// Every setting by name (what sweep files record in their grid, and what must match to merge them).
    public var record: [String: String] {
        ["window": "\(window)", "pool_kernel": "\(poolKernel)", "pooling": pooling.rawValue, "aggregation": aggregation.rawValue,
         "head_budgets": headBudgets.rawValue, "adaptive_floor": "\(adaptiveFloor)",
         "recent": "\(recentKept)", "h2o_recent_fraction": "\(h2oRecentFraction)", "sinks": "\(sinks)",
         "pyramid_beta": "\(pyramidBeta)", "lookahead_steps": "\(lookaheadSteps)",
         "lookahead_prompt_queries": "\(lookaheadPromptQueries)", "lookahead_first_stage": lookaheadFirstStage.rawValue, "full_lookahead_steps": "\(fullLookaheadSteps)", "full_lookahead_max_steps": "\(fullLookaheadMaxSteps)",
         "full_lookahead_pool_kernel": "\(fullLookaheadPoolKernel)",
         "lookahead_probe": lookaheadProbe ?? "",
         "pseudo_count": "\(pseudoCount)",
         "pseudo_content": pseudoContent.name, "pseudo_position": pseudoPosition.name,
         "pseudo_far_offset": "\(pseudoFarOffset)", "pseudo_prefix_count": "\(pseudoPrefixCount)",
         "pseudo_prompt_queries": "\(pseudoPromptQueries)", "expected_future_positions": "\(expectedFuturePositions)",
         "expected_sinks": "\(expectedSinks)", "expected_covariance": "\(expectedCovariance)",
         "expected_value_norm": "\(expectedValueNorm)", "expected_epsilon": "\(expectedEpsilon)", "seed": "\(seed)",
         "question_placement": questionPlacement.rawValue]
    }

    /// Whether `kernel` can pool scores: odd and at least 1 (1 leaves them as they are).
    public static func isPoolKernel(_ kernel: Int) -> Bool { kernel >= 1 && kernel % 2 == 1 }

    /// The always-kept recent entries of the window-scored policies.
    public var recentKept: Int { recent ?? window }

    /// The floor `KeySelection.keep` takes: nil for uniform head budgets.
    public var headFloor: Double? { headBudgets == .adaptive ? adaptiveFloor : nil }

    /// Refuses settings that cannot work for any prompt.
    public func check() throws {
        guard window >= 1 else { throw ProbeError("--window must be at least 1") }
        guard Self.isPoolKernel(poolKernel) else { throw ProbeError("--pool-kernel must be odd, got \(poolKernel)") }
        guard Self.isPoolKernel(fullLookaheadPoolKernel) else {
            throw ProbeError("--full-lookahead-pool-kernel must be odd, got \(fullLookaheadPoolKernel)")
        }
        guard adaptiveFloor >= 0, adaptiveFloor <= 1 else { throw ProbeError("--adaptive-floor must be in [0, 1], got \(adaptiveFloor)") }
        if let recent, recent < 0 { throw ProbeError("--recent must not be negative") }
        guard h2oRecentFraction >= 0, h2oRecentFraction <= 1 else { throw ProbeError("the h2o recent fraction must be in [0, 1]") }
        guard sinks >= 0 else { throw ProbeError("--sinks must not be negative") }
        guard pyramidBeta >= 1 else { throw ProbeError("--pyramid-beta must be at least 1") }
        guard lookaheadSteps >= 1, lookaheadPromptQueries >= 0 else { throw ProbeError("--lookahead-steps must be at least 1") }
        guard fullLookaheadSteps >= 1 else { throw ProbeError("--full-lookahead-steps must be at least 1") }
        guard fullLookaheadMaxSteps >= fullLookaheadSteps else {
            throw ProbeError("--full-lookahead-max-steps must be at least --full-lookahead-steps (\(fullLookaheadSteps))")
        }
        if let probe = lookaheadProbe, probe.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ProbeError("--lookahead-probe must not be empty")
        }
        guard pseudoCount >= 1 else { throw ProbeError("--pseudo-count must be at least 1") }
        guard pseudoPrefixCount >= 0, pseudoPrefixCount < pseudoCount else {
            throw ProbeError("--pseudo-prefix-count must be below --pseudo-count (\(pseudoCount))")
        }
        guard pseudoFarOffset >= 0 else { throw ProbeError("--far-offset must not be negative") }
        guard pseudoPromptQueries >= 0 else { throw ProbeError("--pseudo-prompt-queries must not be negative") }
        guard expectedFuturePositions >= 1 else { throw ProbeError("--expected-future must be at least 1") }
        guard expectedSinks >= 0 else { throw ProbeError("--expected-sinks must be at least 0") }
    }
}
