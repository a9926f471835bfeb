import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An output file written under a temporary name beside its target and renamed onto it only when complete,
/// so a killed or failed run never leaves a file under the target name.
///
/// The temporary file is `.<name>.tmp-<pid>` in the target's directory (same file system, so the rename
/// is atomic). `init` checks the target before any long work starts: an existing target is refused unless
/// `overwrite`, and the directory must exist and be writable (the temporary file is created there at once).
/// `commit()` flushes the data to disk (`fsync`), renames, and syncs the directory; `discard()` removes
/// the temporary file. Temporary files left by killed runs (whose process no longer exists) are removed
/// when a new output is opened in the same directory.
public final class AtomicOutputFile {
    /// Where the finished file goes.
    public let targetPath: String
    /// Where it is written meanwhile.
    public let temporaryPath: String
    private var finished = false

    /// Checks `path` and creates the temporary file beside it.
    public init(path: String, overwrite: Bool) throws {
        let target = URL(fileURLWithPath: path).standardizedFileURL
        let directory = target.deletingLastPathComponent().path
        let name = target.lastPathComponent
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: target.path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw ProbeError("\(path): is a directory, not an output file") }
            if !overwrite { throw ProbeError("\(path): already exists (use --force to replace it)") }
        }
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ProbeError("\(path): the directory \(directory) does not exist")
        }
        targetPath = target.path
        temporaryPath = URL(fileURLWithPath: directory).appendingPathComponent(".\(name).tmp-\(getpid())").path
        Self.removeStaleTemporaries(directory: directory, name: name)
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw ProbeError("\(path): cannot write in \(directory): \(String(cString: strerror(errno)))")
        }
        close(fd)
    }

    deinit { if !finished { discard() } }

    /// Writes `bytes` as the whole content of the temporary file. A failed write (a full disk, say) removes
    /// the temporary file and throws an error naming the target and the cause.
    public func write(_ bytes: [UInt8]) throws {
        precondition(!finished, "AtomicOutputFile written after commit or discard")
        let fd = open(temporaryPath, O_WRONLY | O_TRUNC)
        guard fd >= 0 else {
            let cause = String(cString: strerror(errno))
            discard()
            throw ProbeError("\(targetPath): cannot open the temporary file \(temporaryPath): \(cause)")
        }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let cause = count < 0 ? String(cString: strerror(errno)) : "nothing written"
                discard()
                throw ProbeError("\(targetPath): writing \(bytes.count) bytes failed after \(offset): \(cause)")
            }
            offset += count
        }
    }

    /// Makes the temporary file durable and renames it onto the target.
    public func commit() throws {
        precondition(!finished, "AtomicOutputFile committed or discarded twice")
        do {
            try Self.sync(path: temporaryPath, what: "the output")
            guard rename(temporaryPath, targetPath) == 0 else {
                throw ProbeError("\(targetPath): cannot rename the finished file into place: \(String(cString: strerror(errno)))")
            }
            finished = true
            // The rename itself is durable once the directory is synced; failing that is not worth an error.
            try? Self.sync(path: URL(fileURLWithPath: targetPath).deletingLastPathComponent().path, what: "the directory")
        } catch {
            discard()
            throw error
        }
    }

    /// Removes the temporary file (idempotent; the target is never touched).
    public func discard() {
        guard !finished else { return }
        finished = true
        unlink(temporaryPath)
    }

    /// `fsync` of a file or directory.
    private static func sync(path: String, what: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ProbeError("\(path): cannot open \(what) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ProbeError("\(path): cannot sync \(what) to disk: \(String(cString: strerror(errno)))") }
    }

    /// Removes `.<name>.tmp-<pid>` files of processes that no longer exist.
    private static func removeStaleTemporaries(directory: String, name: String) {
        let prefix = ".\(name).tmp-"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for entry in entries where entry.hasPrefix(prefix) {
            guard let pid = Int32(entry.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                unlink(URL(fileURLWithPath: directory).appendingPathComponent(entry).path)
            }
        }
    }
}

/// Removes one temporary output file when the process is interrupted (SIGINT, SIGTERM, SIGHUP), then exits
/// with the conventional status 128 + signal. SIGKILL cannot be caught; a file it leaves is only ever
/// under the temporary name, and the next run in the same directory removes it.
public enum InterruptCleanup {
    nonisolated(unsafe) private static var pathToRemove: UnsafeMutablePointer<CChar>?

    /// Installs the handlers for `output`'s temporary file (the last call wins).
    public static func install(for output: AtomicOutputFile) {
        let previous = pathToRemove
        pathToRemove = strdup(output.temporaryPath)
        free(previous)
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { received in
                if let path = InterruptCleanup.pathToRemove { unlink(path) }
                _exit(128 + received)
            }
        }
    }

    /// Restores the default handlers.
    public static func uninstall() {
        for sig in [SIGINT, SIGTERM, SIGHUP] { signal(sig, SIG_DFL) }
        let previous = pathToRemove
        pathToRemove = nil
        free(previous)
    }
}

extension AtomicOutputFile {
    /// Writes an HDF5 file under the temporary name with `body`, marks it `complete = 1` and, unless
    /// `commit` is false (a caller that commits several files together), renames it into place. On any failure
    /// the temporary file is removed and the error names the target (`what` says what was being written).
    public func writeHDF5(_ what: String, commit: Bool = true, _ body: (HDF5File) throws -> Void) throws {
        do {
            let file = try HDF5File.create(temporaryPath)
            do {
                try body(file)
                try file.setAttribute("complete", 1)
                file.close()
            } catch {
                file.close()
                throw error
            }
            if commit { try self.commit() }
        } catch {
            discard()
            if let error = error as? ProbeError { throw error }
            throw ProbeError("\(targetPath): writing \(what) failed: \(error)")
        }
    }
}
