@preconcurrency import CHDF5

/// Library-owned ids that `H5open()` fills in: what the C macros `H5T_NATIVE_FLOAT`,
/// `H5T_C_S1`, `H5P_LINK_CREATE`, ... expand to. Read once; they never change afterwards.
struct HDF5IDs: Sendable {
    let float: hid_t, double: hid_t, uint8: hid_t, int32: hid_t, int64: hid_t, cString: hid_t
    let linkCreate: hid_t, datasetCreate: hid_t
}

/// Library set-up shared by every call into HDF5.
enum HDF5Library {
    /// The library's predefined ids (this file alone touches HDF5's C globals).
    static let ids: HDF5IDs = {
        _ = H5open()
        return HDF5IDs(float: H5T_NATIVE_FLOAT_g, double: H5T_NATIVE_DOUBLE_g, uint8: H5T_NATIVE_UINT8_g, int32: H5T_NATIVE_INT32_g,
                       int64: H5T_NATIVE_INT64_g, cString: H5T_C_S1_g,
                       linkCreate: H5P_CLS_LINK_CREATE_ID_g, datasetCreate: H5P_CLS_DATASET_CREATE_ID_g)
    }()

    /// Initialises the library and silences HDF5's automatic stderr error printing. The
    /// Debian build is thread-safe, where the automatic printer is a per-thread setting,
    /// so this is cheap enough to repeat before every call (see `hdf5(_:_:)`).
    static func prepare() {
        _ = ids
        _ = H5Eset_auto2(H5E_DEFAULT_ID, nil, nil)
    }
}

/// `H5E_DEFAULT`, `H5P_DEFAULT`, `H5S_ALL`: macros Swift does not import (all are `(hid_t)0`).
let H5E_DEFAULT_ID: hid_t = 0
let H5P_DEFAULT_ID: hid_t = 0
let H5S_ALL_ID: hid_t = 0

/// Runs one HDF5 C call; a negative result (HDF5's failure convention for `hid_t`, `herr_t`,
/// `htri_t` and `ssize_t`) becomes an `HDF5Error` carrying HDF5's error stack.
@discardableResult
func hdf5<R: BinaryInteger>(_ operation: @autoclosure () -> String, _ call: () throws -> R) throws -> R {
    HDF5Library.prepare()
    let result = try call()
    if result < 0 {
        throw HDF5Error(operation: operation())
    }
    return result
}

/// Reads a string from the C "ask for the length, then fill a buffer" idiom
/// (`H5Lget_name_by_idx`, `H5Aget_name_by_idx`, `H5Eget_msg`, `H5DSget_label`, ...).
func hdf5String(_ fill: (UnsafeMutablePointer<CChar>?, Int) -> Int) throws -> String {
    let length = try hdf5("query string length") { fill(nil, 0) }
    var buffer = [CChar](repeating: 0, count: length + 1)
    try hdf5("read string") { buffer.withUnsafeMutableBufferPointer { fill($0.baseAddress, $0.count) } }
    return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
