/// One query set the ablation scores prompt keys with: a pseudo variant (content × position) or a reference.
public enum AblationVariant: Hashable, Sendable, CustomStringConvertible {
    case pseudo(PseudoContent, PseudoPosition)
    /// The real last-`w` prompt queries from prefill (SnapKV's observation window).
    case window
    /// LAQ: queries of a short greedy decode on a SnapKV-compressed cache, plus the last prompt queries.
    case lookahead
    /// The true decoding queries themselves (recall 1 by construction: a check).
    case truth

    /// The group name in the ablation file: `<content>_<position>` or the reference's name.
    public var name: String {
        switch self {
        case .pseudo(let c, let p): "\(c.name)_\(p.name)"
        case .window: "window"
        case .lookahead: "lookahead"
        case .truth: "truth"
        }
    }

    public var description: String { name }

    /// `pseudo` or `reference`.
    public var kind: String {
        if case .pseudo = self { return "pseudo" }
        return "reference"
    }

    /// The content name, or "" for a reference.
    public var contentName: String {
        if case .pseudo(let c, _) = self { return c.name }
        return ""
    }

    /// The position name, or "" for a reference.
    public var positionName: String {
        if case .pseudo(_, let p) = self { return p.name }
        return ""
    }

    /// The grid in row order (content outer), then the references.
    public static func grid(contents: [PseudoContent], positions: [PseudoPosition]) -> [AblationVariant] {
        contents.flatMap { c in positions.map { AblationVariant.pseudo(c, $0) } } + [.window, .lookahead, .truth]
    }
}
