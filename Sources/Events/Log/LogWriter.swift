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
    // Safe to share: `queue`, `stopping` and `trainer` are touched only while holding
    // `condition`; every other stored `var` is touched only by the writer thread.

    typealias Completion<T> = @Sendable (Result<T, EventLogError>) -> Void

    enum Job {
        /// One caller's records, encoded in parts (possibly still arriving); they commit
        /// together or not at all.
        case append(PendingAppend, Completion<[AppendOutcome]>)
        /// Runs `body` alone in its own write transaction, then `afterCommit` once it committed.
        case exclusive(
            String,
            body: @Sendable (LogStore, LMDBWriteTransaction) throws -> Void,
            afterCommit: @Sendable (LogStore) throws -> Void,
            Completion<Void>
        )
    }

    private let condition = NSCondition()
    private var queue: [Job] = []
    private var stopping = false
    private var trainer: DispatchSemaphore?
    private let finished = DispatchSemaphore(value: 0)

    /// Released by the writer thread as it ends, so `close` really closes the files.
    private var ownedStore: LogStore?
    /// The open store; only the writer thread (and code it runs) reads it.
    private var store: LogStore { ownedStore! }
    private let notifier: CommitNotifier
    let encoders: EncoderPool
    private let maximumBatchRecords: Int
    private let maximumMapSize: Int
    private let counters = Mutex(EventLogWriteCounters())

    private var lastSeq: UInt64
    /// The events `ids` does not cover yet.
    private var tail: UnindexedTail
    /// Which prefixes `ids` may hold.
    private var filter: IndexFilter
    private var storedBytes: UInt64
    private var rawBytes: UInt64
    /// The format version the log's meta states; the first append raises it to this build's.
    private var storedFormat: UInt32
    /// Whether meta holds `indexedThrough`; when it does not (formats 1 and 2, and logs created
    /// but never appended to by the first builds of format 3), the first append writes it.
    private var indexedThroughRecorded: Bool

    init(store: LogStore, notifier: CommitNotifier) throws {
        self.ownedStore = store
        self.notifier = notifier
        self.maximumBatchRecords = store.options.maximumBatchRecords
        self.maximumMapSize = store.options.maximumMapSize
        let meta = store.meta
        let (lastSeq, tail, filter, storedBytes, rawBytes, active, recorded) = try store.read("open writer") { txn in
            let lastSeq = try store.lastSeq(txn)
            // Room for the index to double while this writer runs; past that, segments are added.
            var filter = IndexFilter(expected: 2 * (try txn.stat(store.ids).entries))
            try txn.forEach(in: store.ids) { key, _ in
                if key.count == LogFormat.idPrefixSize { filter.insert(IDKey(prefix: key)) }
                return true
            }
            var tail = UnindexedTail(indexedThrough: try store.indexedThrough(txn), minimumRun: store.options.indexMergeRun)
            do {
                try store.forEachStoredID(from: tail.indexedThrough + 1, through: lastSeq, txn) { seq, id in
                    tail.record(IDKey(id), seq: seq)
                }
            } catch let error as EventLogError where error.code == .corrupted {
                // Without those ids, dedup could store one of their events a second time.
                throw EventLogError(.corrupted, operation: "open writer",
                                    message: "the ids of events the index does not cover yet cannot be read, so appends could store an event twice; run `tickfold log verify` (\(error.operation): \(error.message))",
                                    underlying: error)
            }
            tail.resume(try store.indexMergeProgress(txn))
            return (
                lastSeq,
                tail,
                filter,
                LogFormat.integer(try txn.get(LogFormat.MetaKey.storedBytes, in: meta), as: UInt64.self) ?? 0,
                LogFormat.integer(try txn.get(LogFormat.MetaKey.rawBytes, in: meta), as: UInt64.self) ?? 0,
                LogFormat.integer(try txn.get(LogFormat.MetaKey.activeDictionary, in: meta), as: UInt32.self),
                try txn.get(LogFormat.MetaKey.indexedThrough, in: meta) != nil
            )
        }
        indexedThroughRecorded = recorded
        (self.lastSeq, self.tail, self.filter, self.storedBytes, self.rawBytes) = (lastSeq, tail, filter, storedBytes, rawBytes)
        storedFormat = store.openedFormat
        encoders = EncoderPool(level: store.options.compressionLevel, dictionary: active.flatMap { store.dictionaries[id: $0] })
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

    /// Finishes every queued job and a running dictionary training, then ends the writer
    /// thread and waits for it.
    func stop() {
        condition.lock()
        let first = !stopping
        stopping = true
        let training = trainer
        condition.signal()
        condition.unlock()
        guard first else { return }
        training?.wait()
        finished.wait()
    }

    /// Trains a dictionary on the first `sampleCount` events of `store`.
    static func trainDictionary(_ store: LogStore, sampleCount: Int, capacity: Int) throws -> ZstdDictionary {
        var samples: [[UInt8]] = []
        samples.reserveCapacity(sampleCount)
        try store.scan(from: 1, through: .max, limit: sampleCount) { event in
            samples.append(Array(event.canonicalJSON))
            return true
        }
        do {
            return try ZstdDictionary(bytes: Zstd.trainDictionary(samples: samples, capacity: capacity),
                                      compressionLevel: store.dictionaries.compressionLevel)
        } catch let error as ZstdError {
            throw EventLogError(.invalidArgument, operation: "train dictionary on \(samples.count) events",
                                message: error.message, underlying: error)
        }
    }

    /// The job that stores `dictionary` and makes new records use it.
    func installJob(_ dictionary: ZstdDictionary, _ completion: @escaping Completion<Void>) -> Job {
        .exclusive("store dictionary \(dictionary.id)", body: { store, txn in
            try txn.put(dictionary.bytes, for: LogFormat.MetaKey.dictionary(dictionary.id), in: store.meta)
            try txn.put(LogFormat.bigEndian(dictionary.id), for: LogFormat.MetaKey.activeDictionary, in: store.meta)
        }, afterCommit: { [encoders] store in
            store.dictionaries.insert(dictionary)
            encoders.use(dictionary)
        }, completion)
    }

    /// The job that merges the whole unindexed tail into the index at once.
    func mergeAllJob(_ completion: @escaping Completion<Int>) -> Job {
        let merged = Mutex(0)
        return .exclusive("merge the id index", body: { [self] store, txn in
            let slice = tail.wholeTail(through: lastSeq)
            try mergeIntoIndex(slice.entries, txn)
            try txn.put(LogFormat.bigEndian(lastSeq), for: LogFormat.MetaKey.indexedThrough, in: store.meta)
            try txn.delete(LogFormat.MetaKey.indexMerge, in: store.meta)
            merged.withLock { $0 = slice.entries.count }
        }, afterCommit: { [self] _ in
            tail.indexedAll(through: lastSeq)
            indexedThroughRecorded = true
        }, { result in completion(result.map { merged.withLock { $0 } }) })
    }

    /// Once the log holds enough events and has no dictionary, trains one on a thread of its
    /// own (it takes about a second) and installs it; a failed training is not retried.
    private func trainDictionaryIfDue() {
        guard let threshold = store.options.dictionaryTrainingThreshold, store.options.compressionLevel != nil,
              lastSeq >= UInt64(threshold), encoders.dictionary == nil else { return }
        condition.lock()
        defer { condition.unlock() }
        guard trainer == nil, !stopping else { return }
        let done = DispatchSemaphore(value: 0)
        trainer = done
        // Lent, not captured: the thread must drop the store before it signals `done`, or
        // `close` could return while the store (and the files) lived on in its closure.
        let lent = Mutex<LogStore?>(store)
        Thread { [self] in
            train(lent.withLock { $0.take() }, threshold: threshold)
            done.signal()
        }.start()
    }

    private func train(_ store: LogStore?, threshold: Int) {
        guard let store, let dictionary = try? Self.trainDictionary(store, sampleCount: threshold, capacity: 16 << 10) else { return }
        try? submit(installJob(dictionary) { _ in })
    }

    private func run() {
        while let jobs = next() {
            switch jobs.first {
            case .exclusive(let operation, let body, let afterCommit, let completion)?:
                completion(commit(operation) { [store] txn in try body(store, txn) }.flatMap { _ in
                    Result { try afterCommit(store) }.mapError { EventLogError.wrap($0, operation: operation) }
                })
            case .append?:
                commitAppends(jobs)
                trainDictionaryIfDue()
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
            guard case .append(let call, _) = job else { break }
            let count = call.count
            if taken > 0 && records + count > maximumBatchRecords { break }
            taken += 1
            records += count
        }
        let jobs = Array(queue.prefix(taken))
        queue.removeFirst(taken)
        return jobs
    }

    private func commit<T>(_ operation: String, _ body: (LMDBWriteTransaction) throws -> T) -> Result<T, EventLogError> {
        do {
            let result = try store.environment.write(growingMapUpTo: maximumMapSize, body)
            counters.withLock { $0.transactions += 1 }
            return .success(result)
        } catch {
            let wrapped = EventLogError.wrap(error, operation: operation, maximumMapSize: maximumMapSize)
            return .failure(wrapped.reclassifyingShortWrite(directory: store.directory))
        }
    }

    private struct BatchResult {
        var outcomes: [[AppendOutcome]]
        var lastSeq: UInt64
        var storedBytes: UInt64
        var rawBytes: UInt64
        var appended: Int
        /// The new events' ids and seqs, for `tail`.
        var stored: [(IDKey, UInt64)]
        /// Entries of the tail's merge slice written to `ids`.
        var merged: Int
        /// Whether the transaction indexed every event (the tail is then empty).
        var indexedAll: Bool
    }

    private func commitAppends(_ jobs: [Job]) {
        var calls: [PendingAppend] = []
        var completions: [Completion<[AppendOutcome]>] = []
        for case .append(let call, let completion) in jobs {
            calls.append(call)
            completions.append(completion)
        }
        let total = calls.reduce(0) { $0 + $1.count }
        let result = commit("append \(total) records") { txn in try append(calls, txn) }
        switch result {
        case .success(let batch):
            lastSeq = batch.lastSeq
            storedBytes = batch.storedBytes
            rawBytes = batch.rawBytes
            if batch.appended > 0 { (storedFormat, indexedThroughRecorded) = (LogFormat.version, true) }
            counters.withLock {
                $0.calls += jobs.count
                $0.appended += batch.appended
                $0.duplicates += total - batch.appended
            }
            if batch.appended > 0 { notifier.publish(lastSeq) }
            for (completion, outcomes) in zip(completions, batch.outcomes) { completion(.success(outcomes)) }
            // After the callers go on (compressing their next calls meanwhile): only this
            // thread reads the tail, and it takes the next job once this is done.
            if batch.indexedAll {
                tail.indexedAll(through: batch.lastSeq)
            } else {
                for (key, seq) in batch.stored { tail.record(key, seq: seq) }
                tail.committedSlice(of: batch.merged)
            }
        case .failure(let error):
            // A call whose compression failed fails alone; the others commit without it.
            let failed = Set(calls.indices.filter { calls[$0].encodingFailure != nil })
            guard !failed.isEmpty else {
                for completion in completions { completion(.failure(error)) }
                return
            }
            for index in failed { completions[index](.failure(calls[index].encodingFailure!)) }
            let others = jobs.indices.filter { !failed.contains($0) }.map { jobs[$0] }
            if !others.isEmpty { commitAppends(others) }
        }
    }

    /// An index key's two words next to the candidate it belongs to, sorted contiguously.
    private struct SortKey {
        let high: UInt64
        let low: UInt64
        let candidate: Int
    }

    /// A record of the coalesced batches: which call, which position in it.
    private struct Position {
        let batch: Int
        let index: Int
    }

    /// Appends `batches` in order in one transaction: dedups within the batch, against the
    /// unindexed tail and against the id index, assigns dense seqs, merges the tail's next
    /// slice into the index, and stores records (waiting for each part's compression only
    /// then). Leaves the writer's own state alone (but for `filter`, see `mergeIntoIndex`): it
    /// changes once the transaction commits.
    private func append(_ batches: [PendingAppend], _ txn: LMDBWriteTransaction) throws -> BatchResult {
        let store = self.store
        let total = batches.reduce(0) { $0 + $1.count }
        let base = lastSeq + 1

        // First occurrence of each id across the batches: the candidates for new seqs.
        var candidateOf = [Int](repeating: 0, count: total)
        var candidates: [Position] = []
        candidates.reserveCapacity(total)
        var candidateIDs: [IDKey] = []
        candidateIDs.reserveCapacity(total)
        var first = IDTable<Int>(capacity: total)
        var flat = 0
        for (b, batch) in batches.enumerated() {
            for (i, id) in batch.ids.enumerated() {
                if let candidate = first.insert(id, candidates.count) {
                    candidateOf[flat] = candidate
                } else {
                    candidateOf[flat] = candidates.count
                    candidates.append(Position(batch: b, index: i))
                    candidateIDs.append(id)
                }
                flat += 1
            }
        }

        // Candidates already in the log keep their seq; the others get dense new ones.
        let existing = try existingSeqs(of: candidateIDs, txn)
        var finalSeqs = [UInt64](repeating: 0, count: candidates.count)
        var newIDs: [(IDKey, UInt64)] = []
        newIDs.reserveCapacity(candidates.count)
        var nextSeq = base
        for (candidate, key) in candidateIDs.enumerated() {
            if let seq = existing[candidate] {
                finalSeqs[candidate] = seq
            } else {
                finalSeqs[candidate] = nextSeq
                newIDs.append((key, nextSeq))
                nextSeq += 1
            }
        }

        // Merge the tail's next slice before storing: it depends only on which ids are new,
        // and the callers' threads go on compressing the parts meanwhile.
        let slice = tail.nextSlice(storing: newIDs, through: nextSeq - 1)
        try mergeIntoIndex(slice.entries, txn)

        // Store the new records in seq order, block by block; a block holding a record that
        // turned out to be a duplicate is encoded again without it.
        var stored = storedBytes
        var raw = rawBytes
        func put(_ value: UnsafeRawBufferPointer, first seq: UInt64) throws {
            try LogFormat.withSeqKey(seq) { try txn.put(value, for: $0, in: store.events, flags: .append) }
            stored += UInt64(value.count)
        }
        flat = 0
        for (b, batch) in batches.enumerated() {
            let offset = flat
            flat += batch.count
            // The seq record `i` of this call is stored at, or nil when it is a duplicate.
            func newSeq(_ i: Int) -> UInt64? {
                let candidate = candidateOf[offset + i]
                guard candidates[candidate].batch == b, candidates[candidate].index == i, existing[candidate] == nil else { return nil }
                return finalSeqs[candidate]
            }
            for p in 0..<batch.partCount {
                let range = batch.range(ofPart: p)
                guard range.contains(where: { newSeq($0) != nil }) else { continue }
                let part = try batch.part(p)
                var start = range.lowerBound
                for block in 0..<part.count {
                    let records = start..<range.lowerBound + part.recordEnds[block]
                    start = records.upperBound
                    var new = 0
                    for i in records where newSeq(i) != nil {
                        new += 1
                        raw += UInt64(batch.records[i].canonicalJSON.count)
                    }
                    if new == records.count {
                        try part.withValue(block) { try put($0, first: newSeq(records.lowerBound)!) }
                    } else if new > 0 {
                        let survivors = records.filter { newSeq($0) != nil }
                        let encoded = try encoders.encode(survivors.map { batch.records[$0] }[...])
                        for value in 0..<encoded.count {
                            let first = survivors[value == 0 ? 0 : encoded.recordEnds[value - 1]]
                            try encoded.withValue(value) { try put($0, first: newSeq(first)!) }
                        }
                    }
                }
            }
        }
        if nextSeq > base {
            try txn.put(LogFormat.bigEndian(stored), for: LogFormat.MetaKey.storedBytes, in: store.meta)
            try txn.put(LogFormat.bigEndian(raw), for: LogFormat.MetaKey.rawBytes, in: store.meta)
            // Written when it moves, and by the first append when absent (from then on its
            // absence would no longer mean "everything is indexed").
            if let completes = slice.completes {
                try txn.put(LogFormat.bigEndian(completes), for: LogFormat.MetaKey.indexedThrough, in: store.meta)
            } else if !indexedThroughRecorded {
                try txn.put(LogFormat.bigEndian(tail.indexedThrough), for: LogFormat.MetaKey.indexedThrough, in: store.meta)
            }
            if let progress = slice.progress {
                try txn.put(progress.bytes, for: LogFormat.MetaKey.indexMerge, in: store.meta)
            } else if slice.completes != nil {
                try txn.delete(LogFormat.MetaKey.indexMerge, in: store.meta)
            }
            if storedFormat < LogFormat.version {
                try txn.put(LogFormat.bigEndian(LogFormat.version), for: LogFormat.MetaKey.format, in: store.meta)
            }
        }

        // Outcomes in each caller's order; repeats inside the batch point at the first one.
        var outcomes: [[AppendOutcome]] = []
        outcomes.reserveCapacity(batches.count)
        flat = 0
        for (b, batch) in batches.enumerated() {
            var batchOutcomes: [AppendOutcome] = []
            batchOutcomes.reserveCapacity(batch.count)
            for i in 0..<batch.count {
                let candidate = candidateOf[flat]
                let isFirst = candidates[candidate].batch == b && candidates[candidate].index == i
                let isNew = isFirst && existing[candidate] == nil
                batchOutcomes.append(isNew ? .appended(finalSeqs[candidate]) : .duplicate(finalSeqs[candidate]))
                flat += 1
            }
            outcomes.append(batchOutcomes)
        }
        return BatchResult(outcomes: outcomes, lastSeq: nextSeq - 1, storedBytes: stored, rawBytes: raw,
                           appended: Int(nextSeq - base), stored: slice.wholeTail ? [] : newIDs,
                           merged: slice.entries.count, indexedAll: slice.wholeTail)
    }

    /// Where each of `ids` (distinct) already is in the log, or nil: in the unindexed tail, or
    /// in the index. The filter spares most new ids the index search; the rest are searched
    /// in key order through one cursor, which mostly stays on its page.
    private func existingSeqs(of ids: [IDKey], _ txn: LMDBWriteTransaction) throws -> [UInt64?] {
        let (store, tail, filter) = (self.store, self.tail, self.filter)
        var existing = [UInt64?](repeating: nil, count: ids.count)
        var lookups: [SortKey] = []
        for (candidate, key) in ids.enumerated() {
            if let seq = tail.seq(of: key) {
                existing[candidate] = seq
            } else if filter.mayContain(key) {
                lookups.append(SortKey(high: key.w0, low: key.w1, candidate: candidate))
            }
        }
        lookups.sort { $0.high != $1.high ? $0.high < $1.high : $0.low < $1.low }
        try txn.withCursor(on: store.ids) { cursor in
            for lookup in lookups {
                let key = ids[lookup.candidate]
                guard let holder = try key.withPrefix({ try cursor.seek(exactly: $0).map { try store.indexValue($0.value) } }) else { continue }
                existing[lookup.candidate] = try key.withBytes { try store.confirm(holder, holds: $0, strict: true, txn) }
            }
        }
        return existing
    }

    /// Writes unindexed events to the index, in key order through one cursor: each under its
    /// prefix, or, when another event holds that prefix, under its full id in `idCollisions`.
    /// Writing an entry merged before (a run merged again after a restart) changes nothing.
    /// The one writer state a transaction body changes: `filter` may then hold keys of a
    /// transaction that rolls back, which costs a search, never a missed duplicate.
    private func mergeIntoIndex(_ entries: ArraySlice<UnindexedTail.Entry>, _ txn: LMDBWriteTransaction) throws {
        guard !entries.isEmpty else { return }
        let store = self.store
        for entry in entries { filter.insert(entry.key) }
        try txn.withCursor(on: store.ids) { cursor in
            for entry in entries {
                try withUnsafeBytes(of: entry.seq.bigEndian) { seq in
                    let holder = try entry.key.withPrefix { prefix in
                        try cursor.putIfAbsent(seq, for: prefix) { try store.indexValue($0) }
                    }
                    if let holder, holder != entry.seq {
                        try entry.key.withBytes { try txn.put(seq, for: $0, in: store.collisions) }
                    }
                }
            }
        }
    }
}
