/// Scores of generated answers, in 0…1 (docs/evaluation.md).
public enum AnswerScoring {
    /// NIAH: the fraction of the reference's distinct words that appear among the answer's words.
    /// Words are compared after `words(_:)` (lowercased, apostrophes removed, other punctuation a separator).
    /// 0 when the reference has no words.
    public static func niahScore(answer: String, reference: String) -> Double {
        let wanted = Set(words(reference))
        guard !wanted.isEmpty else { return 0 }
        let present = Set(words(answer))
        return Double(wanted.intersection(present).count) / Double(wanted.count)
    }

    /// The words of `text` as the NIAH score compares them: lowercased; letters and digits kept; apostrophes
    /// (`'`, `’`) dropped ("don't" → "dont"); every other character separates words.
    public static func words(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        for ch in text.lowercased() {
            if ch.isLetter || ch.isNumber {
                current.append(ch)
            } else if ch == "'" || ch == "\u{2019}" {
                continue
            } else if !current.isEmpty {
                result.append(current)
                current = ""
            }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// RULER's `string_match_all` for one sample: the mean over references of 1 when the lowercased reference
    /// is a substring of the lowercased prediction, else 0. RULER averages this over samples and reports it
    /// ×100; here it stays in 0…1. 0 when there are no references.
    public static func rulerStringMatchAll(prediction: String, references: [String]) -> Double {
        guard !references.isEmpty else { return 0 }
        let haystack = Array(prediction.lowercased().utf8)
        let hits = references.filter { containsBytes(haystack, Array($0.lowercased().utf8)) }.count
        return Double(hits) / Double(references.count)
    }

    /// RULER's `postprocess_pred`: strip surrounding whitespace, replace every control character U+0000…U+001F
    /// by a newline, strip again.
    public static func rulerPostprocess(_ prediction: String) -> String {
        let stripped = strip(prediction)
        var scalars = String.UnicodeScalarView()
        for s in stripped.unicodeScalars { scalars.append(s.value < 0x20 ? "\n" : s) }
        return strip(String(scalars))
    }

    /// Python's `str.strip()`: removes leading and trailing whitespace (as `str.isspace` defines it, which
    /// includes the separators U+001C…U+001F).
    static func strip(_ text: String) -> String {
        func isSpace(_ s: Unicode.Scalar) -> Bool {
            (0x1C...0x1F).contains(s.value) || s.properties.isWhitespace
        }
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars[first...last])
        return String(out)
    }

    /// Whether `needle` occurs in `haystack` as a byte substring (on UTF-8, the same as Python's code-point `in`).
    static func containsBytes(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        if needle.isEmpty { return true }
        guard needle.count <= haystack.count else { return false }
        let first = needle[0]
        for i in 0...(haystack.count - needle.count) where haystack[i] == first {
            var j = 1
            while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
            if j == needle.count { return true }
        }
        return false
    }
}
