@testable import Events
import Foundation
import Testing
import TickfoldTesting

@Suite("EventLog appends and reads", .onTestThreads)
struct EventLogAppendTests {
    @Test("appended records read back byte-identical by range, stream, seq and id, also after reopening read-only")
    func roundTrip() throws {
        let (temporary, path) = try LogFixtures.directory()
        let records = LogFixtures.records(0..<1_000)
        do {
            let log = try EventLog(directory: path)
            let outcomes = try log.appendBlocking(records)
            #expect(outcomes == (1...1_000).map { AppendOutcome.appended(UInt64($0)) })
            try check(log, records)
            let stats = try log.stats()
            #expect(stats.count == 1_000 && stats.lastSeq == 1_000)
            #expect(stats.rawBytes == UInt64(records.reduce(0) { $0 + $1.canonicalJSON.count }))
            #expect(try log.verifyStorage(rehash: LogFixtures.id(of:)).isEmpty)
            log.close()
        }
        let reader = try EventLog(directory: path, options: .readOnly)
        try check(reader, records)
        let refused = #expect(throws: EventLogError.self) { _ = try reader.appendBlocking([LogFixtures.record(5_000)]) }
        #expect(refused?.code == .readOnly)
        _ = temporary
    }

    private func check(_ log: EventLog, _ records: [LogRecord]) throws {
        let read = try log.read(from: 1, limit: 5_000)
        #expect(read.map(\.canonicalJSON) == records.map(\.canonicalJSON))
        #expect(read.map(\.id) == records.map(\.id))
        #expect(read.map(\.seq) == (1...UInt64(records.count)).map { $0 })
        #expect(try log.read(from: 998, limit: 10).map(\.seq) == [998, 999, 1_000])
        #expect(try log.read(from: 1_001, limit: 10).isEmpty)
        var streamed = 0
        try log.forEach(from: 10, through: 19) { event in
            #expect(Array(event.canonicalJSON) == records[Int(event.seq) - 1].canonicalJSON)
            #expect(event.id == records[Int(event.seq) - 1].id)
            streamed += 1
        }
        #expect(streamed == 10)
        #expect(try log.event(at: 500)?.canonicalJSON == records[499].canonicalJSON)
        #expect(try log.event(at: 0) == nil)
        #expect(try log.event(at: 1_001) == nil)
        #expect(try log.seq(of: records[776].id) == 777)
        #expect(try log.seq(of: LogFixtures.record(9_999).id) == nil)
        #expect(try log.lastSeq() == 1_000)
        #expect(try log.count() == 1_000)
    }

    #if os(Linux)
    @Test("a long scan hands the map's pages back as it goes: everything reads back, and the mapping does not stay resident")
    func scanReleasesPages() throws {
        let (temporary, path) = try LogFixtures.directory()
        let records = LogFixtures.records(0..<60_000)
        do {
            let log = try EventLog(directory: path, options: EventLogOptions(durability: .noSync))
            _ = try log.appendBlocking(records)
            log.close()
        }
        let reader = try EventLog(directory: path, options: .readOnly)
        defer { reader.close() }
        let fileBytes = try #require(try FileManager.default.attributesOfItem(atPath: path + "/data.mdb")[.size] as? Int)
        #expect(fileBytes > 4 << 20, "a log large enough to span several scan chunks")
        for pass in 0..<2 {
            var read = 0
            try reader.forEach(from: 1) { event in
                if Int(event.seq) % 997 == 0 || event.seq == 60_000 {
                    #expect(Array(event.canonicalJSON) == records[Int(event.seq) - 1].canonicalJSON, "pass \(pass), seq \(event.seq)")
                }
                read += 1
            }
            #expect(read == 60_000)
            let resident = try #require(try Self.residentKilobytes(mapping: path + "/data.mdb"))
            #expect(resident * 1024 < fileBytes / 4, "pass \(pass): \(resident) kB of a \(fileBytes / 1024) kB log stay resident")
        }
        _ = temporary
    }

    /// The resident size of this process's mapping of `file`, from /proc/self/smaps (read to
    /// its end: procfs files report no size).
    private static func residentKilobytes(mapping file: String) throws -> Int? {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        let resolved = URL(fileURLWithPath: file).resolvingSymlinksInPath().path
        var inMapping = false
        var total: Int?
        for line in smaps.split(separator: "\n") {
            if let first = line.first, first.isHexDigit, line.contains("-") {
                inMapping = line.hasSuffix(resolved)
            } else if inMapping, line.hasPrefix("Rss:") {
                total = (total ?? 0) + (Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0)
            }
        }
        return total
    }
    #endif

    @Test("duplicates return the existing seq, within one batch and across batches")
    func dedup() throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path)
        let (a, b, c) = (LogFixtures.record(1), LogFixtures.record(2), LogFixtures.record(3))
        #expect(try log.appendBlocking([a, b, a]) == [.appended(1), .appended(2), .duplicate(1)])
        #expect(try log.appendBlocking([b, c, c, a]) == [.duplicate(2), .appended(3), .duplicate(3), .duplicate(1)])
        #expect(try log.appendBlocking([a]) == [.duplicate(1)])
        #expect(try log.appendBlocking([]) == [])
        #expect(try log.lastSeq() == 3)
        #expect(try log.read(from: 1, limit: 10).map(\.id) == [a.id, b.id, c.id])
        let counters = log.writeCounters
        #expect(counters.appended == 3 && counters.duplicates == 5 && counters.calls == 3)
        #expect(try log.verifyStorage(rehash: LogFixtures.id(of:)).isEmpty)
        _ = temporary
    }

    @Test("ids sharing their 16-byte index prefix are stored, found and deduplicated separately")
    func prefixCollision() throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path)
        let prefix = [UInt8](repeating: 0xAB, count: 16)
        func colliding(_ tail: UInt8) -> LogRecord {
            LogRecord(id: EventID(bytes: prefix + [UInt8](repeating: tail, count: 16))!, canonicalJSON: LogFixtures.json(Int(tail)))
        }
        let (x, y, z) = (colliding(1), colliding(2), colliding(3))
        #expect(try log.appendBlocking([LogFixtures.record(0), x]) == [.appended(1), .appended(2)])
        #expect(try log.appendBlocking([y, x, z, y]) == [.appended(3), .duplicate(2), .appended(4), .duplicate(3)])
        #expect(try log.appendBlocking([z, y]) == [.duplicate(4), .duplicate(3)])
        #expect(try log.seq(of: x.id) == 2)
        #expect(try log.seq(of: y.id) == 3)
        #expect(try log.seq(of: z.id) == 4)
        #expect(try log.seq(of: colliding(9).id) == nil)
        #expect(try log.verifyStorage().isEmpty)
        _ = temporary
    }

    @Test("concurrent appenders get dense unique seqs and are coalesced into fewer transactions")
    func groupCommit() async throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path)
        let tasks = 40, callsPerTask = 10, recordsPerCall = 5
        let outcomes = try await withThrowingTaskGroup(of: [AppendOutcome].self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var outcomes: [AppendOutcome] = []
                    for call in 0..<callsPerTask {
                        let first = (task * callsPerTask + call) * recordsPerCall
                        // Every call also repeats a record of task 0's first call: a cross-caller duplicate.
                        let records = LogFixtures.records(first..<first + recordsPerCall) + [LogFixtures.record(0)]
                        let result = try await log.append(records)
                        #expect(result.count == records.count)
                        outcomes += result.dropLast()
                    }
                    return outcomes
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let total = tasks * callsPerTask * recordsPerCall
        #expect(outcomes.count == total)
        #expect(Set(outcomes.map(\.seq)) == Set(1...UInt64(total)))
        #expect(try log.lastSeq() == UInt64(total))
        let counters = log.writeCounters
        #expect(counters.calls == tasks * callsPerTask)
        #expect(counters.transactions < counters.calls, "\(counters)")
        #expect(counters.appended == total)
        #expect(try log.verifyStorage(rehash: LogFixtures.id(of:)).isEmpty)
        _ = temporary
    }

    @Test("a large call, stored while it is still being compressed, dedups across its parts and survives map growth",
          arguments: [false, true])
    func largeCall(async: Bool) async throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path, options: EventLogOptions(durability: .noSync, initialMapSize: 256 << 10))
        _ = try await log.append(LogFixtures.records(0..<100))
        let numbers = Array(50..<5_000) + Array(0..<4_000) + Array(5_000..<9_000)
        let records = numbers.map { LogFixtures.record($0) }
        let outcomes = async ? try await log.append(records) : try appendBlocking(log, records)
        var firstSeen = Set<Int>()
        let expected = numbers.map { n -> AppendOutcome in
            let first = firstSeen.insert(n).inserted
            return first && n >= 100 ? .appended(UInt64(n + 1)) : .duplicate(UInt64(n + 1))
        }
        #expect(outcomes == expected)
        #expect(try log.lastSeq() == 9_000)
        #expect(log.writeCounters.transactions == 2)
        #expect(try log.verifyStorage(rehash: LogFixtures.id(of:)).isEmpty)
        _ = temporary
    }

    private func appendBlocking(_ log: EventLog, _ records: [LogRecord]) throws -> [AppendOutcome] {
        try log.appendBlocking(records)
    }

    @Test("a tiny initial map grows transparently over many appends")
    func mapGrowth() throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path, options: EventLogOptions(durability: .noSync, initialMapSize: 256 << 10))
        for batch in 0..<20 {
            _ = try log.appendBlocking(LogFixtures.records(batch * 1_000..<(batch + 1) * 1_000))
        }
        #expect(try log.count() == 20_000)
        #expect(try log.event(at: 20_000)?.canonicalJSON == LogFixtures.json(19_999))
        #expect(try log.stats().fileBytes > 256 << 10)
        #expect(try log.verifyStorage().isEmpty)
        _ = temporary
    }

    @Test("a map that may not grow further fails the batch whole with mapLimitReached")
    func mapLimit() throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path, options: EventLogOptions(
            durability: .noSync, initialMapSize: 256 << 10, maximumMapSize: 512 << 10, compressionLevel: nil))
        let error = #expect(throws: EventLogError.self) { _ = try log.appendBlocking(LogFixtures.records(0..<5_000)) }
        #expect(error?.code == .mapLimitReached)
        #expect(try log.count() == 0)
        #expect(try log.appendBlocking([LogFixtures.record(1)]) == [.appended(1)])
        _ = temporary
    }

    @Test("records compressed with a trained dictionary round-trip next to older plain-zstd records")
    func dictionary() throws {
        let (temporary, path) = try LogFixtures.directory()
        let before = LogFixtures.records(0..<2_000)
        let after = LogFixtures.records(2_000..<4_000, tag: "-after")
        do {
            let log = try EventLog(directory: path)
            _ = try log.appendBlocking(before)
            let storedBefore = try log.stats().storedBytes
            let id = try log.trainDictionary(sampleCount: 2_000, capacity: 8 << 10)
            #expect(id != 0)
            _ = try log.appendBlocking(after)
            let storedAfter = try log.stats().storedBytes - storedBefore
            let rawAfter = UInt64(after.reduce(0) { $0 + $1.canonicalJSON.count })
            #expect(storedAfter < rawAfter / 3, "dictionary blocks: \(storedAfter) bytes for \(rawAfter)")
            #expect(try log.read(from: 1, limit: 5_000).map(\.canonicalJSON) == (before + after).map(\.canonicalJSON))
            #expect(try log.verifyStorage(rehash: LogFixtures.id(of:)).isEmpty)
            log.close()
        }
        let formats = try LogFixtures.withStorage(path) { txn, events, _ in
            try [1, 2_001].map { try #require(try txn.get(LogFixtures.key($0), in: events)?.first) }
        }
        #expect(formats == [4, 5], "blocks before the dictionary are plain zstd, blocks after use it")
        let reopened = try EventLog(directory: path)
        #expect(try reopened.appendBlocking([LogFixtures.record(9_000)]) == [.appended(4_001)])
        #expect(try reopened.read(from: 1, limit: 5_000).map(\.canonicalJSON) == (before + after + [LogFixtures.record(9_000)]).map(\.canonicalJSON))
        _ = temporary
    }

    @Test("records far larger than the reader's buffer, incompressible ones and small ones round-trip mixed in one call")
    func mixedSizes() throws {
        let (temporary, path) = try LogFixtures.directory()
        func record(_ bytes: [UInt8]) -> LogRecord { LogRecord(id: LogFixtures.id(of: bytes), canonicalJSON: bytes) }
        var random = SystemRandomNumberGenerator()
        let huge = record(Array((0..<400).flatMap { LogFixtures.json($0) }))
        let incompressible = record((0..<3_000).map { _ in UInt8.random(in: .min ... .max, using: &random) })
        let larger = record(Array((0..<900).flatMap { LogFixtures.json($0, tag: "-larger") }))
        let records = [LogFixtures.record(1), huge, LogFixtures.record(2), incompressible, larger, LogFixtures.largeRecord(3), huge, LogFixtures.record(4)]
        #expect(huge.canonicalJSON.count > 64 << 10 && larger.canonicalJSON.count > huge.canonicalJSON.count)
        let log = try EventLog(directory: path)
        let outcomes = try log.appendBlocking(records)
        #expect(outcomes.map(\.seq) == [1, 2, 3, 4, 5, 6, 2, 7])
        let expected = records.enumerated().filter { $0.offset != 6 }.map(\.element.canonicalJSON)
        var streamed: [[UInt8]] = []
        try log.forEach(from: 1) { streamed.append(Array($0.canonicalJSON)) }
        #expect(streamed == expected)
        #expect(try log.read(from: 1, limit: 10).map(\.canonicalJSON) == expected)
        #expect(try log.event(at: 5)?.canonicalJSON == larger.canonicalJSON)
        let stats = try log.stats()
        #expect(stats.storedBytes < stats.rawBytes / 4, "\(stats)")
        #expect(try log.verifyStorage(rehash: LogFixtures.id(of:)).isEmpty)
        _ = temporary
    }

    @Test("a dictionary is trained automatically once the log reaches the threshold; large records compress without one")
    func automaticDictionary() async throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path, options: EventLogOptions(durability: .noSync, dictionaryTrainingThreshold: 1_000))
        let large = LogRecord(id: LogFixtures.record(100_000).id, canonicalJSON: Array((0..<20).flatMap { LogFixtures.json($0) }))
        _ = try await log.append([large])
        let afterLarge = try log.stats()
        #expect(afterLarge.storedBytes < afterLarge.rawBytes / 2, "\(afterLarge)")
        _ = try await log.append(LogFixtures.records(0..<998))
        #expect(log.activeDictionaryID == nil)
        _ = try await log.append(LogFixtures.records(998..<999))
        let deadline = ContinuousClock.now + .seconds(20)
        while log.activeDictionaryID == nil && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(log.activeDictionaryID != nil)
        let before = try log.stats()
        _ = try await log.append(LogFixtures.records(1_000..<3_000, tag: "-later"))
        let after = try log.stats()
        let ratio = Double(after.rawBytes - before.rawBytes) / Double(after.storedBytes - before.storedBytes)
        #expect(ratio > 2.5, "dictionary compression ratio \(ratio)")
        #expect(try log.verifyStorage(rehash: { $0.count > 1_000 ? large.id : LogFixtures.id(of: $0) }).isEmpty)
        _ = temporary
    }

    @Test("closing while a dictionary trains releases the files before close returns: the log reopens at once")
    func closeDuringTraining() throws {
        for round in 0..<25 {
            let (temporary, path) = try LogFixtures.directory()
            do {
                let log = try EventLog(directory: path, options: EventLogOptions(durability: .noSync, dictionaryTrainingThreshold: 300))
                _ = try log.appendBlocking(LogFixtures.records(0..<400))
                log.close()
            }
            let reader = try EventLog(directory: path, options: .readOnly)
            #expect(try reader.lastSeq() == 400, "round \(round)")
            reader.close()
            _ = temporary
        }
    }

    @Test("checkpoints persist in the log, and a read-only log may not set them")
    func checkpoints() throws {
        let (temporary, path) = try LogFixtures.directory()
        do {
            let log = try EventLog(directory: path)
            #expect(try log.checkpoint(named: "kafka-relay") == nil)
            try log.setCheckpointBlocking(named: "kafka-relay", seq: 42)
            try log.setCheckpointBlocking(named: "kafka-relay", seq: 43)
            try log.setCheckpointBlocking(named: "projector", seq: 7)
            #expect(try log.checkpoint(named: "kafka-relay") == 43)
            let invalid = #expect(throws: EventLogError.self) { try log.setCheckpointBlocking(named: "", seq: 1) }
            #expect(invalid?.code == .invalidArgument)
            log.close()
        }
        let reader = try EventLog(directory: path, options: .readOnly)
        #expect(try reader.checkpoint(named: "kafka-relay") == 43)
        #expect(try reader.checkpoint(named: "projector") == 7)
        let refused = #expect(throws: EventLogError.self) { try reader.setCheckpointBlocking(named: "x", seq: 1) }
        #expect(refused?.code == .readOnly)
        _ = temporary
    }

    @Test("empty records are refused and a closed log refuses everything")
    func misuse() throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path)
        let empty = #expect(throws: EventLogError.self) {
            _ = try log.appendBlocking([LogRecord(id: LogFixtures.record(1).id, canonicalJSON: [])])
        }
        #expect(empty?.code == .invalidArgument)
        log.close()
        let closed = #expect(throws: EventLogError.self) { _ = try log.appendBlocking([LogFixtures.record(1)]) }
        #expect(closed?.code == .closed)
        #expect((try? log.read(from: 1, limit: 1)) == nil)
        _ = temporary
    }
}
