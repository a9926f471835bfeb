/// A one-line user-facing error of the runtime (bad arguments, prompts that do not fit, missing files).
public struct ProbeError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
