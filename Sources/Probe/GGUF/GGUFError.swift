import Foundation

/// Why a GGUF file could not be read. Every case names the file, so the message is a complete one-line error.
public struct GGUFError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String

    public init(path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }

    /// Text read from a file (a tensor name, a key, a tokenizer name), single-quoted for a one-line message: control
    /// and line-separating characters escaped, cut after `limit` characters.
    public static func quote(_ text: String, limit: Int = 80) -> String {
        var out = ""
        for (i, scalar) in text.unicodeScalars.enumerated() {
            if i == limit { out += "…"; break }
            let category = scalar.properties.generalCategory
            if category == .control || category == .lineSeparator || category == .paragraphSeparator || category == .format {
                out += scalar.escaped(asASCII: true)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return "'" + out + "'"
    }
}
