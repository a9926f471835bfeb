import Foundation

/// A tensor's entry in a GGUF file's tensor table, checked against the file: its data lies inside the file.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions in GGUF order: `shape[0]` is the contiguous (innermost) one.
    public let shape: [Int]
    public let type: GGMLType
    /// Offset of the data from the start of the data section.
    public let offset: Int
    /// The product of the dimensions.
    public let elementCount: Int
    /// Bytes of data: whole blocks of `type`.
    public let byteCount: Int
}

/// A GGUF file (versions 2 and 3), memory-mapped or parsed from bytes in memory: its metadata, its tensor table,
/// and raw access to tensor data.
///
/// Nothing is trusted before it is checked: every count, string and array length is checked against the bytes
/// left, every dimension, product and offset with overflow-checked arithmetic, and every tensor's data against
/// the file's size, so a malformed file gives a `GGUFError` (one line naming the file and the problem) and never
/// a read outside the file, whether or not the build keeps Swift's bounds checks.
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

    private let bytes: GGUFBytes
    private var base: UnsafeRawPointer { bytes.base }
    private let tensorIndex: [String: Int]

    /// Maps and parses the file; throws a `GGUFError` naming the file and the problem.
    public convenience init(path: String) throws {
        try self.init(path: path, bytes: try GGUFBytes(mapping: path))
    }

    /// Parses a GGUF held in memory (a copy is kept); `name` stands for the path in errors.
    public convenience init(bytes: some Collection<UInt8>, name: String) throws {
        let copy = bytes.withContiguousStorageIfAvailable { GGUFBytes(copying: UnsafeRawBufferPointer($0)) }
            ?? Array(bytes).withUnsafeBytes { GGUFBytes(copying: $0) }
        try self.init(path: name, bytes: copy)
    }

    private init(path: String, bytes: GGUFBytes) throws {
        self.path = path
        let size = bytes.count
        var reader = GGUFByteReader(base: bytes.base, size: size, path: path)
        let magic = try reader.read(UInt32.self)
        guard magic == 0x4655_4747 else { throw GGUFError(path: path, "bad magic: not a GGUF file") }
        let version = Int(try reader.read(UInt32.self))
        guard version == 2 || version == 3 else {
            throw GGUFError(path: path, "unsupported GGUF version \(version) (supported: 2, 3)")
        }
        // A tensor's entry takes at least 32 bytes (name length, rank, one dimension, type, offset); a
        // metadata entry at least 13 (key length, type, one byte of value).
        let tensorCount = try reader.readCount("tensor count", bytesEach: 32)
        let kvCount = try reader.readCount("metadata count", bytesEach: 13)
        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        for _ in 0..<kvCount {
            let key = try reader.readString()
            let value = try reader.readValue(typeID: try reader.read(UInt32.self))
            guard metadata[key] == nil else { throw GGUFError(path: path, "corrupt header: metadata key \(GGUFError.quote(key)) appears twice") }
            keys.append(key)
            metadata[key] = value
        }
        let alignment = metadata["general.alignment"]?.intValue ?? 32
        guard alignment > 0, alignment & (alignment - 1) == 0 else {
            throw GGUFError(path: path, "general.alignment \(alignment) is not a power of two")
        }
        var entries: [(name: String, shape: [Int], type: GGMLType, offset: Int)] = []
        var index: [String: Int] = [:]
        for _ in 0..<tensorCount {
            let name = try reader.readString()
            let nDims = Int(try reader.read(UInt32.self))
            guard (1...4).contains(nDims) else { throw GGUFError(path: path, "tensor \(GGUFError.quote(name)) has \(nDims) dimensions") }
            var shape: [Int] = []
            for _ in 0..<nDims {
                let d = try reader.read(UInt64.self)
                guard d > 0, d < 1 << 48 else {
                    throw GGUFError(path: path, "tensor \(GGUFError.quote(name)) has an invalid dimension \(d)")
                }
                shape.append(Int(d))
            }
            let typeID = try reader.read(UInt32.self)
            guard let type = GGMLType(rawValue: typeID) else {
                throw GGUFError(path: path, "tensor \(GGUFError.quote(name)) has unknown ggml type id \(typeID)")
            }
            guard shape[0] % type.blockSize == 0 else {
                throw GGUFError(path: path, "tensor \(GGUFError.quote(name)): first dimension \(shape[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
            }
            let offset = try reader.read(UInt64.self)
            guard offset <= UInt64(size), Int(offset) % alignment == 0 else {
                throw GGUFError(path: path, "tensor \(GGUFError.quote(name)) has a misaligned or invalid data offset \(offset)")
            }
            guard index[name] == nil else { throw GGUFError(path: path, "tensor \(GGUFError.quote(name)) appears twice") }
            index[name] = entries.count
            entries.append((name, shape, type, Int(offset)))
        }
        guard let dataOffset = CheckedArithmetic.alignedUp(reader.position, to: alignment) else {
            throw GGUFError(path: path, "general.alignment \(alignment) puts the data section beyond any file size")
        }
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(entries.count)
        for e in entries {
            let blocks = CheckedArithmetic.product(e.shape).map { $0 / e.type.blockSize }
            guard let elements = CheckedArithmetic.product(e.shape), let blocks,
                  let byteCount = CheckedArithmetic.product(blocks, e.type.bytesPerBlock),
                  let start = CheckedArithmetic.sum(dataOffset, e.offset),
                  let end = CheckedArithmetic.sum(start, byteCount) else {
                throw GGUFError(path: path, "tensor \(GGUFError.quote(e.name)) with shape \(e.shape) is larger than any file")
            }
            guard end <= size else {
                throw GGUFError(path: path, "truncated: tensor \(GGUFError.quote(e.name)) needs bytes up to \(end), the file has \(size)")
            }
            tensors.append(GGUFTensorInfo(name: e.name, shape: e.shape, type: e.type, offset: e.offset,
                                          elementCount: elements, byteCount: byteCount))
        }
        self.version = version
        self.metadataKeys = keys
        self.metadata = metadata
        self.tensors = tensors
        self.tensorIndex = index
        self.alignment = alignment
        self.dataOffset = dataOffset
        self.fileSize = size
        self.bytes = bytes
    }

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

    /// Raw bytes of a tensor of this file (one of `tensors`), valid while this file is alive.
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        // The entry's bounds were checked against this file; one from another file could point anywhere.
        guard let i = tensorIndex[tensor.name], tensors[i] == tensor else {
            fatalError("\(path): tensor \(GGUFError.quote(tensor.name)) is not an entry of this file")
        }
        return UnsafeRawBufferPointer(start: base + dataOffset + tensor.offset, count: tensor.byteCount)
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
            throw GGUFError(path: path, "tensor \(GGUFError.quote(tensor.name)) has type \(tensor.type.name), which is not supported")
        }
        return [Float](unsafeUninitializedCapacity: tensor.elementCount) { buffer, count in
            Dequantize.run(tensor.type, from: data(of: tensor), into: buffer.baseAddress!, count: tensor.elementCount)
            count = tensor.elementCount
        }
    }

    // MARK: metadata accessors that name the file and key when the value is missing or of the wrong kind

    public func requireInt(_ key: String) throws -> Int {
        guard let v = metadata[key] else { throw GGUFError(path: path, "missing required metadata \(GGUFError.quote(key))") }
        guard let i = v.intValue else { throw GGUFError(path: path, "metadata \(GGUFError.quote(key)) is \(v.typeName), expected an integer") }
        return i
    }

    public func requireString(_ key: String) throws -> String {
        guard let v = metadata[key] else { throw GGUFError(path: path, "missing required metadata \(GGUFError.quote(key))") }
        guard let s = v.stringValue else { throw GGUFError(path: path, "metadata \(GGUFError.quote(key)) is \(v.typeName), expected a string") }
        return s
    }

    public func requireArray(_ key: String) throws -> [GGUFValue] {
        guard let v = metadata[key] else { throw GGUFError(path: path, "missing required metadata \(GGUFError.quote(key))") }
        guard let a = v.arrayValue else { throw GGUFError(path: path, "metadata \(GGUFError.quote(key)) is \(v.typeName), expected an array") }
        return a
    }

    public func double(_ key: String) -> Double? { metadata[key]?.doubleValue }
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }
    public func string(_ key: String) -> String? { metadata[key]?.stringValue }
}
