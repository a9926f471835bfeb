import Foundation

/// The bytes a `GGUFFile` parses: a read-only memory map of a file, or a private copy of bytes held in memory
/// (the fuzzing targets parse thousands of inputs a second without touching the disk). Released with the owner.
final class GGUFBytes: @unchecked Sendable {
    let base: UnsafeRawPointer
    let count: Int
    private let mapped: Bool

    /// Maps the file at `path` read-only; throws a `GGUFError` naming the file when it cannot be opened or mapped.
    init(mapping path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw GGUFError(path: path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GGUFError(path: path, "cannot stat: \(String(cString: strerror(errno)))") }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw GGUFError(path: path, "is a directory, not a GGUF file") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw GGUFError(path: path, "is not a regular file") }
        let size = Int(st.st_size)
        guard size >= 8 else { throw GGUFError(path: path, "truncated: \(size) bytes is too short for a GGUF header") }
        guard let memory = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), memory != MAP_FAILED else {
            throw GGUFError(path: path, "cannot map: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(memory)
        count = size
        mapped = true
    }

    /// A private copy of `bytes`.
    init(copying bytes: UnsafeRawBufferPointer) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 64)
        if let source = bytes.baseAddress, bytes.count > 0 { memory.copyMemory(from: source, byteCount: bytes.count) }
        base = UnsafeRawPointer(memory)
        count = bytes.count
        mapped = false
    }

    deinit {
        if mapped { munmap(UnsafeMutableRawPointer(mutating: base), count) } else { base.deallocate() }
    }
}
