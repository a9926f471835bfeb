/// Where the pseudo tokens sit (docs/metrics.md): the *position* axis of the ablation. Positions
/// are absolute; the prompt holds `0..<n`.
public enum PseudoPosition: String, CaseIterable, Sendable, Hashable {
    /// `n … n+w−1`: the real decoding positions.
    case future
    /// `n−w … n−1`: where an input-side observation window sits.
    case input
    /// `n+Δ … n+Δ+w−1`, Δ the far offset (default 1024).
    case far
    /// Every pseudo token at `n`.
    case fixed

    public var name: String { rawValue }

    /// Parses a comma-separated list of names; `all` means every position.
    public static func parseList(_ text: String) throws -> [PseudoPosition] {
        try parseNames(text, all: allCases, what: "position")
    }

    /// The `w` absolute positions for a prompt of `n` tokens (`w ≤ n`); `farOffset` is Δ.
    public func positions(promptLength n: Int, count w: Int, farOffset: Int = 1024) -> [Int] {
        precondition(w >= 1 && w <= n, "\(w) pseudo tokens for a prompt of \(n) tokens")
        switch self {
        case .future: return Array(n..<(n + w))
        case .input: return Array((n - w)..<n)
        case .far: return Array((n + farOffset)..<(n + farOffset + w))
        case .fixed: return Array(repeating: n, count: w)
        }
    }
}
