import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open LMDB environment: one memory-mapped data file holding named databases.
///
/// Transactions exist only inside `read` and `write` closures, so they cannot outlive the
/// environment or cross threads. Growing the map (`setMapSize`) waits until no transaction of
/// this process is open, as LMDB requires; a map grown by another process is adopted
/// transparently when the next transaction begins.
public final class LMDBEnvironment: @unchecked Sendable {
    // Safe to share: MDB_env is thread-safe for transaction creation, transactions never leave
    // their closure, and `mapLock` keeps remapping exclusive with every open transaction.

    /// Environment options (`mdb_env_open` flags).
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// Don't fsync on commit (MDB_NOSYNC): faster, a system crash may lose the last commits.
        public static let noSync = Flags(rawValue: UInt32(MDB_NOSYNC))
        /// `path` names the data file itself; the lock file is `path-lock` (MDB_NOSUBDIR).
        public static let noSubdir = Flags(rawValue: UInt32(MDB_NOSUBDIR))
        /// Open for reading only (MDB_RDONLY).
        public static let readOnly = Flags(rawValue: UInt32(MDB_RDONLY))
        /// Tie reader slots to transactions, not threads (MDB_NOTLS); needed when readers run
        /// from async code, whose tasks hop between threads.
        public static let noTLS = Flags(rawValue: UInt32(MDB_NOTLS))
        /// Disable OS read-ahead (MDB_NORDAHEAD), for random reads on files larger than RAM.
        public static let noReadAhead = Flags(rawValue: UInt32(MDB_NORDAHEAD))
    }

    /// Map and transaction figures (`mdb_env_info`).
    public struct Info: Sendable {
        /// Size of the memory map in bytes.
        public let mapSize: Int
        /// Number of the last page in use.
        public let lastPageNumber: Int
        /// ID of the last committed transaction.
        public let lastTransactionID: Int
        /// Reader slots in the lock table.
        public let maxReaders: Int
        /// Reader slots used so far.
        public let readersUsed: Int
    }

    /// The path given at open (directory, or data file with `.noSubdir`).
    /// The linked liblmdb's version string, e.g. "LMDB 0.9.24: (July 24, 2019)".
    public static var libraryVersion: String { String(cString: mdb_version(nil, nil, nil)) }

    public let path: String
    /// The flags the environment was opened with.
    public let flags: Flags

    let handle: OpaquePointer
    private let mapLock: UnsafeMutablePointer<pthread_rwlock_t>

    /// Opens (creating when writable and absent) the environment at `path`.
    ///
    /// - Parameters:
    ///   - mapSize: bytes to map; `nil` keeps LMDB's default or the size stored in the file.
    ///   - maxDatabases: named databases this environment may open.
    ///   - maxReaders: concurrent read transactions across all processes; `nil` for LMDB's 126.
    ///   - fileMode: permissions of created files; 0600 keeps the log private to its owner.
    public init(
        path: String,
        mapSize: Int? = nil,
        maxDatabases: Int = 0,
        maxReaders: Int? = nil,
        flags: Flags = [],
        fileMode: UInt32 = 0o600
    ) throws {
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "mdb_env_create")
        guard let env else { throw LMDBError(returnCode: ENOMEM, operation: "mdb_env_create") }
        do {
            if let mapSize {
                try check(mdb_env_set_mapsize(env, mapSize), "mdb_env_set_mapsize(\(mapSize))")
            }
            try check(mdb_env_set_maxdbs(env, MDB_dbi(maxDatabases)), "mdb_env_set_maxdbs(\(maxDatabases))")
            if let maxReaders {
                try check(mdb_env_set_maxreaders(env, UInt32(maxReaders)), "mdb_env_set_maxreaders(\(maxReaders))")
            }
            try check(mdb_env_open(env, path, flags.rawValue, mode_t(fileMode)), "mdb_env_open(\(path))")
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.handle = env
        self.path = path
        self.flags = flags
        self.mapLock = .allocate(capacity: 1)
        pthread_rwlock_init(mapLock, nil)
    }

    deinit {
        mdb_env_close(handle)
        pthread_rwlock_destroy(mapLock)
        mapLock.deallocate()
    }

    /// Runs `body` in a read-only snapshot transaction.
    ///
    /// Bytes borrowed from the transaction are valid only inside `body`.
    public func read<T>(_ body: (LMDBReadTransaction) throws -> T) throws -> T {
        let txn = try begin(flags: UInt32(MDB_RDONLY), operation: "mdb_txn_begin(read)")
        defer {
            mdb_txn_abort(txn)
            pthread_rwlock_unlock(mapLock)
        }
        return try body(LMDBReadTransaction(txn))
    }

    /// Runs `body` in a write transaction, committing when it returns and aborting when it throws.
    ///
    /// Keep `body` synchronous and short: LMDB admits one writer at a time across processes.
    public func write<T>(_ body: (LMDBWriteTransaction) throws -> T) throws -> T {
        let txn = try begin(flags: 0, operation: "mdb_txn_begin(write)")
        defer { pthread_rwlock_unlock(mapLock) }
        let result: T
        do {
            result = try body(LMDBWriteTransaction(txn))
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try check(mdb_txn_commit(txn), "mdb_txn_commit")
        return result
    }

    /// Like `write`, but when the map is full it aborts, doubles the map (up to
    /// `maximumMapSize`) and runs `body` again: `body` must not leave effects outside the
    /// transaction that a rerun would duplicate.
    public func write<T>(growingMapUpTo maximumMapSize: Int, _ body: (LMDBWriteTransaction) throws -> T) throws -> T {
        while true {
            do {
                return try write(body)
            } catch let error as LMDBError where error.code == .mapFull {
                let current = info().mapSize
                guard current < maximumMapSize else { throw error }
                try setMapSize(min(maximumMapSize, current.multipliedReportingOverflow(by: 2).partialValue))
            }
        }
    }

    /// Sets the map size; waits until this process has no open transaction.
    ///
    /// Must not be called from inside a `read` or `write` closure (it would wait forever).
    public func setMapSize(_ size: Int) throws {
        pthread_rwlock_wrlock(mapLock)
        defer { pthread_rwlock_unlock(mapLock) }
        try check(mdb_env_set_mapsize(handle, size), "mdb_env_set_mapsize(\(size))")
    }

    /// Opens a database (the unnamed main one when `name` is nil), creating it if asked.
    ///
    /// Open databases once, before concurrent use: LMDB forbids concurrent `mdb_dbi_open`.
    public func openDatabase(named name: String?, flags: LMDBDatabase.Flags = [], create: Bool = false) throws -> LMDBDatabase {
        let txnFlags = create ? 0 : UInt32(MDB_RDONLY)
        let txn = try begin(flags: txnFlags, operation: "mdb_txn_begin(open \(name ?? "main"))")
        defer { pthread_rwlock_unlock(mapLock) }
        var dbi = MDB_dbi(0)
        let openFlags = flags.rawValue | (create ? UInt32(MDB_CREATE) : 0)
        let rc = name.map { mdb_dbi_open(txn, $0, openFlags, &dbi) } ?? mdb_dbi_open(txn, nil, openFlags, &dbi)
        guard rc == MDB_SUCCESS else {
            mdb_txn_abort(txn)
            throw LMDBError(returnCode: rc, operation: "mdb_dbi_open(\(name ?? "main"))")
        }
        try check(mdb_txn_commit(txn), "mdb_txn_commit(open \(name ?? "main"))")
        return LMDBDatabase(dbi: dbi, name: name)
    }

    /// Opens existing named databases in one read snapshot: the snapshot's transaction id
    /// (0 when nothing was ever committed) and a handle per name, nil where the snapshot has no
    /// such database. Unlike `info()`, whose meta page may run ahead of what readers see while
    /// a commit is being finished, this is exactly one committed state.
    public func openExistingDatabases(named names: [String]) throws -> (transactionID: Int, databases: [LMDBDatabase?]) {
        let txn = try begin(flags: UInt32(MDB_RDONLY), operation: "mdb_txn_begin(open \(names.joined(separator: ",")))")
        defer { pthread_rwlock_unlock(mapLock) }
        var databases: [LMDBDatabase?] = []
        for name in names {
            var dbi = MDB_dbi(0)
            let rc = mdb_dbi_open(txn, name, 0, &dbi)
            switch rc {
            case MDB_SUCCESS: databases.append(LMDBDatabase(dbi: dbi, name: name))
            case MDB_NOTFOUND: databases.append(nil)
            default:
                mdb_txn_abort(txn)
                throw LMDBError(returnCode: rc, operation: "mdb_dbi_open(\(name))")
            }
        }
        let id = Int(mdb_txn_id(txn))
        // A read-only transaction's commit is what keeps the handles it opened.
        try check(mdb_txn_commit(txn), "mdb_txn_commit(open \(names.joined(separator: ",")))")
        return (id, databases)
    }

    /// Current map size, last page, last transaction and reader slots.
    public func info() -> Info {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return Info(
            mapSize: info.me_mapsize,
            lastPageNumber: info.me_last_pgno,
            lastTransactionID: info.me_last_txnid,
            maxReaders: Int(info.me_maxreaders),
            readersUsed: Int(info.me_numreaders)
        )
    }

    /// Page size, depth and entry count of the main database.
    public func stat() -> LMDBStat {
        var stat = MDB_stat()
        mdb_env_stat(handle, &stat)
        return LMDBStat(stat)
    }

    /// Largest key LMDB accepts in this environment.
    public var maxKeySize: Int { Int(mdb_env_get_maxkeysize(handle)) }

    /// Frees reader slots left by processes that died; returns how many were freed.
    @discardableResult
    public func readerCheck() throws -> Int {
        var dead: Int32 = 0
        try check(mdb_reader_check(handle, &dead), "mdb_reader_check")
        return Int(dead)
    }

    /// Flushes buffers to disk; `force` syncs even when the environment was opened `.noSync`.
    public func sync(force: Bool = true) throws {
        try check(mdb_env_sync(handle, force ? 1 : 0), "mdb_env_sync")
    }

    /// Writes a consistent copy of the environment to the existing directory `path`,
    /// leaving out free pages when `compact` is set.
    public func copy(to path: String, compact: Bool = false) throws {
        try check(mdb_env_copy2(handle, path, compact ? UInt32(MDB_CP_COMPACT) : 0), "mdb_env_copy2(\(path))")
    }

    /// Begins a transaction holding `mapLock` shared; on success the caller must unlock.
    /// A map grown by another process (MDB_MAP_RESIZED) is adopted and the begin retried.
    private func begin(flags: UInt32, operation: @autoclosure () -> String) throws -> OpaquePointer {
        while true {
            pthread_rwlock_rdlock(mapLock)
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(handle, nil, flags, &txn)
            if rc == MDB_SUCCESS, let txn { return txn }
            pthread_rwlock_unlock(mapLock)
            guard rc == MDB_MAP_RESIZED else { throw LMDBError(returnCode: rc, operation: operation()) }
            pthread_rwlock_wrlock(mapLock)
            let adopted = mdb_env_set_mapsize(handle, 0)
            pthread_rwlock_unlock(mapLock)
            try check(adopted, "mdb_env_set_mapsize(0) after MDB_MAP_RESIZED")
        }
    }
}

/// B-tree figures of one database (`mdb_stat`).
public struct LMDBStat: Sendable {
    public let pageSize: Int
    public let depth: Int
    public let branchPages: Int
    public let leafPages: Int
    public let overflowPages: Int
    /// Number of key/value pairs.
    public let entries: Int

    init(_ stat: MDB_stat) {
        pageSize = Int(stat.ms_psize)
        depth = Int(stat.ms_depth)
        branchPages = stat.ms_branch_pages
        leafPages = stat.ms_leaf_pages
        overflowPages = stat.ms_overflow_pages
        entries = stat.ms_entries
    }
}

/// A handle to one database inside an environment; valid for the environment's lifetime.
public struct LMDBDatabase: Sendable, Hashable {
    /// Database options (`mdb_dbi_open` flags).
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// Keys compare in reverse byte order (MDB_REVERSEKEY).
        public static let reverseKey = Flags(rawValue: UInt32(MDB_REVERSEKEY))
        /// Keys may hold several sorted values (MDB_DUPSORT).
        public static let dupSort = Flags(rawValue: UInt32(MDB_DUPSORT))
        /// Keys are native unsigned integers (MDB_INTEGERKEY).
        public static let integerKey = Flags(rawValue: UInt32(MDB_INTEGERKEY))
        /// With `dupSort`: all values have one size (MDB_DUPFIXED).
        public static let dupFixed = Flags(rawValue: UInt32(MDB_DUPFIXED))
        /// With `dupSort`: values are native unsigned integers (MDB_INTEGERDUP).
        public static let integerDup = Flags(rawValue: UInt32(MDB_INTEGERDUP))
    }

    let dbi: MDB_dbi
    /// The name given at open; nil for the main database.
    public let name: String?
}
