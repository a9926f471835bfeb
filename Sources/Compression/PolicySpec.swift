import Analysis
import Probe

/// A policy as `--policies` names it: a policy name, optionally with a cell of settings in brackets that replace
/// the command's for that policy alone — for `dapq` one cell of the ablation grid, `dapq[content=suffix,position=far]`
/// (`--pseudo-content`, `--pseudo-position`); for every policy that chooses by scores the design keys
/// `aggregation=mean|max|layer` (`--aggregation`) and `heads=uniform|adaptive` (`--head-budgets`), as in
/// `lookahead-full[heads=adaptive]`; for `laq` also `first=snapkv|dapq` (`--laq-first-stage`), the policy that
/// compresses the cache its lookahead decodes on; and `pool=K`, the policy's pooling kernel (odd; 1: no pooling) in
/// place of `--pool-kernel` (`--full-lookahead-pool-kernel` for `lookahead-full`). Several cells can so run in one
/// sweep; the files' `policy` column holds the spec as written here (`description`, keys in the order content,
/// position, aggregation, heads, first, pool).
public struct PolicySpec: Sendable, Hashable, CustomStringConvertible {
    public let name: PolicyName
    /// The DapQ cell's content and position; nil: the settings'.
    public let pseudoContent: PseudoContent?
    public let pseudoPosition: PseudoPosition?
    /// The group aggregation and head budgets of this policy; nil: the settings'.
    public let aggregation: GroupAggregation?
    public let headBudgets: HeadBudgets?
    /// `laq`'s first stage; nil: the settings'.
    public let firstStage: LookaheadFirstStage?
    /// The pooling kernel over this policy's scores; nil: the settings'.
    public let poolKernel: Int?

    public init(_ name: PolicyName, pseudoContent: PseudoContent? = nil, pseudoPosition: PseudoPosition? = nil,
                aggregation: GroupAggregation? = nil, headBudgets: HeadBudgets? = nil, firstStage: LookaheadFirstStage? = nil,
                poolKernel: Int? = nil) {
        self.name = name
        self.pseudoContent = pseudoContent
        self.pseudoPosition = pseudoPosition
        self.aggregation = aggregation
        self.headBudgets = headBudgets
        self.firstStage = firstStage
        self.poolKernel = poolKernel
    }

    /// The policies the design keys apply to: those that choose by scores and take the settings.
    public static let designable: Set<PolicyName> = [.h2o, .snapkv, .pyramidkv, .tova, .expected, .laq, .dapq, .lookaheadFull]

    /// Parses `snapkv`, `dapq[content=suffix,position=far]` or `lookahead-full[heads=adaptive,aggregation=max]`
    /// (any key may be left out).
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        let base = t.split(separator: "[", maxSplits: 1).first.map(String.init) ?? t
        guard let name = PolicyName(rawValue: base) else {
            throw ProbeError("unknown policy '\(base)' (known: \(PolicyName.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard t != base else { self.init(name); return }
        guard Self.designable.contains(name), t.hasSuffix("]") else {
            throw ProbeError("policy '\(t)': only policies that choose by scores take a cell, as dapq[content=suffix,position=far] or snapkv[heads=adaptive]")
        }
        var content: PseudoContent?, position: PseudoPosition?, aggregation: GroupAggregation?, heads: HeadBudgets?
        var first: LookaheadFirstStage?, pool: Int?
        func value<T>(_ raw: String, _ key: String, _ known: [String], _ make: (String) -> T?) throws -> T {
            guard let v = make(raw) else {
                throw ProbeError("policy '\(t)': unknown \(key) '\(raw)' (known: \(known.joined(separator: ", ")))")
            }
            return v
        }
        for pair in t.dropFirst(base.count + 1).dropLast().split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            switch (parts.first, parts.count == 2 ? parts[1] : nil) {
            case ("content", let raw?) where content == nil && name == .dapq:
                content = try value(raw, "content", PseudoContent.allCases.map(\.name), PseudoContent.init)
            case ("position", let raw?) where position == nil && name == .dapq:
                position = try value(raw, "position", PseudoPosition.allCases.map(\.name), PseudoPosition.init)
            case ("aggregation", let raw?) where aggregation == nil:
                aggregation = try value(raw, "aggregation", GroupAggregation.allCases.map(\.rawValue), GroupAggregation.init)
            case ("heads", let raw?) where heads == nil:
                heads = try value(raw, "heads", HeadBudgets.allCases.map(\.rawValue), HeadBudgets.init)
            case ("first", let raw?) where first == nil && name == .laq:
                first = try value(raw, "first", LookaheadFirstStage.allCases.map(\.rawValue), LookaheadFirstStage.init)
            case ("pool", let raw?) where pool == nil:
                pool = try value(raw, "pool", ["an odd kernel: 1, 3, 5, 7, …"]) { Int($0).flatMap { CompressionSettings.isPoolKernel($0) ? $0 : nil } }
            default:
                let keys = (name == .dapq ? ["content=…", "position=…"] : []) + ["aggregation=…", "heads=…"]
                    + (name == .laq ? ["first=…"] : []) + ["pool=…"]
                throw ProbeError("policy '\(t)': expected \(keys.joined(separator: ", ")), each at most once, got '\(pair)'")
            }
        }
        guard content != nil || position != nil || aggregation != nil || heads != nil || first != nil || pool != nil else {
            throw ProbeError("policy '\(t)': an empty cell; write \(base)")
        }
        self.init(name, pseudoContent: content, pseudoPosition: position, aggregation: aggregation, headBudgets: heads, firstStage: first,
                  poolKernel: pool)
    }

    /// Parses a comma-separated list (commas inside brackets belong to the cell); `all` is every policy.
    /// Refuses a spec listed twice.
    public static func parseList(_ text: String) throws -> [PolicySpec] {
        if text.trimmingCharacters(in: .whitespaces) == "all" { return PolicyName.allCases.map { PolicySpec($0) } }
        var parts: [String] = [], current = "", depth = 0
        for ch in text {
            if ch == "[" { depth += 1 } else if ch == "]" { depth -= 1 }
            if ch == "," && depth == 0 { parts.append(current); current = "" } else { current.append(ch) }
        }
        parts.append(current)
        let names = parts.map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.contains("") else { throw ProbeError("--policies needs a comma-separated list of policies") }
        let specs = try names.map(PolicySpec.init(parsing:))
        guard Set(specs).count == specs.count else { throw ProbeError("the policy list names a policy twice") }
        return specs
    }

    /// `dapq[content=suffix,position=far]`, `lookahead-full[heads=adaptive]`, or the bare name.
    public var description: String {
        let keys = [pseudoContent.map { "content=\($0.name)" }, pseudoPosition.map { "position=\($0.name)" },
                    aggregation.map { "aggregation=\($0.rawValue)" }, headBudgets.map { "heads=\($0.rawValue)" },
                    firstStage.map { "first=\($0.rawValue)" }, poolKernel.map { "pool=\($0)" }].compactMap { $0 }
        return keys.isEmpty ? name.rawValue : "\(name.rawValue)[\(keys.joined(separator: ","))]"
    }

    /// `base` with this spec's cell applied.
    public func settings(_ base: CompressionSettings) -> CompressionSettings {
        var s = base
        if let pseudoContent { s.pseudoContent = pseudoContent }
        if let pseudoPosition { s.pseudoPosition = pseudoPosition }
        if let aggregation { s.aggregation = aggregation }
        if let headBudgets { s.headBudgets = headBudgets }
        if let firstStage { s.lookaheadFirstStage = firstStage }
        if let poolKernel {
            s.poolKernel = poolKernel
            s.fullLookaheadPoolKernel = poolKernel
        }
        return s
    }

    /// The policy with `base` settings and this spec's cell.
    public func make(_ base: CompressionSettings) -> EvictionPolicy { name.make(settings(base)) }
}
