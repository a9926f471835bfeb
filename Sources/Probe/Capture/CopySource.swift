/// Which prompt position each generated token copies (`decode/copy_source`), found by aligning the generated
/// tokens onto the prompt, longest match first (docs/metrics.md).
///
/// Repeatedly the longest run of consecutive generated tokens, none of them aligned yet, that equals a run of
/// prompt tokens is aligned onto it (generated token `s + i` copies prompt position `p + i`), until no run of at
/// least `minimumRun` tokens is left. Ties go to the earliest generated token, then to the latest prompt
/// position (the copy nearest the answer). Every other step copies nothing: −1. A prompt position may be
/// copied by several runs (an answer that repeats itself).
public enum CopySource {
    /// The shortest run that counts as a copy. Two tokens: a single common token (" the", ".") found somewhere
    /// in a long prompt is a coincidence more often than a copy.
    public static let defaultMinimumRun = 2

    /// A prompt with the positions of each of its tokens, built once for aligning many answers (or one answer
    /// as it grows) onto it.
    public struct Prompt: Sendable {
        public let tokens: [Int]
        let occurrences: [Int: [Int]]

        public init(_ tokens: [Int]) {
            self.tokens = tokens
            var occurrences: [Int: [Int]] = [:]
            for (p, token) in tokens.enumerated() { occurrences[token, default: []].append(p) }
            self.occurrences = occurrences
        }
    }

    /// `[S]`: for each generated token the prompt position it copies, or −1.
    public static func align(generated: [Int], prompt: [Int], minimumRun: Int = defaultMinimumRun) -> [Int] {
        align(generated: generated, onto: Prompt(prompt), minimumRun: minimumRun)
    }

    /// `align(generated:prompt:)` onto an indexed prompt.
    public static func align(generated: [Int], onto indexed: Prompt, minimumRun: Int = defaultMinimumRun) -> [Int] {
        precondition(minimumRun >= 1)
        let prompt = indexed.tokens, occurrences = indexed.occurrences
        let S = generated.count, n = prompt.count
        var source = [Int](repeating: -1, count: S)
        while true {
            var best = (length: 0, step: -1, position: -1)
            for s in 0..<S where source[s] == -1 {
                guard let positions = occurrences[generated[s]] else { continue }
                for p in positions {
                    var length = 0
                    while s + length < S, p + length < n, source[s + length] == -1, generated[s + length] == prompt[p + length] {
                        length += 1
                    }
                    // Steps ascend and positions ascend: strictly longer wins, and at equal length the same step's
                    // later position.
                    if length > best.length || (length == best.length && s == best.step) {
                        best = (length, s, p)
                    }
                }
            }
            guard best.length >= minimumRun else { break }
            for i in 0..<best.length { source[best.step + i] = best.position + i }
        }
        return source
    }
}
