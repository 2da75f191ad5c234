import Dispatch
import LMDB
import Zstd

extension LogStore {
    /// The records each part of a read transaction's values gets at least (about a millisecond
    /// of work): fewer than twice this many are decoded on the calling thread alone.
    static let minimumRecordsPerPart = 1_024

    /// Events `start...end` decoded, at most `limit` of them, in order with their seqs set.
    ///
    /// Each read transaction takes about `scanChunk` records. Their values are decompressed and
    /// decoded on `parts` threads at once, each writing its contiguous share of the result in
    /// place (decompression is a third of the work, decoding the rest: both spread). The result
    /// equals a one-thread read's, and a failure is the one a one-thread read meets first.
    func decodedEvents(from start: UInt64, through end: UInt64, limit: Int, verification: IDVerification, parts: Int) throws -> [Event] {
        let first = max(start, 1)
        guard first <= end, limit > 0 else { return [] }
        let last = try read("read last seq") { try seqBound($0) }
        guard last >= first else { return [] }
        let capacity = Int(min(min(end, last) - first, UInt64(limit - 1)) + 1)
        return try [Event](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            var next = first
            while initialized < capacity {
                let through = next + UInt64(min(capacity - initialized, Self.scanChunk)) - 1
                let output = UnsafeMutableBufferPointer(rebasing: buffer[initialized...])
                let written = try read("read events from \(next)") { txn in
                    try decodeChunk(from: next, through: through, into: output, verification: verification, parts: parts, txn)
                }
                guard written > 0 else { break }
                initialized += written
                next += UInt64(written)
            }
        }
    }

    /// The snapshot's last seq, or when the last value's header is damaged, the last seq such a
    /// value could hold: a read that does not reach it must not fail on it, and one that does
    /// reports it when it gets there.
    private func seqBound(_ txn: LMDBReadTransaction) throws -> UInt64 {
        try txn.withCursor(on: events) { cursor in
            guard let last = try cursor.last() else { return 0 }
            let first = try seq(of: last.key)
            let count = (try? StoredValue(last.value, first: first, operation: "read last seq").count) ?? LogFormat.maximumBlockRecords
            return first + UInt64(count) - 1
        }
    }

    /// Decodes the records `next...through` of one snapshot into `output` (from its start) and
    /// returns how many it wrote. On failure nothing is left initialized in `output`.
    private func decodeChunk(from next: UInt64, through end: UInt64, into output: UnsafeMutableBufferPointer<Event>,
                             verification: IDVerification, parts: Int, _ txn: LMDBReadTransaction) throws -> Int {
        var touched = MappedSpan()
        defer { touched.release() }
        let slices = try valueSlices(from: next, through: end, txn, touching: &touched)
        guard let lastSlice = slices.last else { return 0 }
        let count = lastSlice.offset + lastSlice.count
        precondition(count <= output.count, "a chunk holds at most the records asked for")
        try loadMissingDictionaries(for: slices, txn)

        let job = DecodeJob(slices: slices, output: output, parts: Swift.min(parts, count / Self.minimumRecordsPerPart))
        if job.parts <= 1 {
            job.decode(part: 0, store: self, verification: verification)
        } else {
            DispatchQueue.concurrentPerform(iterations: job.parts) { part in
                job.decode(part: part, store: self, verification: verification)
            }
        }
        return try job.outcome()
    }

    /// The stored values holding `next...end`, each with the records wanted from it and where
    /// they go in the chunk's output. Seqs are dense, so a value that does not start where the
    /// previous one ended means damage, not a hole to skip. A damaged value ends the slices
    /// early: the records before it are decoded first (they may hold an earlier failure), and
    /// the next chunk, starting at it, reports it.
    private func valueSlices(from next: UInt64, through end: UInt64, _ txn: LMDBReadTransaction,
                             touching touched: inout MappedSpan) throws -> [ValueSlice] {
        try txn.withCursor(on: events) { cursor in
            var slices: [ValueSlice] = []
            var expected = next
            var entry = try seekValue(holding: next, cursor)
            while let current = entry, expected <= end {
                do {
                    let first = try seq(of: current.key)
                    guard first <= expected else { throw Self.missingValue(at: expected, nextStoredAt: first) }
                    let stored = try StoredValue(current.value, first: first, operation: "read event \(expected)")
                    let through = Swift.min(first + UInt64(stored.count) - 1, end)
                    if through >= expected {
                        touched.include(current.value)
                        let dictionary = stored.format.compression == .zstdDictionary ? Zstd.dictionaryID(ofFrame: stored.payload) : nil
                        slices.append(ValueSlice(first: first, value: current.value, dictionary: dictionary, from: expected,
                                                 count: Int(through - expected + 1), offset: Int(expected - next)))
                        expected = through + 1
                    }
                } catch {
                    if slices.isEmpty { throw error }
                    return slices
                }
                entry = try cursor.next()
            }
            return slices
        }
    }

    /// Loads, on the calling thread, any dictionary the slices need that is not cached yet, so
    /// that helper threads never touch the transaction.
    private func loadMissingDictionaries(for slices: [ValueSlice], _ txn: LMDBReadTransaction) throws {
        if slices.contains(where: { slice in slice.dictionary.map { dictionaries[id: $0] == nil } ?? false }) {
            try dictionaries.load(from: txn, meta: meta)
        }
    }
}

/// One stored value of a chunk, and the records `from..<from + count` wanted from it.
private struct ValueSlice {
    let first: UInt64
    let value: UnsafeRawBufferPointer
    /// The dictionary its frame names, if any.
    let dictionary: UInt32?
    let from: UInt64
    let count: Int
    /// Where the value's first wanted record goes in the chunk's output.
    let offset: Int
}

/// A chunk's values split into contiguous parts of about equal record counts, decoded into
/// one output buffer.
///
/// `@unchecked Sendable`: the slices point into the map of a read transaction the caller holds
/// open until every part is done; each part writes only its own range of `output` and its own
/// slot of `results`, which are read only after `concurrentPerform` returned.
private final class DecodeJob: @unchecked Sendable {
    let slices: [ValueSlice]
    let output: UnsafeMutableBufferPointer<Event>
    let parts: Int
    /// Each part's first slice; `starts[parts]` is `slices.count`.
    private let starts: [Int]
    /// One slot per part: records written, or why the part failed.
    private let results: UnsafeMutableBufferPointer<Result<Int, EventLogError>?>

    init(slices: [ValueSlice], output: UnsafeMutableBufferPointer<Event>, parts: Int) {
        self.slices = slices
        self.output = output
        self.parts = Swift.max(parts, 1)
        let total = slices.last.map { $0.offset + $0.count } ?? 0
        var starts = [0]
        for part in 1..<self.parts {
            let target = total * part / self.parts
            let start = slices[starts[part - 1]...].firstIndex { $0.offset >= target } ?? slices.count
            starts.append(start)
        }
        starts.append(slices.count)
        self.starts = starts
        results = .allocate(capacity: self.parts)
        results.initialize(repeating: nil)
    }

    deinit {
        results.deinitialize()
        results.deallocate()
    }

    /// Decodes part `part`'s records into place; on failure deinitializes what it wrote.
    func decode(part: Int, store: LogStore, verification: IDVerification) {
        let range = starts[part]..<starts[part + 1]
        guard let firstSlice = range.first.map({ slices[$0] }) else { return record(.success(0), part) }
        let base = output.baseAddress! + firstSlice.offset
        var written = 0
        do {
            var records = try RecordDecoder(dictionaries: store.dictionaries, meta: store.meta)
            var decoder = EventDecoder()
            for slice in slices[range] {
                let last = slice.from + UInt64(slice.count) - 1
                try records.decode(first: slice.first, value: slice.value, reading: slice.from, dictionaries: .cacheOnly) { decoded in
                    let verification = verification.forStored(decoded.stored)
                    _ = try decoded.forEach(from: slice.from) { view in
                        guard view.seq <= last else { return false }
                        var event: Event
                        do {
                            event = try decoder.decode(view.canonicalJSON, verification: verification)
                        } catch {
                            throw EventLogError(.corrupted, operation: "read event \(view.seq)",
                                                message: "its stored envelope does not decode", underlying: error)
                        }
                        event.seq = view.seq
                        (base + written).initialize(to: event)
                        written += 1
                        return true
                    }
                }
            }
            record(.success(written), part)
        } catch {
            base.deinitialize(count: written)
            record(.failure(EventLogError.wrap(error, operation: "read event \(firstSlice.from + UInt64(written))")), part)
        }
    }

    private func record(_ result: Result<Int, EventLogError>, _ part: Int) {
        results[part] = result
    }

    /// The records written, or the first part's failure after deinitializing every other
    /// part's records.
    func outcome() throws(EventLogError) -> Int {
        guard let failed = results.firstIndex(where: { if case .failure = $0 { true } else { false } }) else {
            return results.reduce(0) { total, result in
                if case .success(let written) = result { total + written } else { total }
            }
        }
        for part in 0..<parts where part != failed {
            if case .success(let written) = results[part], written > 0 {
                (output.baseAddress! + slices[starts[part]].offset).deinitialize(count: written)
            }
        }
        guard case .failure(let error) = results[failed] else { preconditionFailure("part \(failed) failed") }
        throw error
    }
}

extension IDVerification {
    /// The verification for records of `stored`: `.trustLog` trusts the payload because zstd's
    /// checksum guards the stored bytes, so a value without one (uncompressed, or a frame
    /// written without the checksum flag) falls back to `.trustStored`.
    func forStored(_ stored: StoredValue) -> IDVerification {
        guard case .trustLog = self else { return self }
        return stored.format.compression != .none && Zstd.hasContentChecksum(frame: stored.payload) ? self : .trustStored
    }
}
