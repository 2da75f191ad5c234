import LMDB
import Zstd

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the event log refused or failed an operation, with the detail to act on it.
public struct EventLogError: Error, CustomStringConvertible, Sendable {
    /// The failure kinds callers act on.
    public enum Code: Hashable, Sendable {
        /// Stored data is damaged or truncated (the message says where).
        case corrupted
        /// The log was written in a format this build does not read.
        case incompatibleFormat(found: UInt32, supported: UInt32)
        /// The disk or quota is full; the failed batch was not written at all.
        case diskFull
        /// Another writer holds the log (its pid when known).
        case heldByOtherProcess(pid: Int32?)
        /// The log, or the thing asked for, does not exist.
        case notFound
        /// Another process is creating the log and has not committed it yet (a reader waits
        /// for it a little before reporting this).
        case beingCreated
        /// The log is already open in this process (LMDB forbids a second open per process).
        case alreadyOpen
        /// The log was opened read-only.
        case readOnly
        /// The log was closed.
        case closed
        /// The map reached `EventLogOptions.maximumMapSize`.
        case mapLimitReached
        /// The caller passed something the log cannot store.
        case invalidArgument
        /// A storage or file-system failure not covered above (see `underlying`).
        case storage
    }

    public let code: Code
    /// What the log was doing.
    public let operation: String
    /// The precise problem, in words.
    public let message: String
    /// The LMDB, zstd or system error behind it, if any.
    public let underlying: (any Error & Sendable)?

    public init(_ code: Code, operation: String, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.operation = operation
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        let base = "event log \(operation): \(message)"
        return underlying.map { "\(base) (\($0))" } ?? base
    }

    /// Classifies an LMDB failure.
    static func storage(_ error: LMDBError, operation: String, maximumMapSize: Int? = nil) -> EventLogError {
        switch error.code {
        case .corrupted:
            return EventLogError(.corrupted, operation: operation, message: "the data file is damaged", underlying: error)
        case .versionMismatch:
            return EventLogError(.corrupted, operation: operation,
                                 message: "data.mdb is not an LMDB file this build reads (damaged or from an incompatible LMDB)",
                                 underlying: error)
        case .diskFull:
            return EventLogError(.diskFull, operation: operation,
                                 message: "no space left on the device; nothing of this write was stored", underlying: error)
        case .mapFull:
            return EventLogError(.mapLimitReached, operation: operation,
                                 message: "the map reached its maximum size \(maximumMapSize.map(String.init) ?? "?") bytes",
                                 underlying: error)
        case .noSuchFile:
            return EventLogError(.notFound, operation: operation, message: "no event log there", underlying: error)
        case .notFound, .keyExists, .mapResized, .readersFull, .transactionFull, .permission, .other:
            return EventLogError(.storage, operation: operation, message: error.message, underlying: error)
        }
    }

    /// Wraps any failure from inside the log's machinery, keeping typed ones as they are.
    static func wrap(_ error: any Error, operation: String, maximumMapSize: Int? = nil) -> EventLogError {
        switch error {
        case let error as EventLogError: return error
        case let error as LMDBError: return storage(error, operation: operation, maximumMapSize: maximumMapSize)
        case let error as ZstdError:
            return EventLogError(.corrupted, operation: operation, message: "a stored record does not decompress", underlying: error)
        default:
            return EventLogError(.storage, operation: operation, message: "stopped by an error", underlying: error)
        }
    }

    /// LMDB reports a write cut short by a full disk as EIO ("short write"), not ENOSPC; when
    /// the log's file system is in fact (nearly) full, say so. Nothing of the batch was
    /// committed either way: LMDB only writes its meta page after every data page.
    func reclassifyingShortWrite(directory: String) -> EventLogError {
        guard code == .storage, let lmdb = underlying as? LMDBError, lmdb.returnCode == EIO else { return self }
        var fs = statvfs()
        guard statvfs(directory, &fs) == 0 else { return self }
        let free = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
        guard free < 16 << 20 else { return self }
        return EventLogError(.diskFull, operation: operation,
                             message: "no space left on the device (\(free) bytes free); nothing of this write was stored",
                             underlying: lmdb)
    }
}
