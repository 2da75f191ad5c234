import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Replaces a file whole: the bytes go to a fresh temporary file beside it, which is fsynced
/// and renamed over the path, then the directory is fsynced. Readers see the old file or the
/// new one, never half of one, and a crash leaves one of the two.
///
/// Written by hand rather than with Foundation's atomic writes, which on Linux leave an
/// empty `/tmp/TemporaryDirectory.*` behind for every file they write.
enum AtomicFile {
    /// Writes `bytes` to `path` with `permissions` (the umask applies), replacing any file there.
    static func write(_ bytes: [UInt8], to path: String, permissions: mode_t = 0o644) throws(AtomicFileError) {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        func failure(_ what: String) -> AtomicFileError {
            AtomicFileError(path: path, detail: "\(what): \(String(cString: strerror(errno)))")
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw failure("cannot create \(temporary)") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let error = failure("cannot write \(temporary)")
                close(fd)
                unlink(temporary)
                throw error
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            let error = failure("cannot fsync \(temporary)")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let error = failure("cannot rename \(temporary)")
            unlink(temporary)
            throw error
        }
        let directory = (path as NSString).deletingLastPathComponent
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }
}

/// A file `AtomicFile` could not write.
struct AtomicFileError: Error, CustomStringConvertible, Sendable {
    let path: String
    let detail: String
    var description: String { "\(path): \(detail)" }
}
