/// Splits whitespace-separated words into sentences, standing in for NLTK's Punkt `sent_tokenize`, which RULER
/// runs on its essay haystack.
///
/// A sentence ends after a word whose last character, closing quotes and brackets aside, is '.', '!' or '?' —
/// unless the word is an abbreviation Punkt would not break at: a period inside the word ("e.g.", "U.S."), a
/// single letter ("J."), or a title (Mr., Mrs., Ms., Dr., St., Jr., Sr., Prof., vs.). Joining the sentences with
/// single spaces gives back the words joined with single spaces.
public enum SentenceSplitter {
    static let closers: Set<Character> = ["\"", "'", "\u{201D}", "\u{2019}", ")", "]"]
    static let titles: Set<String> = ["mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "vs"]

    /// Whether `word` ends a sentence.
    public static func endsSentence<S: StringProtocol>(_ word: S) -> Bool {
        var core = Substring(word)
        while let last = core.last, closers.contains(last) { core = core.dropLast() }
        guard let last = core.last, last == "." || last == "!" || last == "?" else { return false }
        while let last = core.last, last == "." || last == "!" || last == "?" { core = core.dropLast() }
        if core.isEmpty { return true }
        if core.contains(".") { return false }
        if core.count == 1, core.first!.isLetter { return false }
        return !titles.contains(core.lowercased())
    }

    /// The sentences of `words`: index ranges into `words`, consecutive, covering all of them.
    public static func sentenceRanges<S: StringProtocol>(_ words: [S]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        for (i, word) in words.enumerated() where endsSentence(word) {
            ranges.append(start..<i + 1)
            start = i + 1
        }
        if start < words.count { ranges.append(start..<words.count) }
        return ranges
    }
}
