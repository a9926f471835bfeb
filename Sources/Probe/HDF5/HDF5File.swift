import CHDF5

/// An open HDF5 file. As an `HDF5Container` it is its root group; attributes set on it are
/// root-group attributes. Closed by `close()` or when released (HDF5 keeps the file open
/// until groups and datasets opened from it are closed too).
public final class HDF5File: HDF5Container, @unchecked Sendable {
    /// How an existing file is opened.
    public enum Mode: Sendable { case readOnly, readWrite }

    public private(set) var id: hid_t
    /// The path the file was created or opened with.
    public let path: String

    init(id: hid_t, path: String) {
        self.id = id
        self.path = path
    }

    /// Creates a new file at `path`, truncating any existing file.
    public static func create(_ path: String) throws -> HDF5File {
        let id = try hdf5("create HDF5 file '\(path)'") {
            H5Fcreate(path, 2 /* H5F_ACC_TRUNC */, H5P_DEFAULT_ID, H5P_DEFAULT_ID)
        }
        return HDF5File(id: id, path: path)
    }

    /// Opens the existing HDF5 file at `path`.
    public static func open(_ path: String, mode: Mode = .readOnly) throws -> HDF5File {
        let (flags, wording): (UInt32, String) = mode == .readOnly ? (0, "read-only") : (1, "read-write")
        let id = try hdf5("open HDF5 file '\(path)' \(wording)") { H5Fopen(path, flags, H5P_DEFAULT_ID) }
        return HDF5File(id: id, path: path)
    }

    /// Writes buffered data and metadata of the whole file to disk.
    public func flush() throws {
        try hdf5("flush HDF5 file '\(path)'") { H5Fflush(id, H5F_SCOPE_GLOBAL) }
    }

    /// Closes the file handle now (idempotent).
    public func close() {
        if id >= 0 { H5Fclose(id) }
        id = -1
    }

    deinit { close() }
}
