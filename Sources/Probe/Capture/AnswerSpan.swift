import Foundation

/// The prompt positions holding the answer's source (`prompt/answer_span`, docs/metrics.md): given
/// by the caller as token positions, or as a text (the needle's value) looked up in the prompt.
public enum AnswerSpan {
    /// Parses `START:END` (token positions, END exclusive, as a Python slice) for a prompt of `promptLength`
    /// tokens; errors say what is wrong.
    public static func parse(_ text: String, promptLength n: Int) throws -> Range<Int> {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let end = Int(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw ProbeError("--answer-span '\(text)': expected START:END token positions (END exclusive)")
        }
        guard 0 <= start, start < end, end <= n else {
            throw ProbeError("--answer-span \(text): needs 0 ≤ START < END ≤ \(n) (the prompt has \(n) tokens)")
        }
        return start..<end
    }

    /// The tokens covering the last occurrence of `needle`'s UTF-8 bytes in the concatenation of the tokens'
    /// `pieces` (each token's raw bytes), or nil when the text does not occur (or is empty).
    public static func covering(_ needle: String, pieces: [[UInt8]]) -> Range<Int>? {
        let target = Array(needle.utf8)
        guard !target.isEmpty else { return nil }
        var bytes: [UInt8] = []
        var tokenEnds: [Int] = []   // byte offset where each token ends
        for piece in pieces {
            bytes += piece
            tokenEnds.append(bytes.count)
        }
        guard bytes.count >= target.count else { return nil }
        var found: Int?
        for start in stride(from: bytes.count - target.count, through: 0, by: -1)
            where bytes[start] == target[0] && bytes[start..<(start + target.count)].elementsEqual(target) {
            found = start
            break
        }
        guard let start = found else { return nil }
        let end = start + target.count
        // The first token ending after `start`, through the first token ending at or after `end`.
        let first = tokenEnds.firstIndex { $0 > start }!
        let last = tokenEnds.firstIndex { $0 >= end }!
        return first..<(last + 1)
    }

    /// `[n]` mask: 1 inside `span`, 0 elsewhere.
    public static func mask(_ span: Range<Int>, promptLength n: Int) -> [UInt8] {
        (0..<n).map { span.contains($0) ? 1 : 0 }
    }
}
