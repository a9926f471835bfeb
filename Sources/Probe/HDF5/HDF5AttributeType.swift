import CHDF5

extension HDF5Object {
    /// The stored element type and element count of attribute `name` (to read an attribute of unknown type).
    public func attributeInfo(_ name: String) throws -> (type: HDF5ElementType, count: Int) {
        let attribute = try hdf5("open attribute '\(name)' of '\(self.name)'") { H5Aopen(id, name, H5P_DEFAULT_ID) }
        defer { H5Aclose(attribute) }
        let type = try hdf5("get attribute type") { H5Aget_type(attribute) }
        defer { H5Tclose(type) }
        let space = try hdf5("get attribute dataspace") { H5Aget_space(attribute) }
        defer { H5Sclose(space) }
        return (try HDF5ElementType(type: type), try hdf5Extent(of: space).reduce(1, *))
    }
}
