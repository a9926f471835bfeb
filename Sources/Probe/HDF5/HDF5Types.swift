import CHDF5

/// A fixed-size numeric element that maps onto a native HDF5 type.
/// `Int` is stored as a 64-bit integer.
public protocol HDF5Scalar {
    /// The native HDF5 memory type of `Self` (library-owned; never close it).
    static var hdf5Type: hid_t { get }
}

extension Float: HDF5Scalar {
    public static var hdf5Type: hid_t { HDF5Library.ids.float }
}
extension Double: HDF5Scalar {
    public static var hdf5Type: hid_t { HDF5Library.ids.double }
}
extension UInt8: HDF5Scalar {
    public static var hdf5Type: hid_t { HDF5Library.ids.uint8 }
}
extension Int32: HDF5Scalar {
    public static var hdf5Type: hid_t { HDF5Library.ids.int32 }
}
extension Int64: HDF5Scalar {
    public static var hdf5Type: hid_t { HDF5Library.ids.int64 }
}
extension Int: HDF5Scalar {
    public static var hdf5Type: hid_t { Int64.hdf5Type }
}

/// The element type of a stored dataset or attribute, as far as this layer distinguishes them.
public enum HDF5ElementType: Equatable, Sendable {
    case float32, float64, uint8, int32, int64, string, compound
    /// Anything else, described by HDF5 type class and byte size.
    case other(String)

    /// Classifies an HDF5 datatype id.
    init(type: hid_t) throws {
        let typeClass = try hdf5("query datatype class") { H5Tget_class(type).rawValue }
        let size = H5Tget_size(type)
        switch H5T_class_t(rawValue: typeClass) {
        case H5T_FLOAT where size == 4: self = .float32
        case H5T_FLOAT where size == 8: self = .float64
        case H5T_INTEGER where size == 1 && H5Tget_sign(type) == H5T_SGN_NONE: self = .uint8
        case H5T_INTEGER where size == 4 && H5Tget_sign(type) == H5T_SGN_2: self = .int32
        case H5T_INTEGER where size == 8 && H5Tget_sign(type) == H5T_SGN_2: self = .int64
        case H5T_STRING: self = .string
        case H5T_COMPOUND: self = .compound
        default: self = .other("HDF5 type class \(typeClass), \(size) bytes")
        }
    }
}

/// Creates a UTF-8 string datatype: fixed length (`byteCount`, null-terminated) or, when
/// `byteCount` is nil, variable length. The caller closes it.
func makeStringType(byteCount: Int?) throws -> hid_t {
    let type = try hdf5("copy string datatype") { H5Tcopy(HDF5Library.ids.cString) }
    do {
        try hdf5("set string size") { H5Tset_size(type, byteCount.map { max(1, $0) } ?? H5T_VARIABLE_SIZE) }
        try hdf5("set string padding") { H5Tset_strpad(type, H5T_STR_NULLTERM) }
        try hdf5("set string character set") { H5Tset_cset(type, H5T_CSET_UTF8) }
    } catch {
        H5Tclose(type)
        throw error
    }
    return type
}

/// `H5T_VARIABLE`, `(size_t)-1`: a macro Swift does not import (C `size_t` arrives as `Int`).
let H5T_VARIABLE_SIZE = -1
/// `H5S_UNLIMITED` (`(hsize_t)-1`).
let H5S_UNLIMITED_SIZE = hsize_t.max

/// Wraps `memberType` in a one-member compound type when `member` is given, so reading
/// with it extracts just that column of a compound dataset. The caller closes the result.
func makeMemoryType(_ memberType: hid_t, member: String?) throws -> hid_t {
    guard let member else { return try hdf5("copy datatype") { H5Tcopy(memberType) } }
    let compound = try hdf5("create compound type") { H5Tcreate(H5T_COMPOUND, H5Tget_size(memberType)) }
    do {
        try hdf5("insert compound member '\(member)'") { H5Tinsert(compound, member, 0, memberType) }
    } catch {
        H5Tclose(compound)
        throw error
    }
    return compound
}

/// Reads `count` numbers via `read(memoryType, buffer)` (an `H5Dread` or `H5Aread`),
/// optionally only the compound member `member`; HDF5 converts the stored type.
/// `operation` names what is read, for errors.
func readHDF5Values<T: HDF5Scalar>(_: T.Type, count: Int, member: String? = nil,
                                   _ operation: @autoclosure () -> String,
                                   _ read: (hid_t, UnsafeMutableRawPointer) -> herr_t) throws -> [T] {
    let memoryType = try makeMemoryType(T.hdf5Type, member: member)
    defer { H5Tclose(memoryType) }
    let values = try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        if count > 0 { try hdf5(operation()) { read(memoryType, UnsafeMutableRawPointer(buffer.baseAddress!)) } }
        initialized = count
    }
    return values
}

/// Reads `count` strings stored with string type `storedType` (fixed or variable length)
/// via `read(memoryType, buffer)`, optionally only the compound member `member`.
/// `operation` names what is read, for errors.
func readHDF5Strings(storedType: hid_t, count: Int, member: String? = nil,
                     _ operation: @autoclosure () -> String,
                     _ read: (hid_t, UnsafeMutableRawPointer) -> herr_t) throws -> [String] {
    let isVariable = try hdf5("query string kind") { H5Tis_variable_str(storedType) } > 0
    let stringType = try makeStringType(byteCount: isVariable ? nil : H5Tget_size(storedType))
    defer { H5Tclose(stringType) }
    let memoryType = try makeMemoryType(stringType, member: member)
    defer { H5Tclose(memoryType) }
    guard count > 0 else { return [] }
    if isVariable {
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        try hdf5(operation()) { pointers.withUnsafeMutableBytes { read(memoryType, $0.baseAddress!) } }
        defer { pointers.forEach { H5free_memory($0) } }
        return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }
    let size = H5Tget_size(storedType)
    var bytes = [UInt8](repeating: 0, count: size * count)
    try hdf5(operation()) { bytes.withUnsafeMutableBytes { read(memoryType, $0.baseAddress!) } }
    return (0..<count).map { i in
        let slot = bytes[(i * size)..<((i + 1) * size)]
        return String(decoding: slot.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// The stored strings packed into fixed-size, zero-padded slots of `size` bytes each.
func packFixedStrings(_ strings: [String], size: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: size * strings.count)
    for (i, string) in strings.enumerated() {
        for (j, byte) in string.utf8.prefix(size).enumerated() { bytes[i * size + j] = byte }
    }
    return bytes
}

/// Calls `body` with a buffer of C string pointers (for variable-length string writes).
func withHDF5CStrings<R>(_ strings: [String], _ body: (UnsafeRawPointer?) throws -> R) rethrows -> R {
    var storage: [CChar] = []
    var offsets: [Int] = []
    for string in strings {
        offsets.append(storage.count)
        storage.append(contentsOf: string.utf8.map { CChar(bitPattern: $0) })
        storage.append(0)
    }
    return try storage.withUnsafeBufferPointer { base in
        let pointers = offsets.map { base.baseAddress! + $0 }
        return try pointers.withUnsafeBytes { try body($0.baseAddress) }
    }
}
