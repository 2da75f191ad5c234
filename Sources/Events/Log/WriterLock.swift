import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The exclusive right to append to one log directory, across processes: an `flock` on
/// `writer.lock` holding the owner's pid. The kernel releases it when the owner dies, even
/// by kill -9, so a stale pid in the file never blocks a new writer.
final class WriterLock: Sendable {
    private let descriptor: Int32

    /// Takes the lock of the log in `directory` (`path` is its `writer.lock`).
    init(path: String, directory: String) throws {
        descriptor = try Self.acquire(path: path, directory: directory)
    }

    /// How long a lock this process holds without having the log open is waited for.
    static let ownLingeringLockWait: Duration = .seconds(2)

    /// `tryAcquire`, waiting while this very process holds the lock but has no log open in
    /// `directory`: a log it has just closed, whose descriptor a child being spawned on another
    /// thread still shares (posix_spawn copies the descriptor table, and the copy lives until
    /// the child's exec closes it, normally within milliseconds).
    private static func acquire(path: String, directory: String) throws -> Int32 {
        let deadline = ContinuousClock.now + ownLingeringLockWait
        while true {
            do {
                return try tryAcquire(path)
            } catch let error as EventLogError where error.code == .heldByOtherProcess(pid: getpid())
                && !OpenLogRegistry.shared.isOpen(directory) && ContinuousClock.now < deadline {
                usleep(10_000)
            }
        }
    }

    private static func tryAcquire(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw EventLogError(.storage, operation: "open writer lock \(path)", message: String(cString: strerror(errno)))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            defer { close(fd) }
            guard failure == EWOULDBLOCK else {
                throw EventLogError(.storage, operation: "lock \(path)", message: String(cString: strerror(failure)))
            }
            let pid = Self.readPID(fd)
            throw EventLogError(.heldByOtherProcess(pid: pid), operation: "open for writing",
                                message: "log is held by \(pid.map { "pid \($0)" } ?? "another process (pid not yet recorded)") (lock file \(path))")
        }
        let text = Array("\(getpid())\n".utf8)
        guard ftruncate(fd, 0) == 0, pwrite(fd, text, text.count, 0) == text.count else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw EventLogError(.storage, operation: "record pid in \(path)", message: message)
        }
        return fd
    }

    deinit { close(descriptor) }

    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Log directories open in this process: LMDB forbids opening one environment twice per
/// process (closing the second would drop the first one's locks).
final class OpenLogRegistry: Sendable {
    static let shared = OpenLogRegistry()

    private let paths = Mutex<Set<String>>([])

    /// Whether a log of this process has `path` open.
    func isOpen(_ path: String) -> Bool { paths.withLock { $0.contains(path) } }

    /// Claims `path`, or throws `.alreadyOpen`; the claim ends when the token is released.
    func claim(_ path: String) throws -> Token {
        let claimed = paths.withLock { $0.insert(path).inserted }
        guard claimed else {
            throw EventLogError(.alreadyOpen, operation: "open \(path)",
                                message: "this process already has the log open; share that EventLog instead")
        }
        return Token(path: path, registry: self)
    }

    final class Token: Sendable {
        let path: String
        let registry: OpenLogRegistry

        init(path: String, registry: OpenLogRegistry) {
            self.path = path
            self.registry = registry
        }

        deinit { _ = registry.paths.withLock { $0.remove(path) } }
    }
}
