import Foundation
import Probe

/// Writes small GGUF files for tests and fuzzing seeds: any metadata, tensors with raw data of any type id.
/// Fields stay mutable so that tests can break a valid file in one place (magic, version, a tensor's type).
public struct GGUFBuilder: Sendable {
    public enum Value: Sendable {
        case u32(UInt32), i32(Int32), f32(Float), bool(Bool), string(String), strings([String]), i32s([Int32]), f32s([Float])
        /// Any value as its GGUF type id and little-endian payload, written as given.
        case raw(type: UInt32, payload: [UInt8])
    }

    public typealias Tensor = (name: String, shape: [Int], typeID: UInt32, data: [UInt8])

    public var version: UInt32 = 3
    public var magic: [UInt8] = Array("GGUF".utf8)
    public var metadata: [(String, Value)] = []
    public var tensors: [Tensor] = []
    public var alignment = 32

    public init() {}

    public mutating func set(_ key: String, _ value: Value) { metadata.append((key, value)) }

    /// Adds a float32 tensor with the given values.
    public mutating func addF32(_ name: String, shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *))
        let bytes = values.withUnsafeBytes { Array($0) }
        tensors.append((name, shape, GGMLType.f32.rawValue, bytes))
    }

    /// Adds a tensor of any type from its raw bytes (whole blocks of `type`).
    public mutating func add(_ name: String, shape: [Int], type: GGMLType, data: [UInt8]) {
        precondition(data.count == type.byteCount(elements: shape.reduce(1, *)))
        tensors.append((name, shape, type.rawValue, data))
    }

    public func bytes() -> [UInt8] {
        var out = [UInt8]()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        out += magic
        u32(version)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, value) in metadata {
            str(key)
            switch value {
            case .u32(let v): u32(4); u32(v)
            case .i32(let v): u32(5); u32(UInt32(bitPattern: v))
            case .f32(let v): u32(6); u32(v.bitPattern)
            case .bool(let v): u32(7); out.append(v ? 1 : 0)
            case .string(let s): u32(8); str(s)
            case .strings(let a): u32(9); u32(8); u64(UInt64(a.count)); a.forEach(str)
            case .i32s(let a): u32(9); u32(5); u64(UInt64(a.count)); a.forEach { u32(UInt32(bitPattern: $0)) }
            case .f32s(let a): u32(9); u32(6); u64(UInt64(a.count)); a.forEach { u32($0.bitPattern) }
            case .raw(let type, let payload): u32(type); out += payload
            }
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, o) in zip(tensors, offsets) {
            str(t.name)
            u32(UInt32(t.shape.count))
            t.shape.forEach { u64(UInt64($0)) }
            u32(t.typeID)
            u64(UInt64(o))
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out += t.data
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    public func data() -> Data { Data(bytes()) }

    public func write(to url: URL) throws { try data().write(to: url) }
}
