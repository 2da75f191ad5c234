import Dispatch
import Foundation
import LMDB
import Synchronization
import Zstd

/// The durable, append-only event log (SPEC §1.3): an LMDB environment in one directory
/// holding every event once, in `seq` order, compressed, indexed by id.
///
/// One process appends (it holds `writer.lock`); any number of processes read. Appends from
/// many tasks are coalesced by one writer thread into group commits; each returns once its
/// batch is durable (fsync'ed unless `.noSync` was asked for). Reads are synchronous,
/// memory-mapped and short; `waitForEvents(after:)` lets tailers sleep until new events land.
public final class EventLog: Sendable {
    /// The log directory (symlinks resolved).
    public let directory: String
    public let options: EventLogOptions

    private let current: Mutex<LogStore?>
    private let writer: LogWriter?
    private let notifier: CommitNotifier

    /// Opens the log in `directory`; a writer creates it (mode 0700 directory, 0600 files)
    /// if absent and fails with `.heldByOtherProcess` if another process is appending.
    public init(directory: String, options: EventLogOptions = EventLogOptions()) throws {
        guard (1...UnindexedTail.largestMinimumRun).contains(options.indexMergeRun) else {
            throw EventLogError(.invalidArgument, operation: "open \(directory)",
                                message: "indexMergeRun must be 1 to \(UnindexedTail.largestMinimumRun), not \(options.indexMergeRun)")
        }
        let store = try Self.openStore(directory: directory, options: options)
        self.directory = store.directory
        self.options = options
        self.current = Mutex(store)
        self.notifier = CommitNotifier(lastSeq: 0)
        self.writer = options.access == .writer ? try LogWriter(store: store, notifier: notifier) : nil
    }

    deinit { close() }

    /// Opens the store; a reader that arrives while another process creates the log (its
    /// files exist, its databases are not committed yet) tries again every 10 ms, blocking,
    /// for up to `options.creationWait` before it reports `.beingCreated`.
    private static func openStore(directory: String, options: EventLogOptions) throws -> LogStore {
        let creationWait = options.creationWait
        let deadline = ContinuousClock.now + creationWait
        while true {
            do {
                return try LogStore(directory: directory, options: options)
            } catch let error as EventLogError where error.code == .beingCreated {
                guard ContinuousClock.now < deadline else {
                    throw EventLogError(.beingCreated, operation: error.operation, message: error.message
                        + "; still so after \(creationWait): if no process is creating it, it is not a usable event log (remove the directory to start over)")
                }
                usleep(10_000)
            }
        }
    }

    /// Finishes queued appends, releases the writer lock and closes the files once no read
    /// is in flight. Later calls fail with `.closed`.
    public func close() {
        writer?.stop()
        current.withLock { $0 = nil }
        notifier.close(with: Self.closedError("wait for events"))
    }

    /// Appends `records` as one all-or-nothing batch and returns, in their order, the seq
    /// each got or already had; returns once the batch is durable. Records already in the
    /// log, or repeated within the call, come back as `.duplicate`.
    public func append(_ records: [LogRecord]) async throws -> [AppendOutcome] {
        let writer = try appendableWriter(records)
        guard !records.isEmpty else { return [] }
        let pending = PendingAppend(records, partSize: EncoderPool.partSize)
        if records.count < Self.inlineEncodingLimit { await writer.encoders.encode(records, into: pending) }
        return try await withCheckedThrowingContinuation { continuation in
            do {
                try writer.submit(.append(pending) { continuation.resume(with: $0) })
            } catch {
                return continuation.resume(throwing: error)
            }
            if records.count >= Self.inlineEncodingLimit {
                // Compressed while the writer already dedups and indexes the call's ids.
                Task { await writer.encoders.encode(records, into: pending) }
            }
        }
    }

    /// Calls this small are compressed before they are queued: handing them over while
    /// compressing would cost the writer an extra wake-up for little overlap.
    static let inlineEncodingLimit = 256

    /// Blocking `append` for single-threaded callers such as the CLI; large calls are
    /// compressed on all cores while the writer dedups and indexes them.
    @available(*, noasync, message: "use the async append from async code")
    public func appendBlocking(_ records: [LogRecord]) throws -> [AppendOutcome] {
        let writer = try appendableWriter(records)
        guard !records.isEmpty else { return [] }
        let pending = PendingAppend(records, partSize: EncoderPool.partSize)
        if records.count < Self.inlineEncodingLimit { writer.encoders.encodeBlocking(records, into: pending) }
        let waiter = BlockingResult<[AppendOutcome]>()
        try writer.submit(.append(pending, waiter.complete))
        if records.count >= Self.inlineEncodingLimit {
            // Compressed while the writer already dedups and indexes the call's ids.
            writer.encoders.encodeBlocking(records, into: pending)
        }
        return try waiter.wait()
    }

    /// The zstd dictionary new records are compressed with (nil: none yet, or read-only).
    public var activeDictionaryID: UInt32? { writer?.encoders.dictionary?.id }

    /// What the writer committed so far for how many calls (zero for a read-only log).
    public var writeCounters: EventLogWriteCounters { writer?.writeCounters ?? EventLogWriteCounters() }

    private func appendableWriter(_ records: [LogRecord]) throws -> LogWriter {
        guard let writer else { throw Self.readOnlyError("append") }
        for record in records where record.canonicalJSON.isEmpty || record.canonicalJSON.count > LogFormat.maximumRecordSize {
            throw EventLogError(.invalidArgument, operation: "append", message: record.canonicalJSON.isEmpty
                ? "event \(record.id) has empty canonical JSON"
                : "event \(record.id) has \(record.canonicalJSON.count) bytes of canonical JSON, over the limit of \(LogFormat.maximumRecordSize)")
        }
        return writer
    }

    /// Up to `limit` events from `seq` on (seqs start at 1), with their bytes copied out.
    public func read(from seq: UInt64, limit: Int) throws -> [StoredEvent] {
        var events: [StoredEvent] = []
        events.reserveCapacity(min(limit, 4096))
        try store().scan(from: seq, through: .max, limit: limit) { event in
            events.append(event.copy())
            return true
        }
        return events
    }

    /// Lends every event from `seq` through `end` to `body`, in order: the streaming path of the
    /// relay, replays and audits. Bytes are decompressed into one reused buffer; copy what must
    /// be kept. A seq in range that no stored value holds (damage: seqs are dense) fails the
    /// scan as `.corrupted` naming it, rather than being passed over.
    public func forEach(from seq: UInt64, through end: UInt64 = .max, _ body: (StoredEventView) throws -> Void) throws {
        try store().scan(from: seq, through: end, limit: .max) { event in
            try body(event)
            return true
        }
    }

    /// Threads a large `events(from:through:limit:)` call decodes on: one per core, at most four.
    public static let decodeParts = min(max(ProcessInfo.processInfo.activeProcessorCount, 1), 4)

    /// Events `seq...end` decoded, at most `limit` of them, in order with their seqs set: the
    /// read path of projections. Large reads decompress and decode on `parts` threads at once;
    /// the result is the same as on one thread, and so is a failure: the first damaged value,
    /// missing value or undecodable record in seq order, as `.corrupted` naming that seq (an
    /// undecodable record carries the `EventError` as `underlying`). As with `forEach`, a hole
    /// in the seqs fails the read: a projection must not checkpoint past events it never saw.
    /// The events are held in memory together: keep `limit` to a batch.
    public func events(from seq: UInt64, through end: UInt64 = .max, limit: Int,
                       verification: IDVerification = .trustLog, parts: Int = EventLog.decodeParts) throws -> [Event] {
        try store().decodedEvents(from: seq, through: end, limit: limit, verification: verification, parts: parts)
    }

    /// The event at `seq`, or nil if there is none.
    public func event(at seq: UInt64) throws -> StoredEvent? {
        var found: StoredEvent?
        try store().scan(from: seq, through: seq, limit: 1) { event in
            found = event.copy()
            return false
        }
        return found
    }

    /// The seq of the event with `id`, or nil if the log does not hold it.
    public func seq(of id: EventID) throws -> UInt64? {
        let store = try store()
        return try store.read("look up \(id)") { try store.seq(of: id, $0) }
    }

    /// The newest seq (0 for an empty log).
    public func lastSeq() throws -> UInt64 {
        let store = try store()
        if writer != nil { return notifier.lastSeq }
        return try store.read("read last seq") { try store.lastSeq($0) }
    }

    /// How many events the log holds (seqs are dense from 1, and a block holds many).
    public func count() throws -> Int {
        let store = try store()
        return try store.read("count events") { Int(try store.lastSeq($0)) }
    }

    /// Count, last seq, stored and raw bytes, file size.
    public func stats() throws -> EventLogStats {
        let store = try store()
        return try store.read("read stats") { txn in
            let lastSeq = try store.lastSeq(txn)
            return EventLogStats(
                count: Int(lastSeq),
                lastSeq: lastSeq,
                indexedThrough: try store.indexedThrough(txn),
                storedBytes: LogFormat.integer(try txn.get(LogFormat.MetaKey.storedBytes, in: store.meta), as: UInt64.self) ?? 0,
                rawBytes: LogFormat.integer(try txn.get(LogFormat.MetaKey.rawBytes, in: store.meta), as: UInt64.self) ?? 0,
                fileBytes: store.fileBytes()
            )
        }
    }

    /// Returns the newest seq once the log holds an event after `seq`.
    ///
    /// In the writing process, appends wake waiters the moment they commit. A read-only log
    /// cannot see another process's commits as they happen, so it checks the last seq with a
    /// backoff from 1 ms up to 20 ms: cheap when idle, well inside a 50 ms append→visible
    /// budget, and unlike inotify it also sees writes made through a shared memory map and on
    /// file systems that do not report changes. Throws `CancellationError` when cancelled.
    public func waitForEvents(after seq: UInt64) async throws -> UInt64 {
        let store = try store()
        if writer != nil {
            return try await notifier.wait(after: seq, closedError: Self.closedError("wait for events"))
        }
        var delay = Duration.milliseconds(1)
        while true {
            let last = try store.read("read last seq") { try store.lastSeq($0) }
            if last > seq { return last }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(20))
        }
    }

    /// The seq stored under `name` (e.g. the Kafka relay's last acknowledged seq), or nil.
    public func checkpoint(named name: String) throws -> UInt64? {
        let store = try store()
        return try store.read("read checkpoint \(name)") { txn in
            LogFormat.integer(try txn.get(LogFormat.MetaKey.checkpoint(name), in: store.meta), as: UInt64.self)
        }
    }

    /// Durably stores `seq` under `name`, in its own write transaction.
    public func setCheckpoint(named name: String, seq: UInt64) async throws {
        try await setCheckpoints([(name, seq)])
    }

    /// Durably stores several named checkpoints together, in one write transaction.
    public func setCheckpoints(_ values: [(name: String, seq: UInt64)]) async throws {
        if writer == nil, options.access == .checkpointer {
            // A short LMDB write transaction; there is no writer thread to hand it to.
            return try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try self.setCheckpointsBlocking(values) })
                }
            }
        }
        let job = try checkpointJob(values)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            do {
                try job.writer.submit(job.job { continuation.resume(with: $0) })
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// Blocking `setCheckpoint` for synchronous callers.
    @available(*, noasync, message: "use the async setCheckpoint from async code")
    public func setCheckpointBlocking(named name: String, seq: UInt64) throws {
        try setCheckpointsBlocking([(name, seq)])
    }

    /// Blocking `setCheckpoints` for synchronous callers.
    @available(*, noasync, message: "use the async setCheckpoints from async code")
    public func setCheckpointsBlocking(_ values: [(name: String, seq: UInt64)]) throws {
        if writer == nil, options.access == .checkpointer {
            let entries = try Self.checkpointEntries(values)
            let store = try store()
            do {
                try store.environment.write { txn in
                    for (key, value) in entries { try txn.put(value, for: key, in: store.meta) }
                }
            } catch {
                throw EventLogError.wrap(error, operation: "set checkpoints")
            }
            return
        }
        let job = try checkpointJob(values)
        let waiter = BlockingResult<Void>()
        try job.writer.submit(job.job(waiter.complete))
        try waiter.wait()
    }

    /// Every checkpoint whose name starts with `prefix`, by name.
    public func checkpoints(prefixed prefix: String) throws -> [(name: String, seq: UInt64)] {
        let store = try store()
        let start = LogFormat.MetaKey.checkpoint(prefix)
        return try store.read("read checkpoints \(prefix)") { txn in
            var found: [(name: String, seq: UInt64)] = []
            try txn.forEach(in: store.meta, from: start) { key, value in
                guard key.starts(with: start) else { return false }
                let name = String(decoding: key.dropFirst(LogFormat.MetaKey.checkpointPrefix.count), as: UTF8.self)
                if let seq = LogFormat.integer(value, as: UInt64.self) { found.append((name, seq)) }
                return true
            }
            return found
        }
    }

    private static func checkpointEntries(_ values: [(name: String, seq: UInt64)]) throws -> [([UInt8], [UInt8])] {
        try values.map { name, seq in
            let key = LogFormat.MetaKey.checkpoint(name)
            guard !name.isEmpty, key.count <= 511 else {
                throw EventLogError(.invalidArgument, operation: "set checkpoint", message: "checkpoint names are 1 to 500 UTF-8 bytes")
            }
            return (key, LogFormat.bigEndian(seq))
        }
    }

    private func checkpointJob(_ values: [(name: String, seq: UInt64)]) throws -> (writer: LogWriter, job: (@escaping LogWriter.Completion<Void>) -> LogWriter.Job) {
        let names = values.map(\.name).joined(separator: ", ")
        guard let writer else { throw Self.readOnlyError("set checkpoint \(names)") }
        let entries = try Self.checkpointEntries(values)
        return (writer, { completion in
            .exclusive("set checkpoint \(names)", body: { store, txn in
                for (key, value) in entries { try txn.put(value, for: key, in: store.meta) }
            }, afterCommit: { _ in }, completion)
        })
    }

    /// Trains a zstd dictionary on the first `sampleCount` events, stores it in the log and
    /// compresses every later record with it; earlier records keep their format. Returns the
    /// dictionary id. CPU-heavy (≈ a second for 10k samples): run it off the cooperative pool.
    @available(*, noasync, message: "training blocks; run it on a thread of its own")
    @discardableResult
    public func trainDictionary(sampleCount: Int = 10_000, capacity: Int = 16 << 10) throws -> UInt32 {
        guard let writer else { throw Self.readOnlyError("train dictionary") }
        guard options.compressionLevel != nil else {
            throw EventLogError(.invalidArgument, operation: "train dictionary", message: "the log was opened without compression")
        }
        let dictionary = try LogWriter.trainDictionary(store(), sampleCount: sampleCount, capacity: capacity)
        let waiter = BlockingResult<Void>()
        try writer.submit(writer.installJob(dictionary, waiter.complete))
        try waiter.wait()
        return dictionary.id
    }

    /// Merges every event the id index does not cover yet into it, in one transaction, and
    /// returns how many entries that wrote. Appends never need this (the writer merges as it
    /// goes, a slice per batch); it serves tests and tools that want `ids` complete.
    @discardableResult
    public func mergeIndex() throws -> Int {
        guard let writer else { throw Self.readOnlyError("merge the id index") }
        let waiter = BlockingResult<Int>()
        try writer.submit(writer.mergeAllJob(waiter.complete))
        return try waiter.wait()
    }

    func store() throws -> LogStore {
        guard let store = current.withLock({ $0 }) else { throw Self.closedError("use") }
        return store
    }

    private static func closedError(_ operation: String) -> EventLogError {
        EventLogError(.closed, operation: operation, message: "the log is closed")
    }

    private static func readOnlyError(_ operation: String) -> EventLogError {
        EventLogError(.readOnly, operation: operation, message: "the log was opened read-only")
    }
}

/// Hands a writer-thread result to a thread blocked in `wait`.
private final class BlockingResult<T: Sendable>: Sendable {
    private let result = Mutex<Result<T, EventLogError>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    var complete: LogWriter.Completion<T> {
        { outcome in
            self.result.withLock { $0 = outcome }
            self.done.signal()
        }
    }

    func wait() throws -> T {
        done.wait()
        return try result.withLock { $0! }.get()
    }
}
