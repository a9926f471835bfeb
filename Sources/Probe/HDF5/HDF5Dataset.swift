import CHDF5

/// An open HDF5 dataset; closed by `close()` or when released.
public final class HDF5Dataset: HDF5Object, @unchecked Sendable {
    public private(set) var id: hid_t

    init(id: hid_t) { self.id = id }

    /// Closes the dataset now (idempotent).
    public func close() {
        if id >= 0 { H5Dclose(id) }
        id = -1
    }

    deinit { close() }

    /// The current extent; `[]` for a scalar dataset.
    public var shape: [Int] {
        get throws {
            let space = try hdf5("get dataspace of '\(name)'") { H5Dget_space(id) }
            defer { H5Sclose(space) }
            return try hdf5Extent(of: space)
        }
    }

    /// The stored element type.
    public var elementType: HDF5ElementType {
        get throws { try withStoredType { try HDF5ElementType(type: $0) } }
    }

    /// Reads every element (row-major), converting from the stored numeric type to `T`.
    public func read<T: HDF5Scalar>(_ type: T.Type = T.self) throws -> [T] {
        try readHDF5Values(T.self, count: shape.reduce(1, *), "read '\(name)'") {
            H5Dread(id, $0, H5S_ALL_ID, H5S_ALL_ID, H5P_DEFAULT_ID, $1)
        }
    }

    /// Reads a scalar or 1-D string dataset (fixed or variable length).
    public func readStrings() throws -> [String] {
        let count = try shape.reduce(1, *)
        return try withStoredType { stored in
            try readHDF5Strings(storedType: stored, count: count, "read strings of '\(name)'") {
                H5Dread(id, $0, H5S_ALL_ID, H5S_ALL_ID, H5P_DEFAULT_ID, $1)
            }
        }
    }

    /// Appends `rows` (flattened, a whole number of rows) along the first axis of a dataset
    /// made by `createResizableDataset`.
    public func append<T: HDF5Scalar>(_ rows: [T]) throws {
        guard !rows.isEmpty else { return }
        let current = try shape
        let rowSize = current.dropFirst().reduce(1, *)
        guard !current.isEmpty, rowSize > 0, rows.count % rowSize == 0 else {
            throw HDF5Error(operation: "append to '\(name)'",
                            message: "\(rows.count) values are not whole rows of shape \(current.dropFirst())")
        }
        let added = [rows.count / rowSize] + current.dropFirst()
        let start = [current[0]] + current.dropFirst().map { _ in 0 }
        try hdf5("extend '\(name)'") { H5Dset_extent(id, hdf5Sizes([current[0] + added[0]] + current.dropFirst())) }
        let fileSpace = try hdf5("get dataspace") { H5Dget_space(id) }
        defer { H5Sclose(fileSpace) }
        try hdf5("select appended rows") {
            H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, hdf5Sizes(start), nil, hdf5Sizes(added), nil)
        }
        let memorySpace = try hdf5("create dataspace") { H5Screate_simple(Int32(added.count), hdf5Sizes(added), nil) }
        defer { H5Sclose(memorySpace) }
        _ = try rows.withUnsafeBytes { buffer in
            try hdf5("append rows to '\(name)'") {
                H5Dwrite(id, T.hdf5Type, memorySpace, fileSpace, H5P_DEFAULT_ID, buffer.baseAddress)
            }
        }
    }

    /// Writes this dataset's file to disk (data and metadata), so appended rows survive a crash.
    public func flush() throws {
        try hdf5("flush the file of '\(name)'") { H5Fflush(id, H5F_SCOPE_LOCAL) }
    }

    /// Calls `body` with the stored datatype.
    func withStoredType<R>(_ body: (hid_t) throws -> R) throws -> R {
        let type = try hdf5("get datatype of '\(name)'") { H5Dget_type(id) }
        defer { H5Tclose(type) }
        return try body(type)
    }

    /// Writes the whole dataset from `buffer`, laid out as `memoryType`.
    func writeAll(_ memoryType: hid_t, _ buffer: UnsafeRawPointer?) throws {
        try hdf5("write '\(name)'") { H5Dwrite(id, memoryType, H5S_ALL_ID, H5S_ALL_ID, H5P_DEFAULT_ID, buffer) }
    }
}

/// `[Int]` as HDF5 `hsize_t` dimensions.
func hdf5Sizes(_ values: [Int]) -> [hsize_t] { values.map { hsize_t($0) } }

/// The extent of a dataspace; `[]` when scalar.
func hdf5Extent(of space: hid_t) throws -> [Int] {
    let rank = try hdf5("get rank") { H5Sget_simple_extent_ndims(space) }
    var dims = [hsize_t](repeating: 0, count: Int(rank))
    try hdf5("get extent") { H5Sget_simple_extent_dims(space, &dims, nil) }
    return dims.map { Int($0) }
}

/// Chunk shape for compressed storage: whole trailing dimensions, leading ones cut so a
/// chunk stays within `targetBytes`.
func hdf5ChunkShape(_ shape: [Int], elementSize: Int, targetBytes: Int = 1 << 20) -> [Int] {
    var chunk = shape.map { max(1, $0) }
    for axis in chunk.indices {
        let rest = elementSize * chunk[(axis + 1)...].reduce(1, *)
        if chunk[axis] * rest <= targetBytes { break }
        chunk[axis] = max(1, targetBytes / rest)
    }
    return chunk
}

extension HDF5Container {
    /// Creates a dataset at `path` (intermediate groups created) with its `description`
    /// attribute. `chunk` nil means contiguous; otherwise chunked with shuffle + gzip level 4.
    /// `growable` makes the first axis unlimited.
    func makeDataset(_ path: String, type: hid_t, shape: [Int], chunk: [Int]?, growable: Bool = false,
                     description: String) throws -> HDF5Dataset {
        let space = try hdf5("create dataspace for '\(path)'") {
            if shape.isEmpty { return H5Screate(H5S_SCALAR) }
            let maxShape = shape.indices.map { $0 == 0 && growable ? H5S_UNLIMITED_SIZE : hsize_t(shape[$0]) }
            return H5Screate_simple(Int32(shape.count), hdf5Sizes(shape), maxShape)
        }
        defer { H5Sclose(space) }
        let plist = try hdf5("create dataset creation property list") { H5Pcreate(HDF5Library.ids.datasetCreate) }
        defer { H5Pclose(plist) }
        if let chunk {
            try hdf5("set chunk shape \(chunk) for '\(path)'") {
                H5Pset_chunk(plist, Int32(chunk.count), hdf5Sizes(chunk))
            }
            try hdf5("enable shuffle filter") { H5Pset_shuffle(plist) }
            try hdf5("enable gzip filter") { H5Pset_deflate(plist, 4) }
        }
        let datasetID = try withIntermediateGroups { links in
            try hdf5("create dataset '\(path)'") { H5Dcreate2(id, path, type, space, links, plist, H5P_DEFAULT_ID) }
        }
        let dataset = HDF5Dataset(id: datasetID)
        try dataset.setAttribute("description", description)
        return dataset
    }

    /// Creates an n-dimensional numeric dataset from row-major `values` of the given `shape`
    /// (`[]` for a scalar), chunked and gzip-compressed.
    @discardableResult
    public func createDataset<T: HDF5Scalar>(_ path: String, values: [T], shape: [Int],
                                             description: String) throws -> HDF5Dataset {
        guard values.count == shape.reduce(1, *) else {
            throw HDF5Error(operation: "create dataset '\(path)'",
                            message: "\(values.count) values do not fill shape \(shape)")
        }
        let compressible = !shape.isEmpty && !shape.contains(0)
        let chunk = compressible ? hdf5ChunkShape(shape, elementSize: MemoryLayout<T>.stride) : nil
        let dataset = try makeDataset(path, type: T.hdf5Type, shape: shape, chunk: chunk, description: description)
        if !values.isEmpty { try values.withUnsafeBytes { try dataset.writeAll(T.hdf5Type, $0.baseAddress) } }
        return dataset
    }

    /// Creates an empty numeric dataset of shape `[0] + rowShape` whose first axis grows with
    /// `HDF5Dataset.append`; chunks hold `chunkRows` rows (default: about 64 KiB).
    @discardableResult
    public func createResizableDataset<T: HDF5Scalar>(_ path: String, of _: T.Type, rowShape: [Int] = [],
                                                      chunkRows: Int? = nil,
                                                      description: String) throws -> HDF5Dataset {
        let rowBytes = MemoryLayout<T>.stride * rowShape.reduce(1, *)
        let rows = chunkRows ?? max(1, (64 << 10) / max(1, rowBytes))
        return try makeDataset(path, type: T.hdf5Type, shape: [0] + rowShape, chunk: [rows] + rowShape,
                               growable: true, description: description)
    }

    /// Creates a 1-D variable-length UTF-8 string dataset.
    @discardableResult
    public func createStringDataset(_ path: String, values: [String], description: String) throws -> HDF5Dataset {
        try makeStringDataset(path, values, shape: [values.count], description: description)
    }

    /// Creates a scalar variable-length UTF-8 string dataset.
    @discardableResult
    public func createStringDataset(_ path: String, value: String, description: String) throws -> HDF5Dataset {
        try makeStringDataset(path, [value], shape: [], description: description)
    }

    private func makeStringDataset(_ path: String, _ values: [String], shape: [Int],
                                   description: String) throws -> HDF5Dataset {
        let type = try makeStringType(byteCount: nil)
        defer { H5Tclose(type) }
        let dataset = try makeDataset(path, type: type, shape: shape, chunk: nil, description: description)
        if !values.isEmpty { try withHDF5CStrings(values) { try dataset.writeAll(type, $0) } }
        return dataset
    }

    /// Opens the existing dataset at `path`.
    public func openDataset(_ path: String) throws -> HDF5Dataset {
        HDF5Dataset(id: try hdf5("open dataset '\(path)'") { H5Dopen2(id, path, H5P_DEFAULT_ID) })
    }
}
