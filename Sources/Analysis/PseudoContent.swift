import Probe

/// What the pseudo tokens say (docs/metrics.md): the *content* axis of the ablation.
public enum PseudoContent: String, CaseIterable, Sendable, Hashable {
    /// The true generated tokens; where the answer is shorter than the window, continued greedily past its
    /// end (the end-of-generation token included, as an ordinary token).
    case oracle
    /// A copy of the last `w` prompt tokens.
    case suffix
    /// A copy of the first `w` prompt tokens.
    case prefix
    /// The first `a` prompt tokens, then the last `w − a` (the construction the paper describes).
    case prefixSuffix = "prefix+suffix"
    /// Seeded uniform vocabulary ids (special tokens excluded).
    case random
    /// One token repeated `w` times (by default the last prompt token).
    case `repeat`

    /// The name used in option lists and file group names (`prefix+suffix`).
    public var name: String { rawValue }

    /// Parses a comma-separated list of names (`suffix,prefix+suffix`); `all` means every content.
    public static func parseList(_ text: String) throws -> [PseudoContent] {
        try parseNames(text, all: allCases, what: "content")
    }
}

/// Builds each content's `w` token ids for one prompt.
public struct PseudoContentBuilder: Sendable {
    /// Pseudo tokens per variant, `w`.
    public var count: Int
    /// Prompt tokens copied from the beginning by `prefix+suffix`, `a` (must be below `w`).
    public var prefixCount: Int
    /// Seed of `random`.
    public var seed: UInt64
    /// Ids `random` draws from: `0..<vocabularySize` minus `excluded`.
    public var vocabularySize: Int
    public var excluded: Set<Int>
    /// The token `repeat` repeats; nil: the last prompt token.
    public var repeatToken: Int?

    public init(count: Int, prefixCount: Int = 4, seed: UInt64 = 0, vocabularySize: Int, excluded: Set<Int> = [],
                repeatToken: Int? = nil) {
        self.count = count
        self.prefixCount = prefixCount
        self.seed = seed
        self.vocabularySize = vocabularySize
        self.excluded = excluded
        self.repeatToken = repeatToken
    }

    /// A builder for `model`: special tokens are excluded from `random`.
    public init(model: LanguageModel, count: Int, prefixCount: Int = 4, seed: UInt64 = 0, repeatToken: Int? = nil) {
        let vocabulary = model.config.vocabularySize
        let tokenizer = model.tokenizer
        let excluded = Set((0..<min(vocabulary, tokenizer.vocabularySize)).filter { tokenizer.isSpecial($0) })
        self.init(count: count, prefixCount: prefixCount, seed: seed, vocabularySize: vocabulary, excluded: excluded,
                  repeatToken: repeatToken)
    }

    /// Refuses settings no prompt of `promptLength` tokens can satisfy.
    public func check(promptLength n: Int) throws {
        guard count >= 1 else { throw ProbeError("--pseudo-count must be at least 1 pseudo token") }
        guard count <= n else {
            throw ProbeError("\(count) pseudo tokens are longer than the prompt (\(n) tokens); use a smaller --pseudo-count")
        }
        guard prefixCount >= 0, prefixCount < count else {
            throw ProbeError("prefix+suffix takes \(prefixCount) prefix tokens; it must be at least 0 and below --pseudo-count (\(count))")
        }
        if let repeatToken, repeatToken < 0 || repeatToken >= vocabularySize {
            throw ProbeError("the repeat token \(repeatToken) is outside the vocabulary (0..<\(vocabularySize))")
        }
    }

    /// The `w` tokens of `content` for `prompt`. `oracle` holds the true generated tokens already continued
    /// to at least `w` tokens (see `PseudoContent.oracle`); only `.oracle` reads it.
    public func tokens(_ content: PseudoContent, prompt: [Int], oracle: [Int] = []) throws -> [Int] {
        try check(promptLength: prompt.count)
        let w = count, n = prompt.count
        switch content {
        case .oracle:
            guard oracle.count >= w else {
                throw ProbeError("oracle content needs \(w) tokens, got \(oracle.count) (continue the answer greedily first)")
            }
            return Array(oracle.prefix(w))
        case .suffix:
            return Array(prompt[(n - w)...])
        case .prefix:
            return Array(prompt.prefix(w))
        case .prefixSuffix:
            return Array(prompt.prefix(prefixCount)) + Array(prompt[(n - (w - prefixCount))...])
        case .random:
            guard excluded.count < vocabularySize else { throw ProbeError("random content: every vocabulary id is excluded") }
            var generator = SplitMix64(seed: seed)
            var ids: [Int] = []
            while ids.count < w {
                let id = Int(generator.next() % UInt64(vocabularySize))
                if !excluded.contains(id) { ids.append(id) }
            }
            return ids
        case .repeat:
            return Array(repeating: repeatToken ?? prompt[n - 1], count: w)
        }
    }
}

/// Parses `a,b,c` into cases by raw value; `all` is every case; duplicates are dropped, order kept.
func parseNames<T: RawRepresentable & Hashable>(_ text: String, all: [T], what: String) throws -> [T] where T.RawValue == String {
    var result: [T] = []
    for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
        if part == "all" {
            for value in all where !result.contains(value) { result.append(value) }
            continue
        }
        guard let value = T(rawValue: part) else {
            throw ProbeError("unknown \(what) '\(part)' (known: \(all.map(\.rawValue).joined(separator: ", ")), all)")
        }
        if !result.contains(value) { result.append(value) }
    }
    guard !result.isEmpty else { throw ProbeError("no \(what) given") }
    return result
}
