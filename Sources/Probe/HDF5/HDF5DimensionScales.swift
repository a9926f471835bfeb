import CHDF5

/// Dimension scales (HDF5 H5DS) laid out the netCDF-4 way, so that
/// `xarray.open_dataset(path, engine="h5netcdf")` shows named dimensions: each dimension is
/// a root-level 1-D dataset named after it and marked as a scale; tensors attach one per axis.
extension HDF5File {
    /// Creates dimension `name` as a root-level coordinate dataset holding `values`.
    @discardableResult
    public func makeDimensionScale<T: HDF5Scalar>(name: String, values: [T],
                                                  description: String) throws -> HDF5Dataset {
        let scale = try createDataset("/" + name, values: values, shape: [values.count], description: description)
        try hdf5("make '\(name)' a dimension scale") { H5DSset_scale(scale.id, name) }
        return scale
    }

    /// Creates dimension `name` of `size` without coordinate values: netCDF-4's "dimension
    /// but not a variable", which h5netcdf lists as a dimension but not as a variable.
    @discardableResult
    public func makeDimensionScale(name: String, size: Int, description: String) throws -> HDF5Dataset {
        let scale = try makeDataset("/" + name, type: Float.hdf5Type, shape: [size], chunk: nil,
                                    description: description)
        let sizeText = String(size)
        let marker = "This is a netCDF dimension but not a netCDF variable."
            + String(repeating: " ", count: max(0, 10 - sizeText.count)) + sizeText
        try hdf5("make '\(name)' a dimension scale") { H5DSset_scale(scale.id, marker) }
        return scale
    }
}

extension HDF5Dataset {
    /// Attaches the root-level dimension scales `names` to this dataset's axes, in order, and
    /// labels each axis with its dimension name.
    public func attachScales(_ names: [String]) throws {
        let rank = try shape.count
        guard names.count == rank else {
            throw HDF5Error(operation: "attach dimension scales \(names) to '\(name)'",
                            message: "dataset has \(rank) dimensions, not \(names.count)")
        }
        for (axis, dimension) in names.enumerated() {
            let scale = try hdf5("open dimension scale '/\(dimension)'") {
                H5Dopen2(id, "/" + dimension, H5P_DEFAULT_ID)
            }
            defer { H5Dclose(scale) }
            try hdf5("attach dimension scale '\(dimension)' to axis \(axis) of '\(name)'") {
                H5DSattach_scale(id, scale, UInt32(axis))
            }
            try hdf5("label axis \(axis) of '\(name)'") { H5DSset_label(id, UInt32(axis), dimension) }
        }
    }

    /// The axis labels set by `attachScales` ("" for an unlabelled axis).
    public func dimensionLabels() throws -> [String] {
        try (0..<shape.count).map { axis in
            try hdf5String { H5DSget_label(id, UInt32(axis), $0, $1) }
        }
    }
}
