import CHDF5

/// Attributes on files (their root group), groups and datasets. Setting an attribute that
/// already exists replaces it. Strings are stored as variable-length UTF-8 scalars, which
/// h5py reads as `str` (fixed-length ones come back as `numpy.bytes_`); h5dump, netCDF and
/// h5netcdf/xarray read either kind.
extension HDF5Object {
    /// Sets a string attribute.
    public func setAttribute(_ name: String, _ value: String) throws {
        let type = try makeStringType(byteCount: nil)
        defer { H5Tclose(type) }
        try withHDF5CStrings([value]) { try writeAttribute(name, type: type, shape: nil, $0) }
    }

    /// Sets a scalar numeric attribute (`Int` is stored as Int64).
    public func setAttribute<T: HDF5Scalar>(_ name: String, _ value: T) throws {
        try withUnsafeBytes(of: value) { try writeAttribute(name, type: T.hdf5Type, shape: nil, $0.baseAddress) }
    }

    /// Sets a 1-D numeric array attribute.
    public func setAttribute<T: HDF5Scalar>(_ name: String, _ values: [T]) throws {
        try values.withUnsafeBytes {
            try writeAttribute(name, type: T.hdf5Type, shape: [values.count], $0.baseAddress)
        }
    }

    /// Reads a scalar string attribute (fixed or variable length).
    public func stringAttribute(_ name: String) throws -> String {
        try single(name, withAttribute(name) { attribute, type, count in
            try readHDF5Strings(storedType: type, count: count, "read attribute '\(name)' of '\(self.name)'") {
                H5Aread(attribute, $0, $1)
            }
        })
    }

    /// Reads a scalar numeric attribute, converted to `T`.
    public func attribute<T: HDF5Scalar>(_ name: String, as _: T.Type = T.self) throws -> T {
        try single(name, arrayAttribute(name, as: T.self))
    }

    /// Reads a numeric attribute of any shape as a flat array, converted to `T`.
    public func arrayAttribute<T: HDF5Scalar>(_ name: String, as _: T.Type = T.self) throws -> [T] {
        try withAttribute(name) { attribute, _, count in
            try readHDF5Values(T.self, count: count, "read attribute '\(name)' of '\(self.name)'") {
                H5Aread(attribute, $0, $1)
            }
        }
    }

    /// Whether an attribute called `name` exists.
    public func hasAttribute(_ name: String) throws -> Bool {
        try hdf5("check attribute '\(name)' of '\(self.name)'") { H5Aexists(id, name) } > 0
    }

    /// The names of all attributes, in name order.
    public func attributeNames() throws -> [String] {
        var info = H5O_info_t()
        try hdf5("query attribute count") { H5Oget_info2(id, &info, UInt32(H5O_INFO_NUM_ATTRS)) }
        return try (0..<info.num_attrs).map { index in
            try hdf5String {
                H5Aget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, $0, $1, H5P_DEFAULT_ID)
            }
        }
    }

    /// Replaces attribute `name` with one of `type` and `shape` (nil: scalar) written from `buffer`.
    private func writeAttribute(_ name: String, type: hid_t, shape: [Int]?, _ buffer: UnsafeRawPointer?) throws {
        if try hasAttribute(name) { try hdf5("delete attribute '\(name)' of '\(self.name)'") { H5Adelete(id, name) } }
        let space = try hdf5("create attribute dataspace") {
            shape.map { H5Screate_simple(Int32($0.count), hdf5Sizes($0), nil) } ?? H5Screate(H5S_SCALAR)
        }
        defer { H5Sclose(space) }
        let attribute = try hdf5("create attribute '\(name)' of '\(self.name)'") {
            H5Acreate2(id, name, type, space, H5P_DEFAULT_ID, H5P_DEFAULT_ID)
        }
        defer { H5Aclose(attribute) }
        try hdf5("write attribute '\(name)' of '\(self.name)'") { H5Awrite(attribute, type, buffer) }
    }

    /// Calls `body` with attribute `name`, its stored type and its element count.
    func withAttribute<R>(_ name: String, _ body: (hid_t, hid_t, Int) throws -> R) throws -> R {
        let attribute = try hdf5("open attribute '\(name)' of '\(self.name)'") { H5Aopen(id, name, H5P_DEFAULT_ID) }
        defer { H5Aclose(attribute) }
        let type = try hdf5("get attribute type") { H5Aget_type(attribute) }
        defer { H5Tclose(type) }
        let space = try hdf5("get attribute dataspace") { H5Aget_space(attribute) }
        defer { H5Sclose(space) }
        return try body(attribute, type, try hdf5Extent(of: space).reduce(1, *))
    }

    private func single<V>(_ name: String, _ values: [V]) throws -> V {
        guard values.count == 1, let value = values.first else {
            throw HDF5Error(operation: "read attribute '\(name)'", message: "holds \(values.count) values, not one")
        }
        return value
    }
}
