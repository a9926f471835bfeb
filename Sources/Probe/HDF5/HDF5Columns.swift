/// A table written as a group of 1-D datasets over one dimension (`cells/` over `cell`, `summary/` over `summary_row`):
/// one dataset per column, each attached to the dimension's scale, so h5py, pandas and xarray read it column by column
/// with no compound type to take apart. Integers are int64 unless a column asks for int32.
public struct HDF5Columns {
    public let file: HDF5File
    public let group: String
    public let dimension: String
    public let rows: Int

    /// Columns under `group` over the root dimension scale `dimension` (which must exist) of `rows` entries.
    public init(file: HDF5File, group: String, dimension: String, rows: Int) {
        self.file = file
        self.group = group
        self.dimension = dimension
        self.rows = rows
    }

    public func strings(_ name: String, _ values: [String], _ description: String) throws {
        try file.createStringDataset(path(name), values: values, description: description).attachScales([dimension])
    }

    public func int64s(_ name: String, _ values: [Int], _ description: String) throws {
        try numbers(name, values.map(Int64.init), description)
    }

    public func int32s(_ name: String, _ values: [Int], _ description: String) throws {
        try numbers(name, values.map(Int32.init), description)
    }

    public func doubles(_ name: String, _ values: [Double], _ description: String) throws {
        try numbers(name, values, description)
    }

    private func numbers<T: HDF5Scalar>(_ name: String, _ values: [T], _ description: String) throws {
        let dataset = try file.createDataset(path(name), values: values, shape: [rows], description: description)
        try dataset.attachScales([dimension])
        dataset.close()
    }

    private func path(_ name: String) -> String { group + "/" + name }
}
