@testable import Events
import Foundation
import LMDB
import Testing
import TickfoldTesting
import Zstd

@Suite("EventLog decoded reads on several threads", .onTestThreads)
struct EventLogDecodedReadTests {
    /// A log of `count` mixed sample events, appended in calls that end blocks early and late,
    /// with a dictionary trained half-way: raw, zstd and dictionary blocks.
    static func sampleLog(_ path: String, count: Int) throws -> (EventLog, [Event]) {
        let events = try EventCodecBenchmark.sampleEvents(count: count, seed: 11)
        let log = try EventLog(directory: path, options: EventLogOptions(durability: .noSync, dictionaryTrainingThreshold: nil))
        var start = 0
        var trained = false
        for size in [1, 63, 64, 65, 130, 5_000] + Array(repeating: 4_000, count: count / 4_000 + 1) where start < count {
            if !trained && start >= count / 2 {
                try log.trainDictionary(sampleCount: start, capacity: 8 << 10)
                trained = true
            }
            let end = min(start + size, count)
            _ = try log.appendBlocking(events: Array(events[start..<end]))
            start = end
        }
        return (log, events)
    }

    /// What a one-thread `forEach` plus `EventDecoder` reads from `seq` through `end`, at most `limit`.
    static func decodedOneByOne(_ log: EventLog, from seq: UInt64, through end: UInt64, limit: Int) throws -> [Event] {
        var decoder = EventDecoder()
        var events: [Event] = []
        try log.forEach(from: seq, through: end) { view in
            guard events.count < limit else { return }
            var event = try decoder.decode(view.canonicalJSON, verification: .trustStored)
            event.seq = view.seq
            events.append(event)
        }
        return events
    }

    @Test("events(from:through:limit:) on 1–4 threads equals a one-by-one decode for every shape of range, across read chunks")
    func equalsOneByOne() throws {
        let (temporary, path) = try LogFixtures.directory()
        let count = LogStore.scanChunk + 3_700
        let (log, events) = try Self.sampleLog(path, count: count)
        defer { log.close() }
        let last = UInt64(count)
        let all = try Self.decodedOneByOne(log, from: 1, through: .max, limit: .max)
        #expect(all.count == count)
        #expect(all.map(\.id) == events.map(\.id) && all.map(\.seq) == (1...last).map { Optional($0) })

        let ranges: [(from: UInt64, through: UInt64, limit: Int)] = [
            (1, .max, .max), (0, .max, 50_000), (1, .max, LogStore.scanChunk), (2, .max, LogStore.scanChunk + 1),
            (64, 130, 1_000), (65, 129, 64), (100, 9_000, 2_500), (last - 5, .max, 3), (last, .max, 10),
            (last + 1, .max, 10), (500, 499, 10), (10, .max, 0), (7_000, last - 1, .max),
        ]
        for parts in 1...4 {
            for range in ranges {
                let expected = Self.slice(of: all, from: range.from, through: range.through, limit: range.limit)
                let read = try log.events(from: range.from, through: range.through, limit: range.limit, parts: parts)
                #expect(read == expected, "\(parts) threads, \(range)")
            }
        }
        let recomputed = try log.events(from: 1, limit: .max, verification: .recompute, parts: 3)
        #expect(recomputed == all)
        _ = temporary
    }

    /// The slice of `all` (seq 1 at index 0) a read would return.
    static func slice(of all: [Event], from seq: UInt64, through end: UInt64, limit: Int) -> [Event] {
        let start = Int(max(seq, 1)) - 1
        guard start < all.count, max(seq, 1) <= end else { return [] }
        let stop = min(all.count, Int(min(end, UInt64(all.count))), start + min(limit, all.count))
        return Array(all[start..<max(start, stop)])
    }

    @Test("a record that does not decode, a damaged frame or header and a missing value fail the read as corrupted at the first bad seq, on any number of threads")
    func failuresAtFirstBadSeq() throws {
        let (temporary, path) = try LogFixtures.directory()
        let good = try EventCodecBenchmark.sampleEvents(count: 12_000, seed: 5).map(EventLog.record(for:))
        let bad = { (n: Int) in LogFixtures.record(n) }  // envelope-shaped, but its id field is empty
        do {
            let log = try EventLog(directory: path, options: EventLogOptions(durability: .noSync))
            _ = try log.appendBlocking(Array(good[..<2_999]) + [bad(1)] + Array(good[2_999..<8_999]) + [bad(2)] + Array(good[8_999...]))
            for parts in 1...4 {
                let error = #expect(throws: EventLogError.self) { _ = try log.events(from: 1, limit: .max, parts: parts) }
                #expect(error?.code == .corrupted && error?.operation == "read event 3000", "\(parts) threads: \(String(describing: error))")
                #expect(error?.message == "its stored envelope does not decode" && error?.underlying is EventError, "\(String(describing: error))")
                let later = #expect(throws: EventLogError.self) { _ = try log.events(from: 3_001, limit: .max, parts: parts) }
                #expect(later?.operation == "read event 9001", "\(parts) threads: \(String(describing: later))")
                #expect(try log.events(from: 1, through: 2_999, limit: .max, parts: parts).count == 2_999)
                #expect(try log.events(from: 3_001, through: 9_000, limit: .max, parts: parts).count == 6_000)
            }
            log.close()
        }
        // Cut the frame of the block at 6,017 short, remove the value at 10,049 and state no
        // records in the header of the last block (11,969–12,002).
        try LogFixtures.withStorage(path) { txn, events, _ in
            var value = try #require(try txn.get(LogFixtures.key(6_017), in: events))
            value.removeLast(20)
            try txn.put(value, for: LogFixtures.key(6_017), in: events)
            #expect(try txn.delete(LogFixtures.key(10_049), in: events))
            var last = try #require(try txn.get(LogFixtures.key(11_969), in: events))
            (last[1], last[2]) = (0, 0)
            try txn.put(last, for: LogFixtures.key(11_969), in: events)
        }
        let log = try EventLog(directory: path, options: .readOnly)
        defer { log.close() }
        // The streaming scan fails on the hole too, rather than passing over it.
        let streamed = #expect(throws: EventLogError.self) { try log.forEach(from: 9_002) { _ in } }
        #expect(streamed?.code == .corrupted && streamed?.operation == "read event 10049", "\(String(describing: streamed))")
        var before = 0
        try log.forEach(from: 9_002, through: 10_048) { _ in before += 1 }
        #expect(before == 1_047)
        #expect(try log.event(at: 10_050) == nil, "a lookup of one seq in the hole finds nothing")
        for parts in 1...4 {
            let damaged = #expect(throws: EventLogError.self) { _ = try log.events(from: 3_001, limit: .max, parts: parts) }
            #expect(damaged?.code == .corrupted && damaged?.operation == "read event 6017", "\(parts) threads: \(String(describing: damaged))")
            let missing = #expect(throws: EventLogError.self) { _ = try log.events(from: 9_002, limit: .max, parts: parts) }
            #expect(missing?.code == .corrupted && missing?.operation == "read event 10049", "\(parts) threads: \(String(describing: missing))")
            #expect(missing?.message == "no stored value holds it, and the next one starts at seq 10113", "\(String(describing: missing))")
            #expect(try log.events(from: 9_002, through: 10_048, limit: .max, parts: parts).count == 1_047)
            let header = #expect(throws: EventLogError.self) { _ = try log.events(from: 10_113, limit: .max, parts: parts) }
            #expect(header?.code == .corrupted && header?.operation == "read event 11969", "\(parts) threads: \(String(describing: header))")
            #expect(try log.events(from: 10_113, through: 11_968, limit: .max, parts: parts).count == 1_856)
            #expect(try log.events(from: 1, through: 2_999, limit: 5_000, parts: parts).count == 2_999, "a damaged last value fails only reads that reach it")
        }
        _ = temporary
    }

    /// How a stored value is damaged: in the raw bytes of an uncompressed value, in a compressed
    /// frame's bytes, or in the JSON of a frame then written again without a checksum.
    enum PayloadDamage: String, CaseIterable, CustomTestStringConvertible {
        case uncompressed, compressedFrame, frameWithoutChecksum
        var testDescription: String { rawValue }
    }

    /// A payload member's colon becomes a semicolon: the brackets and strings a trusting skip
    /// follows are intact, the JSON is not.
    static func breakFirstPayload(_ json: inout [UInt8]) throws {
        let at = try #require(json.firstRange(of: Array(#""payload":{""#.utf8))).upperBound
        let colon = try #require(json[at...].firstIndex(of: UInt8(ascii: ":")))
        json[colon] = UInt8(ascii: ";")
    }

    @Test("a payload damaged in place fails the read: zstd's checksum catches it in a compressed value; an uncompressed value or a frame without a checksum is not taken on trust",
          arguments: PayloadDamage.allCases)
    func damagedPayload(damage: PayloadDamage) throws {
        let compressionLevel: Int? = damage == .uncompressed ? nil : 1
        let (temporary, path) = try LogFixtures.directory()
        let events = try EventCodecBenchmark.sampleEvents(count: 3_000, seed: 9)
        do {
            let log = try EventLog(directory: path, options: EventLogOptions(durability: .noSync, compressionLevel: compressionLevel,
                                                                               dictionaryTrainingThreshold: nil))
            _ = try log.appendBlocking(events: events)
            #expect(try log.events(from: 1, limit: .max).count == events.count)
            log.close()
        }
        let damagedSeq: UInt64 = try LogFixtures.withStorage(path) { txn, database, _ in
            let first = try #require(try LogFixtures.valueKeys(txn, database).last { $0 <= 2_000 })
            var value = try #require(try txn.get(LogFixtures.key(first), in: database))
            switch damage {
            case .uncompressed:
                try Self.breakFirstPayload(&value)
            case .compressedFrame:
                value[value.count - 40] ^= 0x20
            case .frameWithoutChecksum:
                let count = Int(value[1]) << 8 | Int(value[2])
                let frameStart = LogFormat.blockHeaderSize + count * (LogFormat.idSize + 4)
                var json = try ZstdDecompressor().decompress(Array(value[frameStart...]))
                try Self.breakFirstPayload(&json)
                value = Array(value[..<frameStart]) + (try ZstdCompressor(level: 1, checksum: false).compress(json))
            }
            try txn.put(value, for: LogFixtures.key(first), in: database)
            return first
        }
        let log = try EventLog(directory: path, options: .readOnly)
        defer { log.close() }
        for parts in [1, 3] {
            let error = #expect(throws: EventLogError.self) { _ = try log.events(from: 1, limit: .max, parts: parts) }
            #expect(error?.code == .corrupted && error?.operation == "read event \(damagedSeq)", "\(parts) threads: \(String(describing: error))")
            switch damage {
            case .compressedFrame: #expect((error?.underlying as? ZstdError)?.code == .checksumMismatch, "\(String(describing: error))")
            case .uncompressed, .frameWithoutChecksum: #expect(error?.underlying is EventError, "\(String(describing: error))")
            }
        }
        _ = temporary
    }

    @Test("a dictionary another process stored after the reader opened the log is loaded before helper threads decode with it")
    func dictionaryStoredLater() throws {
        let (temporary, source) = try LogFixtures.directory()
        let target = temporary.file("target")
        let events = try EventCodecBenchmark.sampleEvents(count: 9_000, seed: 3)
        // The source log stores the last 6,000 events with a dictionary; the target only the first 3,000.
        do {
            let log = try EventLog(directory: source, options: EventLogOptions(durability: .noSync, dictionaryTrainingThreshold: nil))
            _ = try log.appendBlocking(events: Array(events[..<3_000]))
            try log.trainDictionary(sampleCount: 3_000, capacity: 8 << 10)
            _ = try log.appendBlocking(events: Array(events[3_000...]))
            log.close()
            let other = try EventLog(directory: target, options: EventLogOptions(durability: .noSync, dictionaryTrainingThreshold: nil))
            _ = try other.appendBlocking(events: Array(events[..<3_000]))
            other.close()
        }
        let (dictionaries, values) = try LogFixtures.withStorage(source) { txn, eventsDatabase, meta in
            var dictionaries: [([UInt8], [UInt8])] = []
            try txn.forEach(in: meta, from: LogFormat.MetaKey.dictionaryPrefix) { key, value in
                guard key.starts(with: LogFormat.MetaKey.dictionaryPrefix) else { return false }
                dictionaries.append((Array(key), Array(value)))
                return true
            }
            var values: [([UInt8], [UInt8])] = []
            try txn.forEach(in: eventsDatabase, from: LogFixtures.key(3_001)) { key, value in
                values.append((Array(key), Array(value)))
                return true
            }
            return (dictionaries, values)
        }
        #expect(dictionaries.count == 1 && values.first?.1.first == LogFormat.RecordFormat.zstdDictionaryBlock.rawValue)

        let reader = try EventLog(directory: target, options: .readOnly)
        defer { reader.close() }
        #expect(try reader.events(from: 1, limit: .max).count == 3_000)
        try LogFixtures.load(dictionaries, into: "meta", of: target)
        try LogFixtures.load(values, into: "events", of: target)
        let read = try reader.events(from: 3_001, limit: .max, parts: 2)
        #expect(read.map(\.id) == events[3_000...].map(\.id))
        _ = temporary
    }
}
