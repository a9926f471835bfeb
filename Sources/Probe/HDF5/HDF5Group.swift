import CHDF5

/// Anything HDF5 attributes can hang on: a file (meaning its root group), a group or a dataset.
public protocol HDF5Object: AnyObject {
    /// The open HDF5 identifier; -1 once closed.
    var id: hid_t { get }
}

extension HDF5Object {
    /// The object's path in its file ("/prompt/rot_k"; "/" for a file), for messages.
    public var name: String {
        (try? hdf5String { H5Iget_name(id, $0, $1) }) ?? "<closed>"
    }
}

/// A file or group: something that holds named links to groups and datasets.
/// Paths are relative to it ("prompt/rot_k") or absolute ("/prompt/rot_k").
public protocol HDF5Container: HDF5Object {}

/// What a link in a group points at.
public enum HDF5ObjectKind: Sendable, Equatable {
    case group, dataset, namedDatatype, other
}

/// One member of a group, as listed by `HDF5Container.members()`.
public struct HDF5Member: Sendable, Equatable {
    public let name: String
    public let kind: HDF5ObjectKind
}

/// An open HDF5 group; closed by `close()` or when released.
public final class HDF5Group: HDF5Container, @unchecked Sendable {
    public private(set) var id: hid_t

    init(id: hid_t) { self.id = id }

    /// Closes the group now (idempotent).
    public func close() {
        if id >= 0 { H5Gclose(id) }
        id = -1
    }

    deinit { close() }
}

/// Calls `body` with a link creation property list that creates missing intermediate groups.
func withIntermediateGroups<R>(_ body: (hid_t) throws -> R) throws -> R {
    let plist = try hdf5("create link creation property list") { H5Pcreate(HDF5Library.ids.linkCreate) }
    defer { H5Pclose(plist) }
    try hdf5("enable intermediate group creation") { H5Pset_create_intermediate_group(plist, 1) }
    return try body(plist)
}

extension HDF5Container {
    /// Creates the group at `path`, creating missing intermediate groups ("prompt/rot_k").
    @discardableResult
    public func createGroup(_ path: String) throws -> HDF5Group {
        let groupID = try withIntermediateGroups { plist in
            try hdf5("create group '\(path)'") { H5Gcreate2(id, path, plist, H5P_DEFAULT_ID, H5P_DEFAULT_ID) }
        }
        return HDF5Group(id: groupID)
    }

    /// Opens the existing group at `path`.
    public func openGroup(_ path: String) throws -> HDF5Group {
        HDF5Group(id: try hdf5("open group '\(path)'") { H5Gopen2(id, path, H5P_DEFAULT_ID) })
    }

    /// Whether every link along `path` exists (false, not an error, when a parent is missing).
    public func exists(_ path: String) -> Bool {
        var components: [Substring] = []
        for component in path.split(separator: "/") {
            components.append(component)
            let prefix = (path.hasPrefix("/") ? "/" : "") + components.joined(separator: "/")
            guard (try? hdf5("check link '\(prefix)'") { H5Lexists(id, prefix, H5P_DEFAULT_ID) }) ?? 0 > 0 else {
                return false
            }
        }
        return true
    }

    /// The members of this group, by name, with the kind of object each link points at.
    public func members() throws -> [HDF5Member] {
        var info = H5G_info_t()
        try hdf5("query group info") { H5Gget_info(id, &info) }
        return try (0..<info.nlinks).map { index in
            let name = try hdf5String {
                H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, $0, $1, H5P_DEFAULT_ID)
            }
            var objectInfo = H5O_info_t()
            try hdf5("query object '\(name)'") {
                H5Oget_info_by_name2(id, name, &objectInfo, UInt32(H5O_INFO_BASIC), H5P_DEFAULT_ID)
            }
            let kind: HDF5ObjectKind = switch objectInfo.type {
            case H5O_TYPE_GROUP: .group
            case H5O_TYPE_DATASET: .dataset
            case H5O_TYPE_NAMED_DATATYPE: .namedDatatype
            default: .other
            }
            return HDF5Member(name: name, kind: kind)
        }
    }
}
