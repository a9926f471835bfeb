import CHDF5

/// An HDF5 failure: what this layer was doing, plus HDF5's own error stack rendered as text.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// What was being attempted, e.g. "open HDF5 file '/tmp/x.h5' read-only".
    public let operation: String
    /// HDF5's error stack (innermost detail last), or this layer's own explanation.
    public let message: String

    public init(operation: String, message: String) {
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }
}

extension HDF5Error {
    /// An error for `operation` carrying the current thread's HDF5 error stack, which is then cleared.
    init(operation: String) {
        self.init(operation: operation, message: HDF5Error.takeErrorStack())
    }

    /// The current thread's HDF5 error stack as text (outermost call first), then cleared.
    private static func takeErrorStack() -> String {
        final class Records { var items: [(function: String, detail: String, major: hid_t, minor: hid_t)] = [] }
        let records = Records()
        _ = H5Ewalk2(H5E_DEFAULT_ID, H5E_WALK_DOWNWARD, { _, error, data in
            guard let error, let data else { return 0 }
            let e = error.pointee
            Unmanaged<Records>.fromOpaque(data).takeUnretainedValue().items.append((
                e.func_name.map { String(cString: $0) } ?? "?",
                e.desc.map { String(cString: $0) } ?? "",
                e.maj_num, e.min_num))
            return 0
        }, Unmanaged.passUnretained(records).toOpaque())
        _ = H5Eclear2(H5E_DEFAULT_ID)
        if records.items.isEmpty { return "HDF5 reported no error detail" }
        return records.items.map { item in
            let major = (try? hdf5String { H5Eget_msg(item.major, nil, $0, $1) }) ?? ""
            let minor = (try? hdf5String { H5Eget_msg(item.minor, nil, $0, $1) }) ?? ""
            return "\(item.function)(): \(item.detail) [\(major): \(minor)]"
        }.joined(separator: "; ")
    }
}
