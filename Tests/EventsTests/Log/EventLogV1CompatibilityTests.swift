import Crypto
@testable import Events
import Foundation
import LMDB
import Testing
import TickfoldTesting

/// A log written by the build before record blocks (format 1: one value per record) must
/// read back byte-exact and keep taking appends.
@Suite("EventLog format 1 compatibility", .onTestThreads)
struct EventLogV1CompatibilityTests {
    /// `data.mdb` of a format-1 log (compacted with `mdb_copy -c`), written by the build of
    /// commit 4bb7ace (generator: `MakeV1Fixture.swift` in commit 26e7455) from `EventSamples(seed: 0x5eed_0001).events(300)`: 150 events in calls
    /// of 1, 49 and 100 without a dictionary (148 stored raw, 2 as plain zstd frames), then a
    /// 4 KiB dictionary trained on them, then 150 in calls of 1, 99 and 50 compressed with it;
    /// checkpoint `relay` = 123. Kept in a hidden folder so SwiftPM does not take it for an
    /// undeclared resource of the test target.
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".fixtures/v1-log/data.mdb").path

    /// SHA-256 over every (seq, id, length, canonical JSON) of the fixture, in seq order, as
    /// the writing build read them back.
    static let fixtureDigest = "629afbe0ae199201b23d8bc7c0a16f96f1181cf1f81ad40c77daf45e20c6b01a"
    static let fixtureDictionary: UInt32 = 1_723_070_451

    /// A writable copy of the fixture in a fresh temporary directory.
    static func copyOfFixture() throws -> (TemporaryDirectory, String) {
        let (temporary, path) = try LogFixtures.directory()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture, toPath: "\(path)/data.mdb")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(path)/data.mdb")
        return (temporary, path)
    }

    /// The digest `fixtureDigest` is, over events `1...through`.
    static func digest(_ log: EventLog, through end: UInt64 = .max) throws -> String {
        var hasher = SHA256()
        try log.forEach(from: 1, through: end) { event in
            withUnsafeBytes(of: event.seq.bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(bufferPointer: event.idBytes)
            withUnsafeBytes(of: UInt64(event.canonicalJSON.count).bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(bufferPointer: event.canonicalJSON)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    @Test("the format-1 fixture reads back byte-exact: stream, seq, id, stats, checkpoint, verify")
    func readsFixture() throws {
        let (temporary, path) = try Self.copyOfFixture()
        for options in [EventLogOptions.readOnly, EventLogOptions()] {
            let log = try EventLog(directory: path, options: options)
            #expect(try Self.digest(log) == Self.fixtureDigest)
            #expect(try log.count() == 300)
            #expect(try log.lastSeq() == 300)
            #expect(try log.checkpoint(named: "relay") == 123)
            #expect(try log.verify().isEmpty)
            let stats = try log.stats()
            #expect(stats.storedBytes == 114_109 && stats.rawBytes == 141_150)
            let events = try log.read(from: 1, limit: 1_000)
            #expect(events.count == 300)
            for event in events {
                #expect(try log.event(at: event.seq) == event)
                #expect(try log.seq(of: event.id) == event.seq)
            }
            log.close()
        }
        _ = temporary
    }

    @Test("opening the format-1 fixture for writing leaves it format 1; appending writes blocks after its records, raises it to 3 and leaves its indexed records indexed")
    func appendsToFixture() throws {
        let (temporary, path) = try Self.copyOfFixture()
        try EventLog(directory: path).close()
        #expect(try LogFixtures.withStorage(path) { txn, _, meta in try LogFixtures.storedFormat(txn, meta) } == 1)

        var samples = EventSamples(seed: 0x5eed_0002)
        let fresh = try samples.events(200).map(EventLog.record(for:))
        var old: [StoredEvent] = []
        do {
            let log = try EventLog(directory: path)
            old = try log.read(from: 1, limit: .max)
            #expect(try log.appendBlocking([fresh[0]]) == [.appended(301)])
            // The fixture's records again, as duplicates of single records, mixed with new ones.
            let again = old.map { LogRecord(id: $0.id, canonicalJSON: $0.canonicalJSON) }
            let call = Array(fresh[1..<100]) + again[..<150] + fresh[100..<200] + again[150...]
            let outcomes = try log.appendBlocking(call)
            #expect(outcomes == (302...400).map { .appended($0) } + (1...150).map { .duplicate($0) }
                + (401...500).map { .appended($0) } + (151...300).map { .duplicate($0) })
            try checkMixed(log, old: old, fresh: fresh)
            log.close()
        }
        let keys = try LogFixtures.withStorage(path) { txn, events, meta in
            #expect(try LogFixtures.storedFormat(txn, meta) == 3)
            // The fixture's 300 records were all in `ids`; the new ones are not yet.
            #expect(try LogFixtures.indexedThrough(txn, meta) == 300)
            return try LogFixtures.valueKeys(txn, events)
        }
        #expect(Array(keys.prefix(301)) == Array(1...301), "the fixture's 300 single records, then a block of one")
        #expect(keys.count < 310, "the rest in blocks: \(keys.count) values")
        for options in [EventLogOptions.readOnly, EventLogOptions()] {
            let log = try EventLog(directory: path, options: options)
            try checkMixed(log, old: old, fresh: fresh)
            log.close()
        }
        let reopened = try EventLog(directory: path)
        #expect(try reopened.appendBlocking(events: [try samples.events(1)[0]]) == [.appended(501)])
        #expect(try reopened.verify().isEmpty)
        _ = temporary
    }

    private func checkMixed(_ log: EventLog, old: [StoredEvent], fresh: [LogRecord]) throws {
        #expect(try Self.digest(log, through: 300) == Self.fixtureDigest)
        let all = try log.read(from: 1, limit: .max)
        #expect(all.map(\.canonicalJSON) == old.map(\.canonicalJSON) + fresh.map(\.canonicalJSON))
        #expect(all.map(\.id) == old.map(\.id) + fresh.map(\.id))
        for event in all {
            #expect(try log.event(at: event.seq) == event)
            #expect(try log.seq(of: event.id) == event.seq)
        }
        var crossing: [UInt64] = []
        try log.forEach(from: 295, through: 310) { crossing.append($0.seq) }
        #expect(crossing == Array(295...310))
        let stats = try log.stats()
        #expect(stats.count == 500)
        #expect(stats.rawBytes == 141_150 + UInt64(fresh.reduce(0) { $0 + $1.canonicalJSON.count }))
        #expect(try log.checkpoint(named: "relay") == 123)
        #expect(try log.verify().isEmpty)
    }

    @Test("a damaged format-1 record fails reads of it as corrupted, naming its seq; verify reports it")
    func damagedRecord() throws {
        let (temporary, path) = try Self.copyOfFixture()
        try LogFixtures.withStorage(path) { txn, events, _ in
            var value = try #require(try txn.get(LogFixtures.key(250), in: events))
            #expect(value[0] == 2, "seq 250 is a dictionary-compressed single record")
            for i in value.count - 12..<value.count - 6 { value[i] ^= 0x5A }
            try txn.put(value, for: LogFixtures.key(250), in: events)
        }
        let log = try EventLog(directory: path)
        let error = #expect(throws: EventLogError.self) { _ = try log.event(at: 250) }
        #expect(error?.code == .corrupted && error?.operation == "read event 250")
        #expect(try log.event(at: 249) != nil && log.event(at: 251) != nil)
        let problems = try log.verify()
        #expect(problems.count == 1 && problems.contains { if case .undecodable(seq: 250, _) = $0 { true } else { false } }, "\(problems)")
        _ = temporary
    }
}
