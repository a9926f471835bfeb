import Foundation

/// `--shard I/N`: the items (a sweep's units, an ablation's captures) whose index in their list's order is I−1
/// modulo N (the same partition on every machine); shards 1…N are disjoint and cover the list.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public static let whole = Shard(index: 1, count: 1)

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `I/N` with 1 ≤ I ≤ N.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 1, i <= n else {
            throw ProbeError("--shard '\(text)': expected I/N with 1 ≤ I ≤ N, e.g. 2/4")
        }
        self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// This shard's share of any list: the items whose index is I−1 modulo N.
    public func share<T>(of items: [T]) -> [T] {
        items.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }
}
