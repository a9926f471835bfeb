/// Bounds-checked little-endian reading of a GGUF header. Every read checks the bytes left first, and every
/// count is checked against them before anything is allocated for it, so no field of a malformed file can make
/// the reader read past the end or reserve more memory than the file could describe.
struct GGUFByteReader {
    let base: UnsafeRawPointer
    let size: Int
    let path: String
    private(set) var position = 0

    /// Arrays of arrays nest at most this deep (llama.cpp reads none; deeper nesting is a corrupt file, and
    /// unbounded nesting would exhaust the stack).
    static let maximumArrayDepth = 4

    init(base: UnsafeRawPointer, size: Int, path: String) {
        self.base = base
        self.size = size
        self.path = path
    }

    var remaining: Int { size - position }

    func need(_ n: Int) throws {
        guard n >= 0, n <= remaining else {
            throw GGUFError(path: path, "truncated: header needs \(n) more bytes at offset \(position), the file has \(size)")
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        try need(MemoryLayout<T>.size)
        let v = T(littleEndian: base.loadUnaligned(fromByteOffset: position, as: T.self))
        position += MemoryLayout<T>.size
        return v
    }

    /// A count of entries that take at least `bytesEach` bytes each; more than the bytes left can hold is corrupt.
    mutating func readCount(_ what: String, bytesEach: Int) throws -> Int {
        let v = try read(UInt64.self)
        guard v <= UInt64(remaining / max(1, bytesEach)) else {
            throw GGUFError(path: path, "truncated or corrupt header: \(what) \(v) at offset \(position - 8) needs more than the \(remaining) bytes left")
        }
        return Int(v)
    }

    mutating func readString() throws -> String {
        let n = try readCount("string length", bytesEach: 1)
        let s = String(decoding: UnsafeRawBufferPointer(start: base + position, count: n), as: UTF8.self)
        position += n
        return s
    }

    /// The fewest bytes a value of metadata type `typeID` takes (nil for an unknown type).
    static func minimumSize(ofType typeID: UInt32) -> Int? {
        switch typeID {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 8, 10, 11, 12: return 8
        case 9: return 12  // element type and count
        default: return nil
        }
    }

    mutating func readValue(typeID: UInt32, depth: Int = 0) throws -> GGUFValue {
        switch typeID {
        case 0: return .uint8(try read(UInt8.self))
        case 1: return .int8(try read(Int8.self))
        case 2: return .uint16(try read(UInt16.self))
        case 3: return .int16(try read(Int16.self))
        case 4: return .uint32(try read(UInt32.self))
        case 5: return .int32(try read(Int32.self))
        case 6: return .float32(Float(bitPattern: try read(UInt32.self)))
        case 7:
            let b = try read(UInt8.self)
            guard b <= 1 else { throw GGUFError(path: path, "corrupt header: bool value \(b) at offset \(position - 1)") }
            return .bool(b == 1)
        case 8: return .string(try readString())
        case 9:
            let elementType = try read(UInt32.self)
            guard let elementSize = Self.minimumSize(ofType: elementType) else {
                throw GGUFError(path: path, "corrupt header: unknown array element type \(elementType) at offset \(position - 4)")
            }
            guard elementType != 9 || depth < Self.maximumArrayDepth else {
                throw GGUFError(path: path, "corrupt header: arrays nested deeper than \(Self.maximumArrayDepth) at offset \(position - 4)")
            }
            let count = try readCount("array length", bytesEach: elementSize)
            var items: [GGUFValue] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try readValue(typeID: elementType, depth: depth + 1)) }
            return .array(items)
        case 10: return .uint64(try read(UInt64.self))
        case 11: return .int64(try read(Int64.self))
        case 12: return .float64(Double(bitPattern: try read(UInt64.self)))
        default: throw GGUFError(path: path, "corrupt header: unknown metadata value type \(typeID) at offset \(position - 4)")
        }
    }
}
