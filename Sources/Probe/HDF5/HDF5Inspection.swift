import CHDF5
import Foundation

/// A readable summary of any HDF5 file: root attributes, then every dataset with its element type, shape,
/// dimension names (from its dimension scales) and description. What `dapq-probe inspect` prints.
public struct HDF5Inspection: Sendable {
    /// One dataset of the file.
    public struct Entry: Sendable, Equatable {
        public var path: String
        public var type: String
        public var shape: [Int]
        /// The dimension name of each axis ("" where none is attached).
        public var dimensions: [String]
        /// Whether the dataset is itself a dimension scale (a named dimension's coordinates).
        public var isDimensionScale: Bool
        public var description: String
    }

    /// A root attribute's value as stored: text, integers or reals (one or more), or another type by name.
    public enum AttributeValue: Sendable, Equatable {
        case text(String)
        case integers([Int64])
        case reals([Double])
        case other(String)
    }

    /// Root attributes as `name = value` text, in name order.
    public var attributes: [(name: String, value: String)] {
        typedAttributes.map { attribute in
            func list<T>(_ values: [T]) -> String {
                values.count == 1 ? "\(values[0])" : "[" + values.map { "\($0)" }.joined(separator: ", ") + "]"
            }
            switch attribute.value {
            case .text(let text): return (attribute.name, text)
            case .integers(let values): return (attribute.name, list(values))
            case .reals(let values): return (attribute.name, list(values))
            case .other(let type): return (attribute.name, "<\(type)>")
            }
        }
    }
    /// Root attributes with their stored values, in name order.
    public var typedAttributes: [(name: String, value: AttributeValue)]
    /// Every dataset, depth first in name order.
    public var datasets: [Entry]

    /// Reads the summary of the file at `path`; errors are one line naming the file.
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw ProbeError("\(path): no such file") }
        guard H5Fis_hdf5(path) > 0 else { throw ProbeError("\(path): not an HDF5 file") }
        let file: HDF5File
        do { file = try HDF5File.open(path) } catch { throw ProbeError("\(path): cannot open: \(error)") }
        defer { file.close() }
        typedAttributes = []
        datasets = []
        do {
            typedAttributes = try Self.attributes(of: file)
            try collect(file, prefix: "")
        } catch {
            throw ProbeError("\(path): cannot read (truncated or damaged?): \(error)")
        }
    }

    private mutating func collect(_ container: HDF5Container, prefix: String) throws {
        for member in try container.members() {
            let path = prefix + "/" + member.name
            switch member.kind {
            case .group:
                let group = try container.openGroup(member.name)
                defer { group.close() }
                try collect(group, prefix: path)
            case .dataset:
                let dataset = try container.openDataset(member.name)
                defer { dataset.close() }
                let shape = try dataset.shape
                let labels = shape.isEmpty ? [] : ((try? dataset.dimensionLabels()) ?? shape.map { _ in "" })
                let description = (try? dataset.hasAttribute("description")) == true
                    ? ((try? dataset.stringAttribute("description")) ?? "") : ""
                datasets.append(Entry(path: path, type: Self.typeName(try dataset.elementType), shape: shape,
                                      dimensions: labels, isDimensionScale: H5DSis_scale(dataset.id) > 0,
                                      description: description))
            default:
                continue
            }
        }
    }

    private static func attributes(of object: HDF5Object) throws -> [(name: String, value: AttributeValue)] {
        try object.attributeNames().map { name in
            switch try object.attributeInfo(name).0 {
            case .string: (name, .text(try object.stringAttribute(name)))
            case .uint8, .int32, .int64: (name, .integers(try object.arrayAttribute(name, as: Int64.self)))
            case .float32, .float64: (name, .reals(try object.arrayAttribute(name, as: Double.self)))
            case let type: (name, .other(typeName(type)))
            }
        }
    }

    private static func typeName(_ type: HDF5ElementType) -> String {
        switch type {
        case .float32: "float32"
        case .float64: "float64"
        case .uint8: "uint8"
        case .int32: "int32"
        case .int64: "int64"
        case .string: "string"
        case .compound: "compound"
        case .other(let text): text
        }
    }

    /// The summary as text: a header line, the attributes, then one line per dataset.
    public var text: String {
        var lines = ["attributes:"]
        let width = attributes.map(\.name.count).max() ?? 0
        for (name, value) in attributes {
            let shown = value.count > 200 ? String(value.prefix(200)) + "…" : value
            lines.append("  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + " = "
                         + shown.replacingOccurrences(of: "\n", with: "\\n"))
        }
        lines.append("datasets:")
        let pathWidth = datasets.map(\.path.count).max() ?? 0
        for entry in datasets {
            let shape = entry.shape.isEmpty ? "scalar" : "[" + entry.shape.map(String.init).joined(separator: ", ") + "]"
            let dims = entry.isDimensionScale ? " (dimension scale)"
                : entry.dimensions.allSatisfy(\.isEmpty) ? "" : " (" + entry.dimensions.joined(separator: ", ") + ")"
            var line = "  " + entry.path.padding(toLength: pathWidth, withPad: " ", startingAt: 0) + "  "
                + entry.type + " " + shape + dims
            if !entry.description.isEmpty { line += "  " + entry.description }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// The summary as JSON objects, one per line of `inspect --json`: first `{"record": "file", "path", "attributes":
    /// {name: value}}` (numbers as numbers, one-element arrays as scalars, NaN as null), then one `{"record":
    /// "dataset", "path", "type", "shape", "dimensions", "dimension_scale", "description"}` per dataset.
    public func jsonObjects(path: String) -> [[String: Any]] {
        func number(_ x: Double) -> Any { x.isFinite ? x : NSNull() }
        func json(_ value: AttributeValue) -> Any {
            switch value {
            case .text(let text): return text
            case .integers(let values): return values.count == 1 ? values[0] : values
            case .reals(let values): return values.count == 1 ? number(values[0]) : values.map(number)
            case .other(let type): return "<\(type)>"
            }
        }
        let attributes = Dictionary(typedAttributes.map { ($0.name, json($0.value)) }, uniquingKeysWith: { a, _ in a })
        return [["record": "file", "path": path, "attributes": attributes]] + datasets.map { entry in
            ["record": "dataset", "path": entry.path, "type": entry.type, "shape": entry.shape, "dimensions": entry.dimensions,
             "dimension_scale": entry.isDimensionScale, "description": entry.description]
        }
    }
}
