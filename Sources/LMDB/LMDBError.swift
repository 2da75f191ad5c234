import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed LMDB call: what kind of failure, which operation, and LMDB's own text.
public struct LMDBError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The failure kinds callers act on; anything else keeps its raw return code.
    public enum Code: Hashable, Sendable {
        /// The key is absent (MDB_NOTFOUND).
        case notFound
        /// The key (or key/value pair) already exists and overwriting was refused (MDB_KEYEXIST).
        case keyExists
        /// The memory map is full: grow it with `LMDBEnvironment.setMapSize` and retry (MDB_MAP_FULL).
        case mapFull
        /// Another process grew the map beyond this environment's size (MDB_MAP_RESIZED).
        case mapResized
        /// The data file is damaged (MDB_CORRUPTED, MDB_PAGE_NOTFOUND).
        case corrupted
        /// The file is not an LMDB file of a version this library reads (MDB_INVALID, MDB_VERSION_MISMATCH).
        case versionMismatch
        /// Every reader slot is taken (MDB_READERS_FULL).
        case readersFull
        /// One write transaction touched too many pages (MDB_TXN_FULL).
        case transactionFull
        /// The disk (or quota) is full (ENOSPC, EDQUOT).
        case diskFull
        /// The file or directory may not be opened this way (EACCES, EPERM, EROFS).
        case permission
        /// The environment's file or directory does not exist (ENOENT).
        case noSuchFile
        /// Any other return code, kept as LMDB returned it.
        case other(Int32)
    }

    public let code: Code
    /// The raw return code of the failed call.
    public let returnCode: Int32
    /// The LMDB function (and its context) that failed.
    public let operation: String
    /// `mdb_strerror` text for `returnCode`.
    public let message: String

    init(returnCode: Int32, operation: String) {
        self.returnCode = returnCode
        self.operation = operation
        self.code = Self.code(for: returnCode)
        self.message = String(cString: mdb_strerror(returnCode))
    }

    public var description: String {
        "LMDB \(operation) failed: \(message) (code \(returnCode))"
    }

    static func code(for returnCode: Int32) -> Code {
        switch returnCode {
        case MDB_NOTFOUND: return .notFound
        case MDB_KEYEXIST: return .keyExists
        case MDB_MAP_FULL: return .mapFull
        case MDB_MAP_RESIZED: return .mapResized
        case MDB_CORRUPTED, MDB_PAGE_NOTFOUND: return .corrupted
        case MDB_INVALID, MDB_VERSION_MISMATCH: return .versionMismatch
        case MDB_READERS_FULL: return .readersFull
        case MDB_TXN_FULL: return .transactionFull
        case ENOSPC, EDQUOT: return .diskFull
        case EACCES, EPERM, EROFS: return .permission
        case ENOENT: return .noSuchFile
        default: return .other(returnCode)
        }
    }
}

/// Throws an `LMDBError` unless `returnCode` is MDB_SUCCESS.
@inline(__always)
func check(_ returnCode: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if returnCode != MDB_SUCCESS {
        throw LMDBError(returnCode: returnCode, operation: operation())
    }
}
