import CHDF5
import Foundation

/// An HDF5 file that a command reads as input (a capture for `ablate`, shards for `merge`), checked before it is
/// trusted: it exists, is a readable HDF5 file, is of the expected kind (root attribute `schema`) and complete; every
/// attribute and dataset read through it exists and has the expected type and shape, so no reader indexes past what
/// the file really holds. Every failure is a `ProbeError` of one line naming the file and the problem.
public final class HDF5InputFile {
    /// What a dataset must hold.
    public enum ElementKind: Sendable {
        case numbers, strings
    }

    public let path: String
    /// The open file, for reads this type does not cover; closed by `close()` or when released.
    public let file: HDF5File

    /// Opens `path` as a complete file of `kind` (e.g. "capture file") whose root attribute `schema` is `schema`.
    public init(path: String, schema: String, kind: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw ProbeError("\(path): no such file") }
        guard H5Fis_hdf5(path) > 0 else { throw ProbeError("\(path): not a readable HDF5 file (no HDF5 signature; expected a \(kind))") }
        do { file = try HDF5File.open(path) } catch {
            throw ProbeError("\(path): not a readable HDF5 file (truncated or damaged?): \(error)")
        }
        let found = try? file.stringAttribute("schema")
        guard found == schema else {
            file.close()
            throw ProbeError("\(path): not a \(kind) (schema \(found.map { "'\($0)'" } ?? "missing"), expected '\(schema)')")
        }
        guard (try? file.attribute("complete", as: Int.self)) == 1 else {
            file.close()
            throw ProbeError("\(path): the \(kind) is incomplete (root attribute complete is not 1)")
        }
    }

    public func close() { file.close() }

    /// Whether the file holds an object (dataset or group) at `name`: for the datasets a schema version added.
    public func exists(_ name: String) -> Bool { file.exists(name) }

    /// Whether the root has attribute `name`.
    public func hasAttribute(_ name: String) throws -> Bool {
        do { return try file.hasAttribute(name) } catch { throw ProbeError("\(path): cannot list the root attributes: \(error)") }
    }

    /// A numeric root attribute.
    public func attribute<T: HDF5Scalar>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard (try? file.hasAttribute(name)) == true else { throw ProbeError("\(path): missing root attribute '\(name)'") }
        do { return try file.attribute(name, as: T.self) } catch {
            throw ProbeError("\(path): root attribute '\(name)' is not a single number")
        }
    }

    /// A string root attribute.
    public func stringAttribute(_ name: String) throws -> String {
        guard (try? file.hasAttribute(name)) == true else { throw ProbeError("\(path): missing root attribute '\(name)'") }
        do { return try file.stringAttribute(name) } catch {
            throw ProbeError("\(path): root attribute '\(name)' is not a string")
        }
    }

    /// The shape of dataset `name`, after checking that it exists and holds `kind`.
    public func shape(of name: String, holding kind: ElementKind) throws -> [Int] {
        try withDataset(name, holding: kind) { try $0.shape }
    }

    /// Every element of dataset `name` (row-major), after checking that it holds numbers and that its shape is
    /// `shape` (nil: any extent on that axis).
    public func read<T: HDF5Scalar>(_ name: String, as type: T.Type = T.self, shape: [Int?]) throws -> [T] {
        try withDataset(name, holding: .numbers, shape: shape) { try $0.read(T.self) }
    }

    /// The strings of a 1-D dataset `name` of `count` entries (nil: any).
    public func readStrings(_ name: String, count: Int?) throws -> [String] {
        try withDataset(name, holding: .strings, shape: [count]) { try $0.readStrings() }
    }

    private func withDataset<R>(_ name: String, holding kind: ElementKind, shape expected: [Int?]? = nil,
                                _ body: (HDF5Dataset) throws -> R) throws -> R {
        guard file.exists(name) else { throw ProbeError("\(path): missing dataset '\(name)'") }
        let dataset: HDF5Dataset
        do { dataset = try file.openDataset(name) } catch { throw ProbeError("\(path): '\(name)' is not a readable dataset") }
        defer { dataset.close() }
        do {
            let type = try dataset.elementType
            let matches = switch (kind, type) {
            case (.numbers, .float32), (.numbers, .float64), (.numbers, .uint8), (.numbers, .int32), (.numbers, .int64), (.strings, .string): true
            default: false
            }
            guard matches else {
                let found = if case .other(let description) = type { description } else { "\(type)" }
                throw ProbeError("\(path): dataset '\(name)' holds \(found), expected \(kind)")
            }
            let shape = try dataset.shape
            if let expected {
                guard shape.count == expected.count, zip(shape, expected).allSatisfy({ $1 == nil || $0 == $1 }) else {
                    let wanted = expected.map { $0.map(String.init) ?? "*" }.joined(separator: ", ")
                    throw ProbeError("\(path): dataset '\(name)' has shape \(shape), expected [\(wanted)]")
                }
            }
            return try body(dataset)
        } catch let error as ProbeError { throw error } catch {
            throw ProbeError("\(path): cannot read dataset '\(name)' (truncated or damaged?): \(error)")
        }
    }
}
