import Foundation
import Probe

/// The words RULER's keys are drawn from: a Debian word list, by default `wamerican`'s
/// `/usr/share/dict/american-english` (installed by `make setup`).
///
/// Kept: lines made only of lowercase ASCII letters `a`–`z`, at least `minimumLength` long (proper nouns,
/// possessives, accented and one- or two-letter words dropped), deduplicated and sorted, as RULER sorts its
/// deduplicated list. RULER itself draws keys from `wonderwords` adjective-noun pairs ("adj-noun"); this
/// toolkit draws one dictionary word instead.
public struct RulerWordList: Sendable {
    public static let defaultPath = "/usr/share/dict/american-english"

    /// Where the list came from.
    public let source: String
    /// SHA-256 of the file read (empty for an in-memory list).
    public let sha256: String
    /// Lines in the file (before filtering).
    public let lineCount: Int
    public let minimumLength: Int
    /// The kept words, sorted.
    public let words: [String]

    /// Reads and filters the list at `path`; errors name the path (missing: install `wamerican`).
    public init(path: String = RulerWordList.defaultPath, minimumLength: Int = 3) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProbeError(FileManager.default.fileExists(atPath: path)
                             ? "\(path): cannot read the word list"
                             : "\(path): word list not found (install the Debian package wamerican: run `make setup`)")
        }
        let lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
        let words = Self.filter(lines.map(String.init), minimumLength: minimumLength)
        guard !words.isEmpty else {
            throw ProbeError("\(path): the word list holds no lowercase alphabetic words of \(minimumLength) letters or more")
        }
        self.source = path
        self.sha256 = SHA256.hex(of: data)
        self.lineCount = lines.count
        self.minimumLength = minimumLength
        self.words = words
    }

    /// A list from words in memory, filtered the same way; throws when none is kept.
    public init(words: [String], source: String = "<words>", minimumLength: Int = 3) throws {
        let kept = Self.filter(words, minimumLength: minimumLength)
        guard !kept.isEmpty else { throw ProbeError("\(source): no lowercase alphabetic words of \(minimumLength) letters or more") }
        self.source = source
        self.sha256 = ""
        self.lineCount = words.count
        self.minimumLength = minimumLength
        self.words = kept
    }

    /// Lowercase ASCII-alphabetic words of at least `minimumLength` letters, deduplicated, sorted.
    static func filter(_ lines: [String], minimumLength: Int) -> [String] {
        let kept = lines.filter { line in
            line.utf8.count >= minimumLength && line.utf8.allSatisfy { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
        }
        return Array(Set(kept)).sorted()
    }

    /// One line for provenance: source, filter, counts and checksum.
    public var description: String {
        "\(source): \(words.count) of \(lineCount) lines kept (lowercase a-z only, at least \(minimumLength) letters)"
            + (sha256.isEmpty ? "" : ", sha256 \(sha256)")
    }
}
