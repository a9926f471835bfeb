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
}
