import Crypto
import Events
import Foundation
import Testing
import TickfoldTesting

/// A log written by the build before record blocks (format 1: one value per record) must
/// read back byte-exact and keep taking appends.
@Suite("EventLog format 1 compatibility")
struct EventLogV1CompatibilityTests {
    /// `data.mdb` of a format-1 log (compacted with `mdb_copy -c`), written by the build of
    /// commit 4bb7ace from `EventSamples(seed: 0x5eed_0001).events(300)`: 150 events in calls
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
}
