import Probe

/// `snapkv`: the last `w` prompt queries (the observation window) score the older keys; scores pooled over
/// neighbours; the window itself always kept.
public struct SnapKVPolicy: EvictionPolicy {
    public let name = "snapkv"
    public let settings: CompressionSettings
    public init(settings: CompressionSettings) { self.settings = settings }

    public var needs: PromptEvidence.Needs { PromptEvidence.Needs(promptQueries: settings.window) }

    public func check(promptLength n: Int) throws {
        try WindowCheck.check(name, window: settings.window, promptLength: n)
    }

    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? {
        evidence.scores(of: evidence.lastPromptQueries(settings.window), aggregation: settings.aggregation)
            .pooled(kernel: settings.poolKernel, pooling: settings.pooling, protectedTail: settings.window)
    }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        keepTop(scores, budget: budget, recent: settings.recentKept, adaptiveFloor: settings.headFloor, evidence: evidence)
    }
}

/// The refusal shared by the policies that read a window of the prompt.
enum WindowCheck {
    static func check(_ policy: String, window: Int, promptLength n: Int, option: String = "--window") throws {
        guard window <= n else {
            throw ProbeError("policy \(policy) needs a window of \(window) prompt tokens but the prompt has \(n); use a smaller \(option)")
        }
    }
}
