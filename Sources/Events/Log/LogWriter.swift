import Foundation
import LMDB
import Synchronization
import Zstd

/// The log's single writer: a dedicated thread that takes every queued append, commits
/// them in one write transaction (one fsync), then completes each caller.
///
/// Callers never run LMDB writes themselves, so blocking commits stay off Swift's
/// cooperative pool and concurrent appends coalesce into group commits.
final class LogWriter: @unchecked Sendable {
    // Safe to share: `queue` and `stopping` are touched only while holding `condition`;
    // every other stored `var` is touched only by the writer thread.

    typealias Completion<T> = @Sendable (Result<T, EventLogError>) -> Void

    enum Job {
        case append([LogRecord], Completion<[AppendOutcome]>)
        /// Runs `body` alone in its own write transaction, then `afterCommit` once it committed.
        case exclusive(
            String,
            body: @Sendable (LogWriter, LMDBWriteTransaction) throws -> Void,
            afterCommit: @Sendable (LogWriter) throws -> Void,
            Completion<Void>
        )
    }

    private let condition = NSCondition()
    private var queue: [Job] = []
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    /// Released by the writer thread as it ends, so `close` really closes the files.
    private var ownedStore: LogStore?
    /// The open store; only the writer thread (and code it runs) reads it.
    var store: LogStore { ownedStore! }
    private let notifier: CommitNotifier
    private let counters = Mutex(EventLogWriteCounters())

    private var lastSeq: UInt64
    private var storedBytes: UInt64
    private var rawBytes: UInt64
    private var compressor: ZstdCompressor?
    private var compressedFormat = LogFormat.RecordFormat.zstd
    private var value: [UInt8] = []

    init(store: LogStore, notifier: CommitNotifier) throws {
        self.ownedStore = store
        self.notifier = notifier
        (lastSeq, storedBytes, rawBytes) = try store.read("open writer") { txn in
            (
                try store.lastSeq(txn),
                LogFormat.integer(try txn.get(LogFormat.MetaKey.storedBytes, in: store.meta), as: UInt64.self) ?? 0,
                LogFormat.integer(try txn.get(LogFormat.MetaKey.rawBytes, in: store.meta), as: UInt64.self) ?? 0
            )
        }
        let active = try store.read("open writer") { txn in
            LogFormat.integer(try txn.get(LogFormat.MetaKey.activeDictionary, in: store.meta), as: UInt32.self)
        }
        try useCompression(dictionary: active.flatMap { store.dictionaries[id: $0] })
        notifier.publish(lastSeq)
        let thread = Thread { [self] in
            run()
            ownedStore = nil
            finished.signal()
        }
        thread.name = "tickfold-log-writer"
        thread.start()
    }

    var writeCounters: EventLogWriteCounters { counters.withLock { $0 } }

    /// Queues `job`; throws `.closed` once `stop` has begun.
    func submit(_ job: Job) throws {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else {
            throw EventLogError(.closed, operation: "append", message: "the log is closed")
        }
        queue.append(job)
        condition.signal()
    }

    /// Finishes every queued job, then ends the writer thread and waits for it.
    func stop() {
        condition.lock()
        let first = !stopping
        stopping = true
        condition.signal()
        condition.unlock()
        if first { finished.wait() }
    }

    /// The compressor for new records: with `dictionary` when given.
    func useCompression(dictionary: ZstdDictionary?) throws {
        guard let level = store.options.compressionLevel else {
            compressor = nil
            return
        }
        compressor = try ZstdCompressor(level: level, dictionary: dictionary, checksum: true)
        compressedFormat = dictionary == nil ? .zstd : .zstdDictionary
    }

    private func run() {
        while let jobs = next() {
            switch jobs.first {
            case .exclusive(let operation, let body, let afterCommit, let completion)?:
                completion(commit(operation) { txn in try body(self, txn) }.flatMap { _ in
                    Result { try afterCommit(self) }.mapError { EventLogError.wrap($0, operation: operation) }
                })
            case .append?:
                commitAppends(jobs)
            case nil:
                break
            }
        }
    }

    /// Waits for work; returns one exclusive job, or every queued append up to the batch
    /// limit; nil once stopped and drained.
    private func next() -> [Job]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !stopping { condition.wait() }
        guard let first = queue.first else { return nil }
        if case .exclusive = first {
            queue.removeFirst()
            return [first]
        }
        var taken = 0
        var records = 0
        for job in queue {
            guard case .append(let batch, _) = job else { break }
            if taken > 0 && records + batch.count > store.options.maximumBatchRecords { break }
            taken += 1
            records += batch.count
        }
        let jobs = Array(queue.prefix(taken))
        queue.removeFirst(taken)
        return jobs
    }

    private func commit<T>(_ operation: String, _ body: (LMDBWriteTransaction) throws -> T) -> Result<T, EventLogError> {
        do {
            let result = try store.environment.write(growingMapUpTo: store.options.maximumMapSize, body)
            counters.withLock { $0.transactions += 1 }
            return .success(result)
        } catch {
            return .failure(EventLogError.wrap(error, operation: operation, maximumMapSize: store.options.maximumMapSize))
        }
    }

    private struct BatchResult {
        var outcomes: [[AppendOutcome]]
        var lastSeq: UInt64
        var storedBytes: UInt64
        var rawBytes: UInt64
        var appended: Int
    }

    private func commitAppends(_ jobs: [Job]) {
        var batches: [[LogRecord]] = []
        var completions: [Completion<[AppendOutcome]>] = []
        for case .append(let records, let completion) in jobs {
            batches.append(records)
            completions.append(completion)
        }
        let total = batches.reduce(0) { $0 + $1.count }
        let result = commit("append \(total) records") { txn in try append(batches, txn) }
        switch result {
        case .success(let batch):
            lastSeq = batch.lastSeq
            storedBytes = batch.storedBytes
            rawBytes = batch.rawBytes
            counters.withLock {
                $0.calls += jobs.count
                $0.appended += batch.appended
                $0.duplicates += total - batch.appended
            }
            if batch.appended > 0 { notifier.publish(lastSeq) }
            for (completion, outcomes) in zip(completions, batch.outcomes) { completion(.success(outcomes)) }
        case .failure(let error):
            for completion in completions { completion(.failure(error)) }
        }
    }

    private enum Resolution {
        case indexed
        case collision
        case duplicate(UInt64)
    }

    private struct Prefix {
        let high: UInt64
        let low: UInt64
        let candidate: Int
    }

    /// Appends `batches` in order in one transaction: dedups within the batch and against
    /// the id index (whose keys are inserted sorted), assigns dense seqs, stores records.
    private func append(_ batches: [[LogRecord]], _ txn: LMDBWriteTransaction) throws -> BatchResult {
        let records = batches.flatMap { $0 }
        let base = lastSeq + 1

        // First occurrence of each id in the batch: the candidates for new seqs.
        var candidateOf = [Int](repeating: 0, count: records.count)
        var candidates: [Int] = []
        candidates.reserveCapacity(records.count)
        if records.count == 1 {
            candidates.append(0)
        } else {
            var first = [EventID: Int](minimumCapacity: records.count)
            for (index, record) in records.enumerated() {
                if let candidate = first[record.id] {
                    candidateOf[index] = candidate
                } else {
                    first[record.id] = candidates.count
                    candidateOf[index] = candidates.count
                    candidates.append(index)
                }
            }
        }

        // Insert provisional seqs into the index in key order; existing keys reveal duplicates.
        var order = candidates.indices.map { candidate in
            records[candidates[candidate]].id.bytes.withUnsafeBytes { id in
                Prefix(high: UInt64(bigEndian: id.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                       low: UInt64(bigEndian: id.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                       candidate: candidate)
            }
        }
        order.sort { ($0.high, $0.low) < ($1.high, $1.low) }
        var resolutions = [Resolution](repeating: .indexed, count: candidates.count)
        var duplicates = 0
        for prefix in order {
            let id = records[candidates[prefix.candidate]].id
            let provisional = base + UInt64(prefix.candidate)
            let existing = try withPrefixKey(prefix) { key in
                try withUnsafeBytes(of: provisional.bigEndian) { seq in
                    try txn.putIfAbsent(seq, for: key, in: store.ids) { try store.indexValue($0) }
                }
            }
            guard let existing else { continue }
            if existing < base {
                switch try store.storedID(at: existing, equals: id.bytes, txn) {
                case true?:
                    resolutions[prefix.candidate] = .duplicate(existing)
                    duplicates += 1
                    continue
                case false?:
                    break
                case nil:
                    throw EventLogError(.corrupted, operation: "append",
                                        message: "the id index points to event \(existing), which does not exist")
                }
            }
            if let seq = try txn.withValue(for: id.bytes, in: store.collisions, { try $0.map { try store.indexValue($0) } }) {
                resolutions[prefix.candidate] = .duplicate(seq)
                duplicates += 1
            } else {
                resolutions[prefix.candidate] = .collision
            }
        }

        // Final seqs close the gaps duplicates left; fix the index entries that moved.
        var finalSeqs = [UInt64](repeating: 0, count: candidates.count)
        var nextSeq = base
        for candidate in candidates.indices {
            if case .duplicate(let seq) = resolutions[candidate] {
                finalSeqs[candidate] = seq
            } else {
                finalSeqs[candidate] = nextSeq
                nextSeq += 1
            }
        }
        for prefix in order {
            let seq = finalSeqs[prefix.candidate]
            switch resolutions[prefix.candidate] {
            case .indexed where duplicates > 0 && seq != base + UInt64(prefix.candidate):
                try withPrefixKey(prefix) { key in
                    try withUnsafeBytes(of: seq.bigEndian) { try txn.put($0, for: key, in: store.ids) }
                }
            case .collision:
                try withUnsafeBytes(of: seq.bigEndian) { value in
                    try records[candidates[prefix.candidate]].id.bytes.withUnsafeBytes { key in
                        try txn.put(value, for: key, in: store.collisions)
                    }
                }
            case .indexed, .duplicate:
                break
            }
        }

        // Store the new records in seq order.
        var stored = storedBytes
        var raw = rawBytes
        for candidate in candidates.indices {
            if case .duplicate = resolutions[candidate] { continue }
            let record = records[candidates[candidate]]
            stored += UInt64(try put(record, at: finalSeqs[candidate], txn))
            raw += UInt64(record.canonicalJSON.count)
        }
        if nextSeq > base {
            try txn.put(LogFormat.bigEndian(stored), for: LogFormat.MetaKey.storedBytes, in: store.meta)
            try txn.put(LogFormat.bigEndian(raw), for: LogFormat.MetaKey.rawBytes, in: store.meta)
        }

        // Outcomes in each caller's order; repeats inside the batch point at the first one.
        var outcomes: [[AppendOutcome]] = []
        outcomes.reserveCapacity(batches.count)
        var index = 0
        for batch in batches {
            var batchOutcomes: [AppendOutcome] = []
            batchOutcomes.reserveCapacity(batch.count)
            for _ in batch {
                let candidate = candidateOf[index]
                let seq = finalSeqs[candidate]
                if candidates[candidate] == index, case .indexed = resolutions[candidate] {
                    batchOutcomes.append(.appended(seq))
                } else if candidates[candidate] == index, case .collision = resolutions[candidate] {
                    batchOutcomes.append(.appended(seq))
                } else {
                    batchOutcomes.append(.duplicate(seq))
                }
                index += 1
            }
            outcomes.append(batchOutcomes)
        }
        return BatchResult(outcomes: outcomes, lastSeq: nextSeq - 1, storedBytes: stored, rawBytes: raw,
                           appended: Int(nextSeq - base))
    }

    private func withPrefixKey<R>(_ prefix: Prefix, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let key = (prefix.high.bigEndian, prefix.low.bigEndian)
        return try withUnsafeBytes(of: key, body)
    }

    /// Encodes `record` (compressed when that is smaller) and appends it at `seq`; returns the stored size.
    private func put(_ record: LogRecord, at seq: UInt64, _ txn: LMDBWriteTransaction) throws -> Int {
        let json = record.canonicalJSON
        let header = LogFormat.recordHeaderSize
        let capacity = header + max(json.count, compressor == nil ? 0 : Zstd.compressBound(json.count))
        if value.count < capacity {
            value = [UInt8](repeating: 0, count: max(capacity, 2 * value.count))
        }
        let size = try value.withUnsafeMutableBytes { buffer in
            var format = LogFormat.RecordFormat.raw
            var payloadSize = json.count
            let payload = UnsafeMutableRawBufferPointer(rebasing: buffer[header...])
            try json.withUnsafeBytes { json in
                if let compressor {
                    do {
                        let compressed = try compressor.compress(json, into: payload)
                        if compressed < json.count {
                            format = compressedFormat
                            payloadSize = compressed
                        }
                    } catch let error as ZstdError {
                        throw EventLogError(.storage, operation: "compress event \(seq)", message: error.message, underlying: error)
                    }
                }
                if format == .raw { payload.copyMemory(from: json) }
            }
            buffer[0] = format.rawValue
            record.id.bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[1..<header]).copyMemory(from: $0) }
            return header + payloadSize
        }
        try value.withUnsafeBytes { value in
            try LogFormat.withSeqKey(seq) { key in
                try txn.put(UnsafeRawBufferPointer(rebasing: value[..<size]), for: key, in: store.events, flags: .append)
            }
        }
        return size
    }
}
