import CHDF5

/// One named column of a compound table (`HDF5Container.createTable`).
public enum HDF5Column: Sendable {
    /// Fixed-length UTF-8 strings, sized to the longest value.
    case string(String, [String])
    case int64(String, [Int64])
    case double(String, [Double])

    public var name: String {
        switch self {
        case .string(let name, _), .int64(let name, _), .double(let name, _): name
        }
    }

    var count: Int {
        switch self {
        case .string(_, let values): values.count
        case .int64(_, let values): values.count
        case .double(_, let values): values.count
        }
    }

    /// Bytes one value takes in a row.
    var byteSize: Int {
        switch self {
        case .string(_, let values): max(1, values.map(\.utf8.count).max() ?? 1)
        case .int64, .double: 8
        }
    }

    /// Copies value `row` to `destination`.
    func store(row: Int, to destination: UnsafeMutableRawPointer) {
        switch self {
        case .string(_, let values):
            packFixedStrings([values[row]], size: byteSize).withUnsafeBytes {
                destination.copyMemory(from: $0.baseAddress!, byteCount: $0.count)
            }
        case .int64(_, let values): destination.storeBytes(of: values[row], as: Int64.self)
        case .double(_, let values): destination.storeBytes(of: values[row], as: Double.self)
        }
    }

    /// The HDF5 member type; the caller closes it.
    func makeType() throws -> hid_t {
        switch self {
        case .string: try makeStringType(byteCount: byteSize)
        case .int64: try hdf5("copy int64 type") { H5Tcopy(Int64.hdf5Type) }
        case .double: try hdf5("copy double type") { H5Tcopy(Double.hdf5Type) }
        }
    }
}

extension HDF5Container {
    /// Creates a 1-D table of a packed compound type, one member per column (read by h5py
    /// as a structured array), chunked and gzip-compressed.
    @discardableResult
    public func createTable(_ path: String, columns: [HDF5Column], description: String) throws -> HDF5Dataset {
        let rows = columns.first?.count ?? 0
        guard !columns.isEmpty, columns.allSatisfy({ $0.count == rows }) else {
            throw HDF5Error(operation: "create table '\(path)'",
                            message: "columns must be non-empty and of equal length, got \(columns.map(\.count))")
        }
        let offsets = columns.reduce(into: [0]) { $0.append($0.last! + $1.byteSize) }
        let rowSize = offsets.last!
        let type = try hdf5("create compound type") { H5Tcreate(H5T_COMPOUND, rowSize) }
        defer { H5Tclose(type) }
        for (column, offset) in zip(columns, offsets) {
            let member = try column.makeType()
            defer { H5Tclose(member) }
            try hdf5("insert column '\(column.name)'") { H5Tinsert(type, column.name, offset, member) }
        }
        var bytes = [UInt8](repeating: 0, count: rowSize * rows)
        bytes.withUnsafeMutableBytes { buffer in
            for row in 0..<rows {
                for (column, offset) in zip(columns, offsets) {
                    column.store(row: row, to: buffer.baseAddress! + row * rowSize + offset)
                }
            }
        }
        let chunk = rows > 0 ? hdf5ChunkShape([rows], elementSize: rowSize) : nil
        let dataset = try makeDataset(path, type: type, shape: [rows], chunk: chunk, description: description)
        if rows > 0 { try bytes.withUnsafeBytes { try dataset.writeAll(type, $0.baseAddress) } }
        return dataset
    }
}

extension HDF5Dataset {
    /// The member names of a compound (table) dataset, in order.
    public func columnNames() throws -> [String] {
        try withStoredType { type in
            let count = try hdf5("count compound members") { H5Tget_nmembers(type) }
            return (0..<UInt32(count)).map { index in
                guard let member = H5Tget_member_name(type, index) else { return "" }
                defer { H5free_memory(member) }
                return String(cString: member)
            }
        }
    }

    /// Reads numeric column `column` of a table, converted to `T`.
    public func readColumn<T: HDF5Scalar>(_ column: String, as _: T.Type = T.self) throws -> [T] {
        let count = try shape.reduce(1, *)
        return try withColumnType(column) { _ in
            try readHDF5Values(T.self, count: count, member: column, "read column '\(column)' of '\(name)'") {
                H5Dread(id, $0, H5S_ALL_ID, H5S_ALL_ID, H5P_DEFAULT_ID, $1)
            }
        }
    }

    /// Reads string column `column` of a table.
    public func readStringColumn(_ column: String) throws -> [String] {
        let count = try shape.reduce(1, *)
        return try withColumnType(column) { stored in
            try readHDF5Strings(storedType: stored, count: count, member: column,
                                "read column '\(column)' of '\(name)'") {
                H5Dread(id, $0, H5S_ALL_ID, H5S_ALL_ID, H5P_DEFAULT_ID, $1)
            }
        }
    }

    /// Calls `body` with the stored type of column `column`; fails if there is no such column
    /// (HDF5 itself would silently skip it).
    private func withColumnType<R>(_ column: String, _ body: (hid_t) throws -> R) throws -> R {
        try withStoredType { type in
            let index = try hdf5("find column '\(column)' of '\(name)'") { H5Tget_member_index(type, column) }
            let member = try hdf5("get type of column '\(column)'") { H5Tget_member_type(type, UInt32(index)) }
            defer { H5Tclose(member) }
            return try body(member)
        }
    }
}
