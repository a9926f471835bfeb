import CHDF5

extension HDF5Object {
    /// The stored element type and element count of attribute `name` (to read an attribute of unknown type).
    public func attributeInfo(_ name: String) throws -> (type: HDF5ElementType, count: Int) {
        try withAttribute(name) { _, type, count in (try HDF5ElementType(type: type), count) }
    }
}
