import CLMDB

/// A read-only snapshot, alive only inside `LMDBEnvironment.read` (or as the reading side of
/// a write transaction). Bytes it lends point into the memory map: copy what must outlive it.
public class LMDBReadTransaction {
    let txn: OpaquePointer

    init(_ txn: OpaquePointer) {
        self.txn = txn
    }

    /// Copies out the value stored under `key`, or nil when the key is absent.
    public func get(_ key: UnsafeRawBufferPointer, in database: LMDBDatabase) throws -> [UInt8]? {
        try withValue(for: key, in: database) { $0.map { Array($0) } }
    }

    /// Copies out the value stored under `key`, or nil when the key is absent.
    public func get(_ key: [UInt8], in database: LMDBDatabase) throws -> [UInt8]? {
        try key.withUnsafeBytes { try get($0, in: database) }
    }

    /// Lends the stored value (nil when absent) to `body` without copying it.
    public func withValue<R>(
        for key: UnsafeRawBufferPointer,
        in database: LMDBDatabase,
        _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        var k = MDB_val(key)
        var v = MDB_val()
        let rc = mdb_get(txn, database.dbi, &k, &v)
        switch rc {
        case MDB_SUCCESS: return try body(v.bytes)
        case MDB_NOTFOUND: return try body(nil)
        default: throw LMDBError(returnCode: rc, operation: "mdb_get(\(database.label))")
        }
    }

    /// Lends the stored value (nil when absent) to `body` without copying it.
    public func withValue<R>(
        for key: [UInt8],
        in database: LMDBDatabase,
        _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        try key.withUnsafeBytes { try withValue(for: $0, in: database, body) }
    }

    /// Lends a cursor over `database` to `body`; the cursor is closed when `body` returns.
    public func withCursor<R>(on database: LMDBDatabase, _ body: (LMDBCursor) throws -> R) throws -> R {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, database.dbi, &cursor), "mdb_cursor_open(\(database.label))")
        guard let cursor else { throw LMDBError(returnCode: MDB_BAD_TXN, operation: "mdb_cursor_open(\(database.label))") }
        defer { mdb_cursor_close(cursor) }
        return try body(LMDBCursor(cursor, database: database))
    }

    /// Visits entries in database order from the first key ≥ `start` (or the first key)
    /// up to, not including, `end`; `body` returns false to stop early.
    public func forEach(
        in database: LMDBDatabase,
        from start: [UInt8]? = nil,
        upTo end: [UInt8]? = nil,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try withCursor(on: database) { cursor in
            var entry = try start.map { try cursor.seek(atLeast: $0) } ?? cursor.first()
            while let current = entry {
                if let end, compare(current.key, end, in: database) >= 0 { return }
                guard try body(current.key, current.value) else { return }
                entry = try cursor.next()
            }
        }
    }

    /// Copies out up to `limit` entries in `[start, end)` (see `forEach`).
    public func entries(
        in database: LMDBDatabase,
        from start: [UInt8]? = nil,
        upTo end: [UInt8]? = nil,
        limit: Int = .max
    ) throws -> [(key: [UInt8], value: [UInt8])] {
        var result: [(key: [UInt8], value: [UInt8])] = []
        guard limit > 0 else { return result }
        try forEach(in: database, from: start, upTo: end) { key, value in
            result.append((Array(key), Array(value)))
            return result.count < limit
        }
        return result
    }

    /// B-tree figures of `database` as seen by this transaction, including its entry count.
    public func stat(_ database: LMDBDatabase) throws -> LMDBStat {
        var stat = MDB_stat()
        try check(mdb_stat(txn, database.dbi, &stat), "mdb_stat(\(database.label))")
        return LMDBStat(stat)
    }

    /// Orders two keys as `database` does (honouring `integerKey`, `reverseKey`).
    public func compare(_ a: UnsafeRawBufferPointer, _ b: [UInt8], in database: LMDBDatabase) -> Int {
        b.withUnsafeBytes { b in
            var va = MDB_val(a)
            var vb = MDB_val(b)
            return Int(mdb_cmp(txn, database.dbi, &va, &vb))
        }
    }
}

/// A write transaction, alive only inside `LMDBEnvironment.write`; it also reads its own writes.
public final class LMDBWriteTransaction: LMDBReadTransaction {
    /// How `put` treats existing keys (`mdb_put` flags).
    public struct PutFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// Fail with `.keyExists` instead of overwriting (MDB_NOOVERWRITE).
        public static let noOverwrite = PutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
        /// With `dupSort`: fail with `.keyExists` if this exact pair exists (MDB_NODUPDATA).
        public static let noDuplicateData = PutFlags(rawValue: UInt32(MDB_NODUPDATA))
        /// The key sorts after every existing key: a fast append; otherwise `.keyExists` (MDB_APPEND).
        public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
        /// With `dupSort`: the value sorts after the key's existing values (MDB_APPENDDUP).
        public static let appendDuplicate = PutFlags(rawValue: UInt32(MDB_APPENDDUP))
    }

    /// Opens a named database in this transaction, creating it if asked. One created here,
    /// like everything the transaction writes, exists for other processes only once it
    /// commits; the handle stays valid after the commit (an abort closes it).
    public func openDatabase(named name: String, flags: LMDBDatabase.Flags = [], create: Bool = false) throws -> LMDBDatabase {
        var dbi = MDB_dbi(0)
        try check(mdb_dbi_open(txn, name, flags.rawValue | (create ? UInt32(MDB_CREATE) : 0), &dbi), "mdb_dbi_open(\(name))")
        return LMDBDatabase(dbi: dbi, name: name)
    }

    /// Stores `value` under `key`.
    public func put(_ value: UnsafeRawBufferPointer, for key: UnsafeRawBufferPointer, in database: LMDBDatabase, flags: PutFlags = []) throws {
        var k = MDB_val(key)
        var v = MDB_val(value)
        try check(mdb_put(txn, database.dbi, &k, &v, flags.rawValue), "mdb_put(\(database.label))")
    }

    /// Stores `value` under `key`.
    public func put(_ value: [UInt8], for key: [UInt8], in database: LMDBDatabase, flags: PutFlags = []) throws {
        try key.withUnsafeBytes { key in
            try value.withUnsafeBytes { value in try put(value, for: key, in: database, flags: flags) }
        }
    }

    /// Deletes `key` (every value of it in a `dupSort` database); false if it was absent.
    @discardableResult
    public func delete(_ key: [UInt8], in database: LMDBDatabase) throws -> Bool {
        try key.withUnsafeBytes { key in
            var k = MDB_val(key)
            return try deleted(mdb_del(txn, database.dbi, &k, nil), database)
        }
    }

    /// Deletes one key/value pair of a `dupSort` database; false if it was absent.
    @discardableResult
    public func delete(_ key: [UInt8], value: [UInt8], in database: LMDBDatabase) throws -> Bool {
        try key.withUnsafeBytes { key in
            try value.withUnsafeBytes { value in
                var k = MDB_val(key)
                var v = MDB_val(value)
                return try deleted(mdb_del(txn, database.dbi, &k, &v), database)
            }
        }
    }

    /// Removes every entry of `database`, keeping the database itself.
    public func removeAll(in database: LMDBDatabase) throws {
        try check(mdb_drop(txn, database.dbi, 0), "mdb_drop(\(database.label))")
    }

    private func deleted(_ rc: Int32, _ database: LMDBDatabase) throws -> Bool {
        switch rc {
        case MDB_SUCCESS: return true
        case MDB_NOTFOUND: return false
        default: throw LMDBError(returnCode: rc, operation: "mdb_del(\(database.label))")
        }
    }
}

/// One key/value pair lent by a cursor; valid until the transaction ends or, in a write
/// transaction, until the next write.
public struct LMDBEntry {
    public let key: UnsafeRawBufferPointer
    public let value: UnsafeRawBufferPointer
}

/// A position in a database, alive only inside `withCursor`.
public struct LMDBCursor {
    let cursor: OpaquePointer
    let database: LMDBDatabase

    init(_ cursor: OpaquePointer, database: LMDBDatabase) {
        self.cursor = cursor
        self.database = database
    }

    /// The first entry, or nil if the database is empty.
    public func first() throws -> LMDBEntry? { try move(MDB_FIRST, "first") }
    /// The last entry, or nil if the database is empty.
    public func last() throws -> LMDBEntry? { try move(MDB_LAST, "last") }
    /// The entry after the current one, or nil at the end.
    public func next() throws -> LMDBEntry? { try move(MDB_NEXT, "next") }
    /// The entry before the current one, or nil at the start.
    public func previous() throws -> LMDBEntry? { try move(MDB_PREV, "previous") }
    /// The entry under the cursor.
    public func current() throws -> LMDBEntry? { try move(MDB_GET_CURRENT, "current") }
    /// The next value of the current key in a `dupSort` database, or nil after its last.
    public func nextDuplicate() throws -> LMDBEntry? { try move(MDB_NEXT_DUP, "nextDuplicate") }

    /// Positions at the first key ≥ `key` (MDB_SET_RANGE); nil if none.
    public func seek(atLeast key: UnsafeRawBufferPointer) throws -> LMDBEntry? {
        try move(MDB_SET_RANGE, "seek(atLeast:)", key: key)
    }

    /// Positions at the first key ≥ `key` (MDB_SET_RANGE); nil if none.
    public func seek(atLeast key: [UInt8]) throws -> LMDBEntry? {
        try key.withUnsafeBytes { try seek(atLeast: $0) }
    }

    /// Positions exactly at `key` (MDB_SET_KEY); nil if absent.
    public func seek(exactly key: UnsafeRawBufferPointer) throws -> LMDBEntry? {
        try move(MDB_SET_KEY, "seek(exactly:)", key: key)
    }

    /// Positions exactly at `key` (MDB_SET_KEY); nil if absent.
    public func seek(exactly key: [UInt8]) throws -> LMDBEntry? {
        try key.withUnsafeBytes { try seek(exactly: $0) }
    }

    /// Stores `value` under `key` unless the key exists (MDB_NOOVERWRITE), leaving the cursor
    /// there; returns `existing` applied to the value already stored, if any. Keys put in
    /// ascending order through one cursor mostly skip the descent from the root: LMDB first
    /// checks the page the cursor is on. Write transactions only.
    public func putIfAbsent<R>(
        _ value: UnsafeRawBufferPointer,
        for key: UnsafeRawBufferPointer,
        existing: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        var k = MDB_val(key)
        var v = MDB_val(value)
        let rc = mdb_cursor_put(cursor, &k, &v, UInt32(MDB_NOOVERWRITE))
        switch rc {
        case MDB_SUCCESS: return nil
        case MDB_KEYEXIST: return try existing(v.bytes)
        default: throw LMDBError(returnCode: rc, operation: "mdb_cursor_put(\(database.label), noOverwrite)")
        }
    }

    private func move(_ op: MDB_cursor_op, _ name: String, key: UnsafeRawBufferPointer? = nil) throws -> LMDBEntry? {
        var k = key.map { MDB_val($0) } ?? MDB_val()
        var v = MDB_val()
        let rc = mdb_cursor_get(cursor, &k, &v, op)
        switch rc {
        case MDB_SUCCESS: return LMDBEntry(key: k.bytes, value: v.bytes)
        case MDB_NOTFOUND: return nil
        default: throw LMDBError(returnCode: rc, operation: "mdb_cursor_get(\(database.label), \(name))")
        }
    }
}

extension LMDBDatabase {
    var label: String { name ?? "main" }
}

extension MDB_val {
    /// Borrows `buffer` for one LMDB call; LMDB never writes through input values.
    init(_ buffer: UnsafeRawBufferPointer) {
        self.init(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
    }

    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mv_data, count: mv_size)
    }
}
