import Foundation

/// A tensor's entry in a GGUF file's tensor table.
public struct GGUFTensorInfo: Sendable {
    public let name: String
    /// Dimensions in GGUF order: `shape[0]` is the contiguous (innermost) one.
    public let shape: [Int]
    public let type: GGMLType
    /// Offset of the data from the start of the data section.
    public let offset: Int

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { type.byteCount(elements: elementCount) }
}

/// A memory-mapped GGUF file (versions 2 and 3): its metadata, its tensor table, and raw access to tensor data.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: Int
    /// Metadata in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Offset of the data section from the start of the file.
    public let dataOffset: Int
    public let fileSize: Int

    private let base: UnsafeRawPointer
    private let tensorIndex: [String: Int]

    /// Maps and parses the file; throws a `GGUFError` naming the file and the problem.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw GGUFError(path: path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GGUFError(path: path, "cannot stat: \(String(cString: strerror(errno)))") }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw GGUFError(path: path, "is a directory, not a GGUF file") }
        let size = Int(st.st_size)
        guard size >= 8 else { throw GGUFError(path: path, "truncated: \(size) bytes is too short for a GGUF header") }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw GGUFError(path: path, "cannot map: \(String(cString: strerror(errno)))")
        }
        let base = UnsafeRawPointer(mapped)
        do {
            var reader = GGUFByteReader(base: base, size: size, path: path)
            let magic = try reader.read(UInt32.self)
            guard magic == 0x4655_4747 else { throw GGUFError(path: path, "bad magic: not a GGUF file") }
            let version = Int(try reader.read(UInt32.self))
            guard version == 2 || version == 3 else {
                throw GGUFError(path: path, "unsupported GGUF version \(version) (supported: 2, 3)")
            }
            let tensorCount = try reader.readCount("tensor count")
            let kvCount = try reader.readCount("metadata count")
            var keys: [String] = []
            var metadata: [String: GGUFValue] = [:]
            for _ in 0..<kvCount {
                let key = try reader.readString()
                let value = try reader.readValue(typeID: try reader.read(UInt32.self))
                keys.append(key)
                metadata[key] = value
            }
            let alignment = metadata["general.alignment"]?.intValue ?? 32
            guard alignment > 0, alignment & (alignment - 1) == 0 else {
                throw GGUFError(path: path, "general.alignment \(alignment) is not a power of two")
            }
            var tensors: [GGUFTensorInfo] = []
            var index: [String: Int] = [:]
            for _ in 0..<tensorCount {
                let name = try reader.readString()
                let nDims = Int(try reader.read(UInt32.self))
                guard (1...4).contains(nDims) else { throw GGUFError(path: path, "tensor '\(name)' has \(nDims) dimensions") }
                var shape: [Int] = []
                for _ in 0..<nDims {
                    let d = try reader.read(UInt64.self)
                    guard d > 0, d < 1 << 40 else { throw GGUFError(path: path, "tensor '\(name)' has an invalid dimension \(d)") }
                    shape.append(Int(d))
                }
                let typeID = try reader.read(UInt32.self)
                guard let type = GGMLType(rawValue: typeID) else {
                    throw GGUFError(path: path, "tensor '\(name)' has unknown ggml type id \(typeID)")
                }
                guard shape[0] % type.blockSize == 0 else {
                    throw GGUFError(path: path, "tensor '\(name)': first dimension \(shape[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
                }
                let offset = try reader.read(UInt64.self)
                guard offset < 1 << 50, Int(offset) % alignment == 0 else {
                    throw GGUFError(path: path, "tensor '\(name)' has a misaligned or invalid data offset \(offset)")
                }
                guard index[name] == nil else { throw GGUFError(path: path, "tensor '\(name)' appears twice") }
                index[name] = tensors.count
                tensors.append(GGUFTensorInfo(name: name, shape: shape, type: type, offset: Int(offset)))
            }
            let dataOffset = (reader.position + alignment - 1) / alignment * alignment
            for t in tensors where dataOffset + t.offset + t.byteCount > size {
                throw GGUFError(path: path, "truncated: tensor '\(t.name)' needs bytes up to \(dataOffset + t.offset + t.byteCount), the file has \(size)")
            }
            self.version = version
            self.metadataKeys = keys
            self.metadata = metadata
            self.tensors = tensors
            self.tensorIndex = index
            self.alignment = alignment
            self.dataOffset = dataOffset
            self.fileSize = size
            self.base = base
        } catch {
            munmap(mapped, size)
            throw error
        }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), fileSize) }

    /// The byte count the header and tensor table account for: data section start plus the end of the last tensor.
    public var accountedSize: Int {
        let end = tensors.map { $0.offset + $0.byteCount }.max() ?? 0
        return dataOffset + end
    }

    /// The size a complete file has: the data section start plus the end of the last tensor padded to the
    /// alignment (GGUF writers pad every tensor's data, the last one included). A joined or copied model whose
    /// `fileSize` differs is truncated or has trailing bytes.
    public var expectedFileSize: Int {
        let end = accountedSize - dataOffset
        return dataOffset + (end + alignment - 1) / alignment * alignment
    }

    public func tensor(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// Raw bytes of a tensor, valid while this file is alive.
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + dataOffset + tensor.offset, count: tensor.byteCount)
    }

    /// Drops the mapped pages wholly inside `tensor`'s bytes from this process's memory (`madvise(MADV_DONTNEED)`;
    /// a later read maps them again from the file), for a loader that has copied the tensor: without it the
    /// file's pages stay resident beside their copies, doubling the peak RSS of a load.
    public func releasePages(of tensor: GGUFTensorInfo) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base + dataOffset + tensor.offset)
        let first = (start + page - 1) / page * page, end = (start + tensor.byteCount) / page * page
        guard end > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        madvise(pointer, end - first, MADV_DONTNEED)
    }

    /// The tensor dequantized to float32, in GGUF element order.
    public func floats(of tensor: GGUFTensorInfo) throws -> [Float] {
        guard tensor.type.isSupported else {
            throw GGUFError(path: path, "tensor '\(tensor.name)' has type \(tensor.type.name), which is not supported")
        }
        return [Float](unsafeUninitializedCapacity: tensor.elementCount) { buffer, count in
            Dequantize.run(tensor.type, from: data(of: tensor), into: buffer.baseAddress!, count: tensor.elementCount)
            count = tensor.elementCount
        }
    }

    // MARK: metadata accessors that name the file and key when the value is missing or of the wrong kind

    public func requireInt(_ key: String) throws -> Int {
        guard let v = metadata[key] else { throw GGUFError(path: path, "missing required metadata '\(key)'") }
        guard let i = v.intValue else { throw GGUFError(path: path, "metadata '\(key)' is \(v.typeName), expected an integer") }
        return i
    }

    public func requireString(_ key: String) throws -> String {
        guard let v = metadata[key] else { throw GGUFError(path: path, "missing required metadata '\(key)'") }
        guard let s = v.stringValue else { throw GGUFError(path: path, "metadata '\(key)' is \(v.typeName), expected a string") }
        return s
    }

    public func requireArray(_ key: String) throws -> [GGUFValue] {
        guard let v = metadata[key] else { throw GGUFError(path: path, "missing required metadata '\(key)'") }
        guard let a = v.arrayValue else { throw GGUFError(path: path, "metadata '\(key)' is \(v.typeName), expected an array") }
        return a
    }

    public func double(_ key: String) -> Double? { metadata[key]?.doubleValue }
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }
    public func string(_ key: String) -> String? { metadata[key]?.stringValue }
}

/// Bounds-checked little-endian reading of a GGUF header.
struct GGUFByteReader {
    let base: UnsafeRawPointer
    let size: Int
    let path: String
    var position = 0

    init(base: UnsafeRawPointer, size: Int, path: String) {
        self.base = base
        self.size = size
        self.path = path
    }

    mutating func need(_ n: Int) throws {
        guard n >= 0, position + n <= size else {
            throw GGUFError(path: path, "truncated: header needs \(n) more bytes at offset \(position), the file has \(size)")
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        try need(MemoryLayout<T>.size)
        let v = T(littleEndian: base.loadUnaligned(fromByteOffset: position, as: T.self))
        position += MemoryLayout<T>.size
        return v
    }

    mutating func readCount(_ what: String) throws -> Int {
        let v = try read(UInt64.self)
        // Every entry takes at least 8 bytes, so a count larger than the file is corrupt.
        guard v <= UInt64(size) else { throw GGUFError(path: path, "corrupt header: \(what) \(v) exceeds the file size") }
        return Int(v)
    }

    mutating func readString() throws -> String {
        let n = try readCount("string length")
        try need(n)
        let s = String(decoding: UnsafeRawBufferPointer(start: base + position, count: n), as: UTF8.self)
        position += n
        return s
    }

    mutating func readValue(typeID: UInt32) throws -> GGUFValue {
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
            let count = try readCount("array length")
            var items: [GGUFValue] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try readValue(typeID: elementType)) }
            return .array(items)
        case 10: return .uint64(try read(UInt64.self))
        case 11: return .int64(try read(Int64.self))
        case 12: return .float64(Double(bitPattern: try read(UInt64.self)))
        default: throw GGUFError(path: path, "corrupt header: unknown metadata value type \(typeID) at offset \(position - 4)")
        }
    }
}
