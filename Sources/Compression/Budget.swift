import Analysis
import Foundation
import Probe

/// How many cache entries each (layer, KV head) keeps: an absolute count or a fraction of the prompt.
public enum Budget: Sendable, Equatable, CustomStringConvertible {
    case entries(Int)
    case fraction(Double)

    /// Parses `64` or `3%`; rejects zero, negatives and fractions over 100%.
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("%") {
            guard let p = Double(t.dropLast()), p > 0, p <= 100 else {
                throw ProbeError("budget '\(text)': a fraction must be above 0% and at most 100%")
            }
            self = .fraction(p / 100)
        } else {
            guard let n = Int(t), n > 0 else { throw ProbeError("budget '\(text)': must be a positive number of entries or a percentage") }
            self = .entries(n)
        }
    }

    /// kvpress's `compression_ratio` R: the fraction of the prompt's entries removed, so the cache keeps the
    /// fraction 1 − R (rounded as every fraction, `PromptFraction`). R must lie in [0, 1).
    public init(compressionRatio ratio: Double) throws {
        guard ratio.isFinite, ratio >= 0, ratio < 1 else {
            throw ProbeError("--compression-ratio \(ratio): the fraction of entries removed must be at least 0 and below 1")
        }
        self = .fraction(1 - ratio)
    }

    /// Entries kept for a prompt of `promptLength` tokens (at least 1, at most the prompt).
    public func entries(promptLength: Int) -> Int {
        switch self {
        case .entries(let n): return min(n, promptLength)
        case .fraction(let f): return PromptFraction.entries(f, of: promptLength)
        }
    }

    public var description: String {
        switch self {
        case .entries(let n): return "\(n)"
        case .fraction(let f): return String(format: "%g%%", f * 100)
        }
    }
}
