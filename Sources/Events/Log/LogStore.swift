import Foundation
import LMDB
import Zstd

/// An open log directory: the LMDB environment, its databases, the dictionaries, and (for
/// the writer) the writer lock. Everything here is immutable after opening or internally
/// synchronized; closing happens when the last user releases it.
final class LogStore: Sendable {
    let directory: String
    let options: EventLogOptions
    let environment: LMDBEnvironment
    let events: LMDBDatabase
    let ids: LMDBDatabase
    let collisions: LMDBDatabase
    let meta: LMDBDatabase
    let dictionaries: DictionaryCache
    /// The format version stored when the log was opened; a writer raises it to
    /// `LogFormat.version` with its first append.
    let openedFormat: UInt32

    private let writerLock: WriterLock?
    /// Unindexed ids seen by `seq(of:)`, kept between lookups.
    private let tailIDs = TailIDCache()
    private let registration: OpenLogRegistry.Token

    /// Records read per read transaction by long scans, so map growth never waits on a scan.
    static let scanChunk = 16_384

    init(directory: String, options: EventLogOptions) throws {
        let writable = options.access == .writer
        let files = FileManager.default
        var isDirectory: ObjCBool = false
        if !files.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard writable else {
                throw EventLogError(.notFound, operation: "open \(directory)", message: "no event log there (directory missing)")
            }
            do {
                try files.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                          attributes: [.posixPermissions: 0o700])
            } catch {
                throw EventLogError(.storage, operation: "create \(directory)", message: "\(error)")
            }
        } else if !isDirectory.boolValue {
            throw EventLogError(.invalidArgument, operation: "open \(directory)", message: "not a directory")
        }
        let canonical = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        self.directory = canonical
        self.options = options

        writerLock = writable ? try WriterLock(path: "\(canonical)/\(LogFormat.writerLockFile)", directory: canonical) : nil
        registration = try OpenLogRegistry.shared.claim(canonical)

        let dataPath = "\(canonical)/\(LogFormat.dataFile)"
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let existingSize = (try? files.attributesOfItem(atPath: dataPath)[.size] as? Int) ?? nil
        // A creator makes the directory, `writer.lock`, an empty data file, then its meta
        // pages, then commits its databases: a reader may arrive at any of those moments.
        if !writable, existingSize == 0 || (existingSize == nil && files.fileExists(atPath: "\(canonical)/\(LogFormat.writerLockFile)")) {
            throw Self.beingCreated(canonical)
        }
        if let existingSize, existingSize < 2 * pageSize {
            throw EventLogError(.corrupted, operation: "open \(canonical)",
                                message: "\(LogFormat.dataFile) is \(existingSize) bytes, smaller than LMDB's two meta pages: the file was truncated")
        }
        if existingSize == nil && !writable {
            throw EventLogError(.notFound, operation: "open \(canonical)", message: "no event log there (\(LogFormat.dataFile) missing)")
        }

        var flags: LMDBEnvironment.Flags = [.noTLS]
        if options.access == .readOnly { flags.insert(.readOnly) }
        if options.durability == .noSync { flags.insert(.noSync) }
        let environment: LMDBEnvironment
        do {
            environment = try LMDBEnvironment(path: canonical, mapSize: nil, maxDatabases: 4,
                                              maxReaders: options.maxReaders, flags: flags)
        } catch let error as LMDBError {
            throw EventLogError.storage(error, operation: "open \(canonical)")
        }

        let info = environment.info()
        let needed = (info.lastPageNumber + 1) * environment.stat().pageSize
        if let existingSize, existingSize < needed {
            throw EventLogError(.corrupted, operation: "open \(canonical)",
                                message: "\(LogFormat.dataFile) is \(existingSize) bytes but its last page ends at byte \(needed): the file was truncated")
        }
        let dictionaries = DictionaryCache(compressionLevel: options.compressionLevel ?? 3)
        do {
            if writable {
                if info.mapSize < options.initialMapSize {
                    try environment.setMapSize(min(options.initialMapSize, options.maximumMapSize))
                }
                try environment.readerCheck()
            }
            let meta: LMDBDatabase
            let found: UInt32?
            if writable {
                // One transaction creates every database and the format key: a reader sees
                // a new log whole or not at all.
                (meta, found, events, ids, collisions) = try environment.write { txn in
                    let meta = try txn.openDatabase(named: LogFormat.metaDatabase, create: true)
                    let found = try LogFormat.integer(txn.get(LogFormat.MetaKey.format, in: meta), as: UInt32.self)
                    try Self.checkFormat(found, writable: true, directory: canonical)
                    if found == nil {
                        try txn.put(LogFormat.bigEndian(LogFormat.version), for: LogFormat.MetaKey.format, in: meta)
                        try txn.put(Array("tickfold EventLog format \(LogFormat.version)".utf8), for: LogFormat.MetaKey.createdBy, in: meta)
                        try txn.put(LogFormat.bigEndian(UInt64(0)), for: LogFormat.MetaKey.indexedThrough, in: meta)
                    }
                    return (meta, found, try txn.openDatabase(named: LogFormat.eventsDatabase, create: true),
                            try txn.openDatabase(named: LogFormat.idsDatabase, create: true),
                            try txn.openDatabase(named: LogFormat.collisionsDatabase, create: true))
                }
            } else {
                let names = [LogFormat.metaDatabase, LogFormat.eventsDatabase, LogFormat.idsDatabase, LogFormat.collisionsDatabase]
                let (transactionID, databases) = try environment.openExistingDatabases(named: names)
                // Nothing committed yet: the creator is between creating the files and committing.
                if transactionID == 0 { throw Self.beingCreated(canonical) }
                if let absent = databases.firstIndex(where: { $0 == nil }) {
                    throw EventLogError(.notFound, operation: "open \(canonical)", message: "not an event log (no '\(names[absent])' database)")
                }
                meta = databases[0]!
                found = try environment.read { try LogFormat.integer($0.get(LogFormat.MetaKey.format, in: meta), as: UInt32.self) }
                try Self.checkFormat(found, writable: false, directory: canonical)
                (events, ids, collisions) = (databases[1]!, databases[2]!, databases[3]!)
            }
            self.meta = meta
            openedFormat = found ?? LogFormat.version
            try environment.read { try dictionaries.load(from: $0, meta: meta) }
        } catch {
            throw EventLogError.wrap(error, operation: "open \(canonical)")
        }
        self.environment = environment
        self.dictionaries = dictionaries
    }

    /// Refuses a format this build does not read; a reader also refuses a log without one.
    private static func checkFormat(_ found: UInt32?, writable: Bool, directory: String) throws {
        switch found {
        case let version? where (LogFormat.oldestReadableVersion...LogFormat.version).contains(version):
            break
        case let other?:
            throw EventLogError(.incompatibleFormat(found: other, supported: LogFormat.version), operation: "open \(directory)",
                                message: "log format version \(other) is not supported; this build reads versions \(LogFormat.oldestReadableVersion) to \(LogFormat.version)")
        case nil:
            guard writable else {
                throw EventLogError(.notFound, operation: "open \(directory)", message: "not an event log (no format version)")
            }
        }
    }

    private static func beingCreated(_ directory: String) -> EventLogError {
        EventLogError(.beingCreated, operation: "open \(directory)", message: "the log is being created: its creator has not committed it yet")
    }

    /// Runs `body` in a read transaction, turning failures into `EventLogError`s.
    func read<T>(_ operation: @autoclosure () -> String, _ body: (LMDBReadTransaction) throws -> T) throws -> T {
        do {
            return try environment.read(body)
        } catch {
            throw EventLogError.wrap(error, operation: operation())
        }
    }

    /// The newest seq in the snapshot (0 when empty).
    func lastSeq(_ txn: LMDBReadTransaction) throws -> UInt64 {
        try txn.withCursor(on: events) { cursor in
            guard let last = try cursor.last() else { return 0 }
            let first = try seq(of: last.key)
            return first + UInt64(try StoredValue(last.value, first: first, operation: "read last seq").count) - 1
        }
    }

    /// Decodes an `events` key.
    func seq(of key: UnsafeRawBufferPointer) throws -> UInt64 {
        guard let seq = LogFormat.integer(key, as: UInt64.self) else {
            throw EventLogError(.corrupted, operation: "read events", message: "an events key is \(key.count) bytes, not 8")
        }
        return seq
    }

    /// Moves `cursor` to the value holding `seq` (a block is keyed by its first seq) or, when
    /// none does, to the first value after it; nil when there is none.
    func seekValue(holding seq: UInt64, _ cursor: LMDBCursor) throws -> LMDBEntry? {
        let atLeast = try LogFormat.withSeqKey(seq) { try cursor.seek(atLeast: $0) }
        if let atLeast, try self.seq(of: atLeast.key) == seq { return atLeast }
        guard let before = try atLeast == nil ? cursor.last() : cursor.previous() else { return atLeast }
        let first = try self.seq(of: before.key)
        if first < seq, seq - first < UInt64(try StoredValue(before.value, first: first, operation: "read event \(seq)").count) {
            return before
        }
        return atLeast == nil ? nil : try cursor.next()
    }

    /// Lends the id bytes stored for `seq` (nil when no record has that seq).
    func withStoredID<R>(at seq: UInt64, _ txn: LMDBReadTransaction, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        try txn.withCursor(on: events) { cursor in
            guard let entry = try seekValue(holding: seq, cursor) else { return try body(nil) }
            let first = try self.seq(of: entry.key)
            let stored = try StoredValue(entry.value, first: first, operation: "read event \(seq)")
            guard first <= seq, seq - first < UInt64(stored.count) else { return try body(nil) }
            return try body(stored.id(Int(seq - first)))
        }
    }

    /// Whether the record stored at `seq` carries `id` (nil when there is no such record).
    func storedID(at seq: UInt64, equals id: UnsafeRawBufferPointer, _ txn: LMDBReadTransaction) throws -> Bool? {
        try withStoredID(at: seq, txn) { stored in stored.map { id.elementsEqual($0) } }
    }

    /// Every event up to this seq is in `ids`; a log without the meta key (formats 1 and 2)
    /// has all of its events there.
    func indexedThrough(_ txn: LMDBReadTransaction) throws -> UInt64 {
        guard let bytes = try txn.get(LogFormat.MetaKey.indexedThrough, in: meta) else { return try lastSeq(txn) }
        guard let seq = LogFormat.integer(bytes, as: UInt64.self) else {
            throw EventLogError(.corrupted, operation: "read meta indexedThrough", message: "the value is \(bytes.count) bytes, not 8")
        }
        return seq
    }

    /// The progress of the run being merged into `ids`, if one is.
    func indexMergeProgress(_ txn: LMDBReadTransaction) throws -> UnindexedTail.Progress? {
        guard let bytes = try txn.get(LogFormat.MetaKey.indexMerge, in: meta) else { return nil }
        guard let progress = UnindexedTail.Progress(bytes) else {
            throw EventLogError(.corrupted, operation: "read meta indexMerge", message: "the value is \(bytes.count) bytes, not \(8 + LogFormat.idSize)")
        }
        return progress
    }

    /// Where the event with the 32 `id` bytes is according to `ids` and `idCollisions`.
    func indexedSeq(of id: UnsafeRawBufferPointer, _ txn: LMDBReadTransaction) throws -> UInt64? {
        let prefix = UnsafeRawBufferPointer(rebasing: id[..<LogFormat.idPrefixSize])
        guard let holder = try txn.withValue(for: prefix, in: ids, { try $0.map { try indexValue($0) } }) else { return nil }
        return try confirm(holder, holds: id, txn)
    }

    /// Where the event `id` is, given that its prefix is indexed to `holder`: there, or else
    /// wherever `idCollisions` says (nil when the log does not hold it). With `strict`, an
    /// index entry naming a seq the log lacks fails as `.corrupted` (the writer must not
    /// guess); readers treat it as no match, and `verify` reports it.
    func confirm(_ holder: UInt64, holds id: UnsafeRawBufferPointer, strict: Bool = false, _ txn: LMDBReadTransaction) throws -> UInt64? {
        switch try storedID(at: holder, equals: id, txn) {
        case true?:
            return holder
        case nil where strict:
            throw EventLogError(.corrupted, operation: "append", message: "the id index points to event \(holder), which does not exist")
        case false?, nil:
            return try txn.withValue(for: id, in: collisions) { try $0.map { try indexValue($0) } }
        }
    }

    /// Where the event `id` is: through the index, else among the events after `indexedThrough`.
    func seq(of id: EventID, _ txn: LMDBReadTransaction) throws -> UInt64? {
        try id.withUnsafeBytes { bytes in
            if let indexed = try indexedSeq(of: bytes, txn) { return indexed }
            return try tailSeq(of: IDKey(bytes), txn)
        }
    }

    /// Looks `key` up among the snapshot's unindexed events, through `tailIDs`.
    private func tailSeq(of key: IDKey, _ txn: LMDBReadTransaction) throws -> UInt64? {
        let indexedThrough = try indexedThrough(txn)
        let last = try lastSeq(txn)
        guard last > indexedThrough else { return nil }
        return try tailIDs.seq(of: key, indexedThrough: indexedThrough, last: last, in: self, txn)
    }

    /// Visits the seq and id of every event `start...end`, from the values' headers alone. A
    /// value whose header is damaged fails as `.corrupted`, or with `skippingDamaged` is
    /// passed over: a lookup can find nothing in it either way, and the values after it
    /// are keyed by their own first seqs.
    func forEachStoredID(from start: UInt64, through end: UInt64, skippingDamaged: Bool = false, _ txn: LMDBReadTransaction,
                         _ body: (UInt64, UnsafeRawBufferPointer) throws -> Void) throws {
        guard start <= end else { return }
        try txn.withCursor(on: events) { cursor in
            var entry = try seekValue(holding: start, cursor)
            while let current = entry {
                let first = try seq(of: current.key)
                guard first <= end else { return }
                entry = try cursor.next()
                let stored: StoredValue
                do {
                    stored = try StoredValue(current.value, first: first, operation: "read the ids of events \(first) on")
                    if let next = try entry.map({ try seq(of: $0.key) }), next != first + UInt64(stored.count) {
                        throw EventLogError(.corrupted, operation: "read the ids of events \(first) on",
                                            message: "the value stored under seq \(first) states \(stored.count) records, but the next value starts at seq \(next)")
                    }
                } catch {
                    // Nothing to find in it; the next value is keyed by its own first seq.
                    if skippingDamaged { continue }
                    throw error
                }
                for index in 0..<stored.count {
                    let seq = first + UInt64(index)
                    if seq >= start && seq <= end { try body(seq, stored.id(index)) }
                }
            }
        }
    }

    /// Decodes an `ids` or `idCollisions` value.
    func indexValue(_ value: UnsafeRawBufferPointer) throws -> UInt64 {
        guard let seq = LogFormat.integer(value, as: UInt64.self), seq > 0 else {
            throw EventLogError(.corrupted, operation: "read id index", message: "an index value is not a valid seq (\(value.count) bytes)")
        }
        return seq
    }

    /// The failure of a read that reaches `seq` where no stored value holds it: seqs are dense,
    /// so a hole is damage (`log verify` reports it as a gap), never events to pass over.
    static func missingValue(at seq: UInt64, nextStoredAt first: UInt64) -> EventLogError {
        EventLogError(.corrupted, operation: "read event \(seq)",
                      message: "no stored value holds it, and the next one starts at seq \(first)")
    }

    /// Visits events `from...through` in order, at most `limit` of them, in read transactions
    /// of about `scanChunk` records (whole values); `body` returns false to stop. A hole in
    /// the seqs fails the scan (see `missingValue`).
    func scan(from start: UInt64, through end: UInt64, limit: Int, _ body: (StoredEventView) throws -> Bool) throws {
        var decoder = try RecordDecoder(dictionaries: dictionaries, meta: meta)
        var next = max(start, 1)
        var remaining = limit
        var more = true
        while more && next <= end && remaining > 0 {
            more = try read("read events from \(next)") { txn in
                var touched = MappedSpan()
                defer { touched.release() }
                return try txn.withCursor(on: events) { cursor in
                    var visited = 0
                    var entry = try seekValue(holding: next, cursor)
                    while let current = entry {
                        let first = try seq(of: current.key)
                        guard first <= end else { return false }
                        if first > next { throw Self.missingValue(at: next, nextStoredAt: first) }
                        touched.include(current.value)
                        let proceed = try decoder.decode(first: first, value: current.value, reading: max(next, first), in: txn) { records in
                            try records.forEach(from: next) { event in
                                guard event.seq <= end else { return false }
                                let proceed = try body(event)
                                next = event.seq + 1
                                remaining -= 1
                                visited += 1
                                return proceed && remaining > 0
                            }
                        }
                        guard proceed, next <= end else { return false }
                        if visited >= Self.scanChunk { return true }
                        entry = try cursor.next()
                    }
                    return false
                }
            }
        }
    }

    /// The span of the memory map that a scan chunk's records lie in, handed back to the
    /// kernel once the chunk is read. A scan touches each page of its range once, and every
    /// mapped page counts in the process's resident set until unmapped: a full scan of a
    /// multi-gigabyte log (a replay) would otherwise hold it all. LMDB maps the file shared
    /// and read-only (it writes with `pwrite`), so `MADV_DONTNEED` only drops this process's
    /// page table entries: the pages stay in the page cache and a later read faults them back
    /// in, unchanged, since LMDB never rewrites pages a read transaction can see. Must run
    /// inside the read transaction, while the map cannot move.
    struct MappedSpan {
        private var low = UInt.max
        private var high: UInt = 0

        /// Spans below this are left alone: not worth a system call.
        static let minimumRelease: UInt = 256 << 10
        static let pageSize = UInt(sysconf(Int32(_SC_PAGESIZE)))

        mutating func include(_ bytes: UnsafeRawBufferPointer) {
            guard let base = bytes.baseAddress else { return }
            let start = UInt(bitPattern: base)
            low = min(low, start)
            high = max(high, start + UInt(bytes.count))
        }

        func release() {
            guard high > low else { return }
            let start = low / Self.pageSize * Self.pageSize
            let end = (high + Self.pageSize - 1) / Self.pageSize * Self.pageSize
            guard end - start >= Self.minimumRelease, let address = UnsafeMutableRawPointer(bitPattern: start) else { return }
            // Advice only: when refused, the pages simply stay mapped until the log is closed.
            _ = madvise(address, Int(end - start), MADV_DONTNEED)
        }
    }

    /// Size of the data file.
    func fileBytes() -> UInt64 {
        let size = try? FileManager.default.attributesOfItem(atPath: "\(directory)/\(LogFormat.dataFile)")[.size] as? Int
        return UInt64(size ?? 0)
    }
}
