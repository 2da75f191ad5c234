import Crypto
@testable import Events
import Foundation
import LMDB
import TickfoldTesting

/// Records shaped like canonical envelopes (~300 bytes); the id is the SHA-256 of the bytes,
/// which lets `verifyStorage(rehash:)` recompute it.
enum LogFixtures {
    static let symbols = ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOG", "META", "BTC", "ETH", "SPY"]

    static func json(_ n: Int, tag: String = "") -> [UInt8] {
        let symbol = symbols[n % symbols.count]
        let close = 100 + (n * 7919) % 90_000
        return Array(#"{"id":"","observedAt":"2026-11-23T08:00:\#(String(format: "%02d", n % 60)).000Z","occurredAt":"2026-11-\#(String(format: "%02d", 1 + n % 28))T00:00:00.000Z","payload":{"adjClose":"\#(close).\#(n % 97)","close":"\#(close).\#(n % 89)","high":"\#(close + 3).25","low":"\#(close - 2).75","open":"\#(close).10","volume":"\#(n * 1031 % 9_000_000)"},"provenance":{"fetch":"yahoo-daily-\#(n / 100)\#(tag)"},"source":"yahoo","subject":"\#(symbol)","type":"bar.daily","version":1}"#.utf8)
    }

    static func id(of bytes: [UInt8]) -> EventID {
        EventID(bytes: Array(SHA256.hash(data: bytes)))!
    }

    static func record(_ n: Int, tag: String = "") -> LogRecord {
        let bytes = json(n, tag: tag)
        return LogRecord(id: id(of: bytes), canonicalJSON: bytes)
    }

    /// A ~1.3 KB record: large enough to be zstd-compressed (with a checksum) without a dictionary.
    static func largeRecord(_ n: Int) -> LogRecord {
        let bytes = Array((0..<4).flatMap { json(n, tag: "-\($0)") })
        return LogRecord(id: id(of: bytes), canonicalJSON: bytes)
    }

    static func records(_ range: Range<Int>, tag: String = "") -> [LogRecord] {
        range.map { record($0, tag: tag) }
    }

    /// A fresh log directory inside a temporary directory removed after the test.
    static func directory() throws -> (TemporaryDirectory, String) {
        let temporary = try TemporaryDirectory("eventlog")
        return (temporary, temporary.file("log"))
    }

    /// Runs `body` in a write transaction straight on the closed log at `path`, with its
    /// `events` and `meta` databases: to inspect stored values or damage them.
    static func withStorage<R>(_ path: String, _ body: (LMDBWriteTransaction, _ events: LMDBDatabase, _ meta: LMDBDatabase) throws -> R) throws -> R {
        let environment = try LMDBEnvironment(path: path, maxDatabases: 4)
        let events = try environment.openDatabase(named: "events")
        let meta = try environment.openDatabase(named: "meta")
        return try environment.write { try body($0, events, meta) }
    }

    /// The `events` key of `seq`.
    static func key(_ seq: UInt64) -> [UInt8] { withUnsafeBytes(of: seq.bigEndian) { Array($0) } }

    /// The first seq of every value in `events`, in order.
    static func valueKeys(_ txn: LMDBReadTransaction, _ events: LMDBDatabase) throws -> [UInt64] {
        var keys: [UInt64] = []
        try txn.forEach(in: events) { key, _ in
            keys.append(UInt64(bigEndian: key.loadUnaligned(as: UInt64.self)))
            return true
        }
        return keys
    }

    /// The meta `indexedThrough`: every event up to it is in `ids` (nil when absent).
    static func indexedThrough(_ txn: LMDBReadTransaction, _ meta: LMDBDatabase) throws -> UInt64? {
        try txn.get(Array("indexedThrough".utf8), in: meta).map { bytes in bytes.withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) } }
    }

    /// How many entries the `ids` index of the closed log at `path` holds.
    static func indexEntries(_ path: String) throws -> Int {
        let environment = try LMDBEnvironment(path: path, maxDatabases: 4)
        let ids = try environment.openDatabase(named: "ids")
        return try environment.read { txn in
            var count = 0
            try txn.forEach(in: ids) { _, _ in
                count += 1
                return true
            }
            return count
        }
    }

    /// The format version stored in the log's meta.
    static func storedFormat(_ txn: LMDBReadTransaction, _ meta: LMDBDatabase) throws -> UInt32? {
        try txn.get(Array("format".utf8), in: meta).map { bytes in bytes.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) } }
    }

    /// Stores `pairs` in `database` of the log at `path` from another process (LMDB's mdb_load).
    static func load(_ pairs: [([UInt8], [UInt8])], into database: String, of path: String) throws {
        let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) }.joined() }
        let body = pairs.map { " \(hex($0.0))\n \(hex($0.1))\n" }.joined()
        let dump = "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n\(body)DATA=END\n"
        let loader = Process()
        loader.executableURL = URL(fileURLWithPath: "/usr/bin/mdb_load")
        loader.arguments = ["-s", database, "-N", path]
        let input = Pipe()
        loader.standardInput = input
        try loader.run()
        try input.fileHandleForWriting.write(contentsOf: Data(dump.utf8))
        try input.fileHandleForWriting.close()
        loader.waitUntilExit()
        guard loader.terminationStatus == 0 else { throw LMDBLoadFailed(database: database, status: loader.terminationStatus) }
    }
}

/// `mdb_load` refused a dump.
struct LMDBLoadFailed: Error {
    let database: String
    let status: Int32
}

