import Analysis
import Probe

/// A policy as `--policies` names it: a policy name, and for `dapq` optionally one cell of the ablation grid,
/// `dapq[content=suffix,position=far]`, whose content and position replace the settings' `--pseudo-content` and
/// `--pseudo-position` for that policy alone. Several cells can so run in one sweep; the files' `policy` column
/// holds the spec as written here (`description`, keys in the order content, position).
public struct PolicySpec: Sendable, Hashable, CustomStringConvertible {
    public let name: PolicyName
    /// The DapQ cell's content and position; nil: the settings'.
    public let pseudoContent: PseudoContent?
    public let pseudoPosition: PseudoPosition?

    public init(_ name: PolicyName, pseudoContent: PseudoContent? = nil, pseudoPosition: PseudoPosition? = nil) {
        self.name = name
        self.pseudoContent = pseudoContent
        self.pseudoPosition = pseudoPosition
    }

    /// Parses `snapkv` or `dapq[content=suffix,position=far]` (either key may be left out).
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        let base = t.split(separator: "[", maxSplits: 1).first.map(String.init) ?? t
        guard let name = PolicyName(rawValue: base) else {
            throw ProbeError("unknown policy '\(base)' (known: \(PolicyName.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard t != base else { self.init(name); return }
        guard name == .dapq, t.hasSuffix("]") else {
            throw ProbeError("policy '\(t)': only dapq takes a cell, as dapq[content=suffix,position=far]")
        }
        var content: PseudoContent?, position: PseudoPosition?
        for pair in t.dropFirst(base.count + 1).dropLast().split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            switch (parts.first, parts.count == 2 ? parts[1] : nil) {
            case ("content", let value?) where content == nil:
                guard let c = PseudoContent(rawValue: value) else {
                    throw ProbeError("policy '\(t)': unknown content '\(value)' (known: \(PseudoContent.allCases.map(\.name).joined(separator: ", ")))")
                }
                content = c
            case ("position", let value?) where position == nil:
                guard let p = PseudoPosition(rawValue: value) else {
                    throw ProbeError("policy '\(t)': unknown position '\(value)' (known: \(PseudoPosition.allCases.map(\.name).joined(separator: ", ")))")
                }
                position = p
            default:
                throw ProbeError("policy '\(t)': expected content=… and position=…, each at most once, got '\(pair)'")
            }
        }
        guard content != nil || position != nil else { throw ProbeError("policy '\(t)': an empty cell; write dapq") }
        self.init(name, pseudoContent: content, pseudoPosition: position)
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

    /// `dapq[content=suffix,position=far]`, or the bare name.
    public var description: String {
        let keys = [pseudoContent.map { "content=\($0.name)" }, pseudoPosition.map { "position=\($0.name)" }].compactMap { $0 }
        return keys.isEmpty ? name.rawValue : "\(name.rawValue)[\(keys.joined(separator: ","))]"
    }

    /// `base` with this spec's cell applied.
    public func settings(_ base: CompressionSettings) -> CompressionSettings {
        var s = base
        if let pseudoContent { s.pseudoContent = pseudoContent }
        if let pseudoPosition { s.pseudoPosition = pseudoPosition }
        return s
    }

    /// The policy with `base` settings and this spec's cell.
    public func make(_ base: CompressionSettings) -> EvictionPolicy { name.make(settings(base)) }
}
