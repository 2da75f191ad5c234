@testable import Events
import Foundation
import LMDB
import Testing
import TickfoldTesting

/// The id index is written late: new ids stay out of `ids` (found through their block headers
/// and the writer's memory) until a run gathers, which is then merged a slice per append.
@Suite("EventLog deferred id index", .onTestThreads)
struct EventLogIndexMergeTests {
    /// The index state of the closed log at `path`: entries in `ids`, and `indexedThrough`.
    private func indexState(_ path: String) throws -> (entries: Int, indexedThrough: UInt64?) {
        let indexedThrough = try LogFixtures.withStorage(path) { txn, _, meta in try LogFixtures.indexedThrough(txn, meta) }
        return (try LogFixtures.indexEntries(path), indexedThrough)
    }

    /// Every record is found by id, and appending it again returns its seq.
    private func checkFound(_ log: EventLog, _ seqs: [(LogRecord, UInt64)]) throws {
        for (record, seq) in seqs { #expect(try log.seq(of: record.id) == seq) }
        #expect(try log.appendBlocking(seqs.map(\.0)) == seqs.map { .duplicate($0.1) })
        #expect(try log.verifyStorage(rehash: LogFixtures.id(of:)).isEmpty)
    }

    @Test("ids stay out of the index until a run gathers; the run merges a slice per append, resumes where it stood after a restart, and only its last slice moves indexedThrough")
    func runLifecycle() throws {
        let (temporary, path) = try LogFixtures.directory()
        let options = EventLogOptions(indexMergeRun: 100)
        let records = LogFixtures.records(0..<200)
        func stored(_ range: Range<Int>) -> [(LogRecord, UInt64)] { range.map { (records[$0], UInt64($0 + 1)) } }
        func session(_ body: (EventLog) throws -> Void) throws {
            let log = try EventLog(directory: path, options: options)
            try body(log)
            log.close()
        }

        try session { log in
            #expect(try log.appendBlocking(Array(records[0..<99])) == (1...99).map { .appended($0) })
            try checkFound(log, stored(0..<99))
        }
        #expect(try indexState(path) == (0, 0))

        // The 100th id freezes the run; the next append merges 5/4 of what it appends.
        try session { log in
            _ = try log.appendBlocking([records[99]])
            _ = try log.appendBlocking(Array(records[100..<110]))
        }
        #expect(try indexState(path) == (13, 0))

        // After a restart the same run (events up to 100) is formed again from the block
        // headers and resumes after the last id merged, which the meta recorded.
        try session { log in
            _ = try log.appendBlocking(Array(records[110..<140]))
            try checkFound(log, stored(0..<140))
        }
        #expect(try indexState(path) == (13 + 38, 0))

        // The run's last slice moves indexedThrough; the 100 events after it freeze the next run.
        try session { log in
            _ = try log.appendBlocking(Array(records[140..<200]))
            try checkFound(log, stored(0..<200))
        }
        #expect(try indexState(path) == (100, 100))

        try session { log in
            #expect(try log.mergeIndex() == 100)
            try checkFound(log, stored(0..<200))
        }
        #expect(try indexState(path) == (200, 200))
        _ = temporary
    }

    @Test("a call that alone brings two runs' worth of new ids indexes the whole tail with them; a bad run size is refused")
    func largeCallIndexesAll() throws {
        let (temporary, path) = try LogFixtures.directory()
        let records = LogFixtures.records(0..<239)
        do {
            let log = try EventLog(directory: path, options: EventLogOptions(indexMergeRun: 50))
            _ = try log.appendBlocking(Array(records[0..<30]))
            // 99 new ids: under two runs, so they join the tail (which freezes a run).
            _ = try log.appendBlocking(Array(records[20..<129]))
            log.close()
        }
        #expect(try indexState(path) == (0, 0))
        do {
            let log = try EventLog(directory: path, options: EventLogOptions(indexMergeRun: 50))
            // 100 new ids: the whole tail is indexed with them.
            _ = try log.appendBlocking(Array(records[100..<229]))
            log.close()
        }
        #expect(try indexState(path) == (229, 229))
        do {
            let log = try EventLog(directory: path, options: EventLogOptions(indexMergeRun: 50))
            _ = try log.appendBlocking(Array(records[229..<239]))
            try checkFound(log, (0..<239).map { (records[$0], UInt64($0 + 1)) })
            log.close()
        }
        #expect(try indexState(path) == (229, 229))
        for run in [0, -1, 1 << 30] {
            let error = #expect(throws: EventLogError.self) { _ = try EventLog(directory: path, options: EventLogOptions(indexMergeRun: run)) }
            #expect(error?.code == .invalidArgument, "\(String(describing: error))")
        }
        _ = temporary
    }

    @Test("a format-3 log without indexedThrough (created, never appended to, by the first format-3 builds) gets it with its first append")
    func missingIndexedThroughIsWritten() throws {
        let (temporary, path) = try LogFixtures.directory()
        try EventLog(directory: path).close()
        try LogFixtures.withStorage(path) { txn, _, meta in
            #expect(try LogFixtures.indexedThrough(txn, meta) == 0)
            try txn.delete(Array("indexedThrough".utf8), in: meta)
        }
        let records = LogFixtures.records(0..<5)
        do {
            let log = try EventLog(directory: path)
            _ = try log.appendBlocking(records)
            log.close()
        }
        #expect(try indexState(path) == (0, 0))
        let log = try EventLog(directory: path)
        try checkFound(log, records.enumerated().map { ($1, UInt64($0 + 1)) })
        _ = temporary
    }

    @Test("random calls with repeats over small runs and restarts: outcomes follow the log's rule, lookups and verify agree")
    func randomAgainstModel() throws {
        let (temporary, path) = try LogFixtures.directory()
        var random = SplitMix64(seed: 0x1d_e4_0001)
        let pool = LogFixtures.records(0..<3_000)
        var model: [EventID: UInt64] = [:]
        var lastSeq: UInt64 = 0
        var log = try EventLog(directory: path, options: EventLogOptions(indexMergeRun: 64))
        for call in 0..<60 {
            if call % 7 == 6 {
                log.close()
                log = try EventLog(directory: path, options: EventLogOptions(indexMergeRun: 64))
            }
            let size = Int.random(in: 1...250, using: &random)
            // Mostly fresh records from a moving window, with repeats of older ones and of
            // the call's own.
            let window = min(pool.count, 60 * (call + 1))
            let records = (0..<size).map { _ in pool[Int.random(in: 0..<window, using: &random)] }
            var expected: [AppendOutcome] = []
            for record in records {
                if let seq = model[record.id] {
                    expected.append(.duplicate(seq))
                } else {
                    lastSeq += 1
                    model[record.id] = lastSeq
                    expected.append(.appended(lastSeq))
                }
            }
            #expect(try log.appendBlocking(records) == expected, "call \(call)")
        }
        for (id, seq) in model { #expect(try log.seq(of: id) == seq) }
        #expect(try log.seq(of: LogFixtures.record(9_999).id) == nil)
        #expect(try log.verifyStorage(rehash: LogFixtures.id(of:)).isEmpty)
        log.close()
        let state = try indexState(path)
        #expect(state.entries > 0 && state.indexedThrough.map { $0 > 0 && $0 <= lastSeq } == true, "\(state)")
        _ = temporary
    }

    @Test("ids sharing a prefix are told apart whether indexed, in a merging run or not yet merged")
    func prefixCollisionsAcrossTheTail() throws {
        let (temporary, path) = try LogFixtures.directory()
        let prefix = [UInt8](repeating: 0xCD, count: 16)
        func colliding(_ tail: UInt8) -> LogRecord {
            LogRecord(id: EventID(bytes: prefix + [UInt8](repeating: tail, count: 16))!, canonicalJSON: LogFixtures.json(Int(tail)))
        }
        let (x, y, z) = (colliding(1), colliding(2), colliding(3))
        let log = try EventLog(directory: path, options: EventLogOptions(indexMergeRun: 3))
        #expect(try log.appendBlocking([x, LogFixtures.record(0)]) == [.appended(1), .appended(2)])
        #expect(try log.mergeIndex() == 2)
        #expect(try log.appendBlocking([y, LogFixtures.record(1)]) == [.appended(3), .appended(4)])
        #expect(try log.appendBlocking([z, x, y]) == [.appended(5), .duplicate(1), .duplicate(3)])
        #expect(try log.appendBlocking([z, y, x]) == [.duplicate(5), .duplicate(3), .duplicate(1)])
        #expect(try log.verifyStorage().isEmpty)
        #expect(try log.mergeIndex() > 0)
        #expect(try log.appendBlocking([z, y, x, colliding(4)]) == [.duplicate(5), .duplicate(3), .duplicate(1), .appended(6)])
        for (record, seq) in [(x, 1), (y, 3), (z, 5), (colliding(4), 6)] as [(LogRecord, UInt64)] {
            #expect(try log.seq(of: record.id) == seq)
        }
        #expect(try log.seq(of: colliding(9).id) == nil)
        #expect(try log.verifyStorage().isEmpty)
        _ = temporary
    }

    @Test("verify reports an id repeated among unindexed events and an indexedThrough past the last event")
    func verifyTail() throws {
        let (temporary, path) = try LogFixtures.directory()
        do {
            let log = try EventLog(directory: path)
            _ = try log.appendBlocking(LogFixtures.records(0..<10))
            log.close()
        }
        try LogFixtures.withStorage(path) { txn, events, _ in
            var block = try #require(try txn.get(LogFixtures.key(1), in: events))
            let id = { (seq: Int) in LogFormat.blockHeaderSize + (seq - 1) * LogFormat.idSize }
            block.replaceSubrange(id(7)..<id(8), with: block[id(3)..<id(4)])
            try txn.put(block, for: LogFixtures.key(1), in: events)
        }
        do {
            let log = try EventLog(directory: path, options: .readOnly)
            let problems = try log.verifyStorage()
            #expect(problems.count == 1, "\(problems)")
            #expect(problems.contains { if case .repeatedID(seq: 7, _, firstSeq: 3) = $0 { true } else { false } }, "\(problems)")
            log.close()
        }
        try LogFixtures.withStorage(path) { txn, _, meta in
            try txn.put(withUnsafeBytes(of: UInt64(12).bigEndian) { Array($0) }, for: Array("indexedThrough".utf8), in: meta)
        }
        let problems = try EventLog(directory: path, options: .readOnly).verifyStorage()
        #expect(problems.contains { if case .counterMismatch("indexedThrough", 12, 10) = $0 { true } else { false } }, "\(problems)")
        #expect(problems.contains { if case .missingIndexEntry(seq: 10, _) = $0 { true } else { false } }, "\(problems)")
        _ = temporary
    }
}

@Suite("IndexFilter", .onTestThreads)
struct IndexFilterTests {
    private func key(_ random: inout SplitMix64) -> IDKey {
        let words = (0..<4).map { _ in random.next().bigEndian }
        return words.withUnsafeBytes { IDKey($0) }
    }

    @Test("never misses a key it was given, also past its capacity, and lets few absent keys through")
    func filter() {
        var random = SplitMix64(seed: 0xf1_17e4)
        var filter = IndexFilter(expected: 5_000)
        let present = (0..<40_000).map { _ in key(&random) }
        for key in present { filter.insert(key) }
        #expect(present.allSatisfy { filter.mayContain($0) })
        let falsePositives = (0..<40_000).filter { _ in filter.mayContain(key(&random)) }.count
        #expect(falsePositives < 2_000, "\(falsePositives) of 40,000 absent keys pass")
    }
}
