import Foundation
import Probe

/// A way of choosing which prompt entries each (layer, KV head) keeps (docs/policies.md).
/// `scores` holds the work that does not depend on the budget (done once per prompt), `keep` the choice for
/// one budget.
public protocol EvictionPolicy {
    /// The name the command line and the files use.
    var name: String { get }
    /// What the prefill and the full-cache answer must record for `scores` (nothing by default).
    var needs: PromptEvidence.Needs { get }
    /// Refuses a prompt of `promptLength` tokens the policy cannot work on (e.g. shorter than its window).
    func check(promptLength: Int) throws
    /// The prompt keys' scores; nil for policies that choose by position alone.
    func scores(_ evidence: PromptEvidence) throws -> KeyScores?
    /// The kept entries for `budget` entries per (layer, KV head) (`budget < n`).
    func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries
}

extension EvictionPolicy {
    public var needs: PromptEvidence.Needs { PromptEvidence.Needs() }
    public func check(promptLength: Int) throws {}

    /// The same `budget` in every layer, `recent` entries always kept, the rest by `scores`; with an
    /// `adaptiveFloor` the budget is shared among each layer's KV heads (`HeadBudgets.adaptive`).
    func keepTop(_ scores: KeyScores?, budget: Int, recent: Int, adaptiveFloor: Double? = nil, evidence: PromptEvidence) -> KeptEntries {
        guard let scores else { preconditionFailure("\(name) keeps by scores but computed none") }
        return KeySelection.keep(scores, budgets: KeySelection.uniform(budget, layers: scores.nLayers), recent: recent,
                                 adaptiveFloor: adaptiveFloor)
    }
}

/// The policies by name (`PolicySpec` parses lists of them, DapQ cells included).
public enum PolicyName: String, CaseIterable, Sendable {
    case full, random, streaming, h2o, snapkv, pyramidkv, tova, expected, laq, dapq, oracle
    case lookaheadFull = "lookahead-full"

    /// The policy with `settings`.
    public func make(_ settings: CompressionSettings) -> EvictionPolicy {
        switch self {
        case .full: return FullPolicy()
        case .random: return RandomPolicy(seed: settings.seed)
        case .streaming: return StreamingPolicy(sinks: settings.sinks)
        case .h2o: return H2OPolicy(settings: settings)
        case .snapkv: return SnapKVPolicy(settings: settings)
        case .pyramidkv: return PyramidKVPolicy(settings: settings)
        case .tova: return TOVAPolicy(settings: settings)
        case .expected: return ExpectedAttentionPolicy(settings: settings)
        case .laq: return LookaheadPolicy(settings: settings)
        case .dapq: return DapQPolicy(settings: settings)
        case .oracle: return OraclePolicy()
        case .lookaheadFull: return FullLookaheadPolicy(settings: settings)
        }
    }
}
