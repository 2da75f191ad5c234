@testable import Events
import Foundation
import LMDB
import Testing
import TickfoldTesting

@Suite("EventLog record blocks", .onTestThreads)
struct EventLogBlockTests {
    static let blockRecords = RecordEncoder.blockRecords

    @Test("calls of 1, B−1, B, B+1 … records make ⌈N/B⌉ blocks (raw, zstd, dictionary); every event reads back by stream, seq, range from any seq and id")
    func blockEdges() throws {
        let b = Self.blockRecords
        let (temporary, path) = try LogFixtures.directory()
        var records: [LogRecord] = []
        var expectedKeys: [UInt64] = []
        do {
            let log = try EventLog(directory: path, options: EventLogOptions(dictionaryTrainingThreshold: nil))
            for size in [1, b - 1, b, b + 1, 2 * b, 2 * b + 1, 1_000] {
                if size == 1_000 { try log.trainDictionary(sampleCount: records.count, capacity: 8 << 10) }
                let call = LogFixtures.records(records.count..<records.count + size)
                expectedKeys += stride(from: records.count + 1, through: records.count + size, by: b).map { UInt64($0) }
                let outcomes = try log.appendBlocking(call)
                #expect(outcomes == (records.count..<records.count + size).map { .appended(UInt64($0 + 1)) })
                records += call
            }
            try checkEveryEvent(log, records)
            #expect(try log.verifyStorage(rehash: LogFixtures.id(of:)).isEmpty)
            log.close()
        }
        let (keys, formats) = try LogFixtures.withStorage(path) { txn, events, _ in
            (try LogFixtures.valueKeys(txn, events), try expectedKeys.map { try #require(try txn.get(LogFixtures.key($0), in: events)?.first) })
        }
        #expect(keys == expectedKeys)
        #expect(formats.first == LogFormat.RecordFormat.rawBlock.rawValue, "a lone small record is stored raw")
        #expect(formats[1] == LogFormat.RecordFormat.zstdBlock.rawValue)
        #expect(formats.last == LogFormat.RecordFormat.zstdDictionaryBlock.rawValue)
        let reader = try EventLog(directory: path, options: .readOnly)
        try checkEveryEvent(reader, records)
        _ = temporary
    }

    /// Reads every event back through every path: one stream, `event(at:)` and a short range
    /// from each seq (in the middle of blocks and across their ends), `seq(of:)` for each id.
    private func checkEveryEvent(_ log: EventLog, _ records: [LogRecord]) throws {
        let all = try log.read(from: 1, limit: .max)
        #expect(all.map(\.canonicalJSON) == records.map(\.canonicalJSON))
        #expect(all.map(\.id) == records.map(\.id))
        #expect(all.map(\.seq) == Array(1...UInt64(records.count)))
        for (index, record) in records.enumerated() {
            let seq = UInt64(index + 1)
            let event = try log.event(at: seq)
            #expect(event?.seq == seq && event?.id == record.id && event?.canonicalJSON == record.canonicalJSON, "seq \(seq)")
            let range = try log.read(from: seq, limit: 3)
            #expect(range.map(\.seq) == Array(seq...min(seq + 2, UInt64(records.count))), "seq \(seq)")
            #expect(range.map(\.canonicalJSON) == records[index..<min(index + 3, records.count)].map(\.canonicalJSON), "seq \(seq)")
            #expect(try log.seq(of: record.id) == seq)
        }
        var streamed: [UInt64] = []
        try log.forEach(from: 60, through: 140) { streamed.append($0.seq) }
        #expect(streamed == Array(60...140))
        #expect(try log.event(at: UInt64(records.count + 1)) == nil)
        #expect(try log.count() == records.count)
        #expect(try log.lastSeq() == UInt64(records.count))
    }

    @Test("a block closes once its JSON reaches the byte limit: large records make short blocks, a huge one ends its block")
    func blockBytes() throws {
        let (temporary, path) = try LogFixtures.directory()
        func record(_ bytes: [UInt8]) -> LogRecord { LogRecord(id: LogFixtures.id(of: bytes), canonicalJSON: bytes) }
        let huge = record(Array((0..<500).flatMap { LogFixtures.json($0, tag: "-huge") }))
        #expect(huge.canonicalJSON.count > RecordEncoder.blockBytes)
        let records = LogFixtures.records(0..<10) + [huge] + (10..<130).map(LogFixtures.largeRecord) + LogFixtures.records(200..<203)
        var expectedKeys: [UInt64] = []
        var bytes = RecordEncoder.blockBytes
        var inBlock = Self.blockRecords
        for (index, record) in records.enumerated() {
            if bytes >= RecordEncoder.blockBytes || inBlock == Self.blockRecords {
                expectedKeys.append(UInt64(index + 1))
                (bytes, inBlock) = (0, 0)
            }
            bytes += record.canonicalJSON.count
            inBlock += 1
        }
        #expect(expectedKeys.count > 3 && expectedKeys[1] == 12, "the huge record closes the first block: \(expectedKeys)")
        do {
            let log = try EventLog(directory: path)
            _ = try log.appendBlocking(records)
            #expect(try log.read(from: 1, limit: .max).map(\.canonicalJSON) == records.map(\.canonicalJSON))
            for seq in [1, 11, 12, 62, 63, 64, 134] {
                #expect(try log.event(at: UInt64(seq))?.canonicalJSON == records[seq - 1].canonicalJSON, "seq \(seq)")
            }
            #expect(try log.verifyStorage(rehash: LogFixtures.id(of:)).isEmpty)
            log.close()
        }
        #expect(try LogFixtures.withStorage(path) { txn, events, _ in try LogFixtures.valueKeys(txn, events) } == expectedKeys)
        _ = temporary
    }

    @Test("an id stored inside a block is deduplicated; a call mixing duplicates and new records stores only the new ones, densely")
    func dedupInsideBlocks() async throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path)
        _ = try await log.append(LogFixtures.records(0..<200))
        #expect(try await log.append([LogFixtures.record(36), LogFixtures.record(100), LogFixtures.record(199), LogFixtures.record(0)])
            == [.duplicate(37), .duplicate(101), .duplicate(200), .duplicate(1)])
        var call: [LogRecord] = []
        var expected: [AppendOutcome] = []
        for n in 200..<300 {
            call.append(LogFixtures.record(n))
            expected.append(.appended(UInt64(n + 1)))
            if n % 10 == 3 {
                call.append(LogFixtures.record(n - 150))
                expected.append(.duplicate(UInt64(n - 149)))
            }
        }
        call.append(LogFixtures.record(250))
        expected.append(.duplicate(251))
        #expect(try await log.append(call) == expected)
        #expect(try log.lastSeq() == 300)
        let all = try log.read(from: 1, limit: .max)
        #expect(all.map(\.canonicalJSON) == (0..<300).map { LogFixtures.json($0) })
        for seq in stride(from: UInt64(190), through: 300, by: 1) {
            #expect(try log.event(at: seq)?.canonicalJSON == LogFixtures.json(Int(seq) - 1))
        }
        #expect(try log.verifyStorage(rehash: LogFixtures.id(of:)).isEmpty)
        log.close()
        let keys = try LogFixtures.withStorage(path) { txn, events, _ in try LogFixtures.valueKeys(txn, events) }
        #expect(keys.count == 6 && keys.prefix(4) == [1, 65, 129, 193] && keys[4] == 201, "\(keys)")
        _ = temporary
    }

    enum Damage: String, CaseIterable, CustomTestStringConvertible {
        case cutInFrame, cutInTable, countZero, countTooLarge, lengthOff, rawLengthOff

        var testDescription: String { rawValue }
    }

    @Test("a damaged block fails reads of its events as corrupted, naming the seq; its neighbours still read, verify reports it",
          arguments: Damage.allCases, [true, false])
    func damagedBlock(_ damage: Damage, indexed: Bool) throws {
        let (temporary, path) = try LogFixtures.directory()
        let records = LogFixtures.records(0..<200)
        let options = EventLogOptions(compressionLevel: damage == .rawLengthOff ? nil : 1)
        do {
            let log = try EventLog(directory: path, options: options)
            _ = try log.appendBlocking(records)
            if indexed { try log.mergeIndex() }
            log.close()
        }
        try LogFixtures.withStorage(path) { txn, events, _ in
            var value = try #require(try txn.get(LogFixtures.key(65), in: events))
            let lengths = LogFormat.blockHeaderSize + Self.blockRecords * LogFormat.idSize
            #expect(value[0] == (damage == .rawLengthOff ? LogFormat.RecordFormat.rawBlock : .zstdBlock).rawValue)
            switch damage {
            case .cutInFrame: value.removeLast(20)
            case .cutInTable: value.removeLast(value.count - 100)
            case .countZero: (value[1], value[2]) = (0, 0)
            case .countTooLarge: value[2] = UInt8(Self.blockRecords + 36)
            case .lengthOff, .rawLengthOff: value[lengths + 3] &+= 1
            }
            try txn.put(value, for: LogFixtures.key(65), in: events)
        }
        // Ids stored in a damaged header are lost: a writer that would need them for dedup
        // (they are not indexed yet) refuses to open rather than risk storing an event twice.
        let headerLost = [.cutInTable, .countZero, .countTooLarge].contains(damage)
        if headerLost && !indexed {
            let refused = #expect(throws: EventLogError.self) { _ = try EventLog(directory: path, options: options) }
            #expect(refused?.code == .corrupted && refused?.operation == "open writer", "\(String(describing: refused))")
            #expect(refused?.message.contains("seq 65") == true, "\(String(describing: refused))")
        }
        let log = try EventLog(directory: path, options: headerLost && !indexed ? .readOnly : options)
        let error = #expect(throws: EventLogError.self) { _ = try log.event(at: 70) }
        #expect(error?.code == .corrupted)
        #expect(error?.operation == "read event 70")
        #expect(error?.message.contains("65") == true, "\(String(describing: error))")
        let scan = #expect(throws: EventLogError.self) { try log.forEach(from: 1) { _ in } }
        #expect(scan?.code == .corrupted && scan?.operation == "read event 65")
        #expect(try log.event(at: 64)?.canonicalJSON == records[63].canonicalJSON)
        #expect(try log.event(at: 129)?.canonicalJSON == records[128].canonicalJSON)
        #expect(try log.event(at: 150)?.canonicalJSON == records[149].canonicalJSON)
        #expect(try log.seq(of: records[149].id) == 150)
        #expect(try log.seq(of: records[10].id) == 11)
        let problems = try log.verifyStorage(rehash: LogFixtures.id(of:))
        #expect(problems.contains { if case .undecodable(seq: 65, _) = $0 { true } else { false } }, "\(problems)")
        #expect(!problems.contains { if case .seqGap = $0 { true } else { false } }, "\(problems)")
        guard !(headerLost && !indexed) else { return }
        // Appending a record of the damaged block again never stores it twice.
        switch Result(catching: { try log.appendBlocking([records[69]]) }) {
        case .success(let outcomes): #expect(outcomes == [.duplicate(70)])
        case .failure(let error): #expect((error as? EventLogError)?.code == .corrupted, "\(error)")
        }
        #expect(try log.appendBlocking([LogFixtures.record(500)]) == [.appended(201)])
        _ = temporary
    }
}
