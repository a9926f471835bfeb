@preconcurrency import CHDF5

/// Files built in memory (HDF5's core driver without a backing store) and written out as one image.
///
/// Nothing touches the disk while the file is built, so a full disk or a vanished directory cannot leave
/// the library with a half-closed file (HDF5 1.10 then crashes at exit); the caller writes `image()` with
/// ordinary, checkable writes.
extension HDF5File {
    /// Creates an empty file in memory; `name` only labels it in messages and in HDF5's own records.
    public static func createInMemory(name: String) throws -> HDF5File {
        _ = HDF5Library.ids
        let access = try hdf5("create file access property list") { H5Pcreate(H5P_CLS_FILE_ACCESS_ID_g) }
        defer { H5Pclose(access) }
        try hdf5("select the in-memory (core) driver") { H5Pset_fapl_core(access, 4 << 20, false) }
        let id = try hdf5("create in-memory HDF5 file '\(name)'") {
            H5Fcreate(name, 2 /* H5F_ACC_TRUNC */, H5P_DEFAULT_ID, access)
        }
        return HDF5File(id: id, path: name)
    }

    /// The complete file as bytes (flushed first): what `open` would read back from disk.
    public func image() throws -> [UInt8] {
        try flush()
        let size = try hdf5("measure the image of '\(path)'") { H5Fget_file_image(id, nil, 0) }
        var bytes = [UInt8](repeating: 0, count: size)
        let written = try hdf5("copy the image of '\(path)'") {
            bytes.withUnsafeMutableBytes { H5Fget_file_image(id, $0.baseAddress, size) }
        }
        return Array(bytes.prefix(written))
    }
}
