import Foundation
import LMDB
import Testing
import TickfoldTesting

@Suite("LMDB environment", .onTestThreads)
struct LMDBEnvironmentTests {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory("lmdb")
    }

    private func open(mapSize: Int = 16 << 20, flags: LMDBEnvironment.Flags = [.noTLS]) throws -> LMDBEnvironment {
        try LMDBEnvironment(path: directory.path, mapSize: mapSize, maxDatabases: 4, flags: flags)
    }

    private func key(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.bigEndian) { Array($0) } }

    @Test("put, get, overwrite and delete round-trip bytes")
    func putGetDelete() throws {
        let env = try open()
        let db = try env.openDatabase(named: "kv", create: true)
        try env.write { txn in
            try txn.put(Array("one".utf8), for: Array("a".utf8), in: db)
            try txn.put(Array("two".utf8), for: Array("b".utf8), in: db)
            try txn.put(Array("uno".utf8), for: Array("a".utf8), in: db)
        }
        try env.read { txn throws in
            #expect(try txn.get(Array("a".utf8), in: db) == Array("uno".utf8))
            #expect(try txn.get(Array("b".utf8), in: db) == Array("two".utf8))
            #expect(try txn.get(Array("c".utf8), in: db) == nil)
            let size = try txn.withValue(for: Array("b".utf8), in: db) { $0?.count }
            #expect(size == 3)
            #expect(try txn.stat(db).entries == 2)
        }
        let removed = try env.write { txn in
            (try txn.delete(Array("a".utf8), in: db), try txn.delete(Array("zz".utf8), in: db))
        }
        #expect(removed == (true, false))
        #expect(try env.read { try $0.get(Array("a".utf8), in: db) } == nil)
    }

    @Test("cursors iterate ranges in key order and seek to the first key at or after a bound")
    func cursorRanges() throws {
        let env = try open()
        let db = try env.openDatabase(named: "seq", create: true)
        try env.write { txn in
            for n in stride(from: UInt64(2), through: 40, by: 2) {
                try txn.put(Array("v\(n)".utf8), for: key(n), in: db, flags: .append)
            }
        }
        try env.read { txn throws in
            let range = try txn.entries(in: db, from: key(7), upTo: key(15))
            #expect(range.map { String(decoding: $0.value, as: UTF8.self) } == ["v8", "v10", "v12", "v14"])
            let limited = try txn.entries(in: db, from: key(30), limit: 2)
            #expect(limited.map(\.key) == [key(30), key(32)])
            #expect(try txn.entries(in: db, from: key(41)).isEmpty)
            try txn.withCursor(on: db) { cursor throws in
                #expect(try cursor.last().map { Array($0.key) } == key(40))
                #expect(try cursor.previous().map { Array($0.key) } == key(38))
                #expect(try cursor.seek(exactly: key(3)) == nil)
                #expect(try cursor.seek(exactly: key(4)).map { Array($0.value) } == Array("v4".utf8))
                #expect(try cursor.next().map { Array($0.key) } == key(6))
            }
        }
    }

    @Test("dupSort databases keep several sorted values per key")
    func duplicates() throws {
        let env = try open()
        let db = try env.openDatabase(named: "dups", flags: [.dupSort], create: true)
        try env.write { txn in
            for value in ["c", "a", "b"] { try txn.put(Array(value.utf8), for: Array("k".utf8), in: db) }
            try txn.delete(Array("k".utf8), value: Array("b".utf8), in: db)
        }
        let values = try env.read { txn throws in
            try txn.withCursor(on: db) { cursor -> [String] in
                var out: [String] = []
                var entry = try cursor.seek(exactly: Array("k".utf8))
                while let e = entry {
                    out.append(String(decoding: e.value, as: UTF8.self))
                    entry = try cursor.nextDuplicate()
                }
                return out
            }
        }
        #expect(values == ["a", "c"])
    }

    @Test("append out of order and noOverwrite on an existing key fail with keyExists")
    func appendOrdering() throws {
        let env = try open()
        let db = try env.openDatabase(named: "seq", create: true)
        try env.write { try $0.put([1], for: key(10), in: db, flags: .append) }
        let error = #expect(throws: LMDBError.self) {
            try env.write { try $0.put([2], for: key(5), in: db, flags: .append) }
        }
        #expect(error?.code == .keyExists)
        #expect(error?.description.contains("MDB_KEYEXIST") == true)
        let overwrite = #expect(throws: LMDBError.self) {
            try env.write { try $0.put([3], for: key(10), in: db, flags: .noOverwrite) }
        }
        #expect(overwrite?.code == .keyExists)
        let (existing, added) = try env.write { txn in
            try txn.withCursor(on: db) { cursor in
                try [UInt8]([9]).withUnsafeBytes { v in
                    (try key(10).withUnsafeBytes { try cursor.putIfAbsent(v, for: $0) { Array($0) } },
                     try key(11).withUnsafeBytes { try cursor.putIfAbsent(v, for: $0) { Array($0) } })
                }
            }
        }
        #expect(existing == [1] && added == nil)
        #expect(try env.read { try $0.get(key(11), in: db) } == [9])
        #expect(try env.read { try $0.stat(db).entries } == 2)
    }

    @Test("a full map fails with mapFull, and growing the map lets the same write succeed")
    func mapFullThenGrow() throws {
        let env = try open(mapSize: 256 << 10)
        let db = try env.openDatabase(named: "big", create: true)
        let value = [UInt8](repeating: 7, count: 4096)
        let writeMany = {
            try env.write { txn in
                for n in UInt64(0)..<200 { try txn.put(value, for: self.key(n), in: db) }
            }
        }
        let error = #expect(throws: LMDBError.self) { try writeMany() }
        #expect(error?.code == .mapFull)
        #expect(try env.read { try $0.stat(db).entries } == 0)
        try env.setMapSize(4 << 20)
        try writeMany()
        #expect(try env.read { try $0.stat(db).entries } == 200)
        #expect(env.info().mapSize == 4 << 20)

        let grown = try env.write(growingMapUpTo: 64 << 20) { txn in
            for n in UInt64(200)..<3000 { try txn.put(value, for: self.key(n), in: db) }
            return true
        }
        #expect(grown)
        #expect(env.info().mapSize > 4 << 20)
        #expect(env.info().lastTransactionID >= 2)
    }

    @Test("files are created with mode 0600")
    func fileMode() throws {
        let env = try open()
        _ = try env.openDatabase(named: "x", create: true)
        for name in ["data.mdb", "lock.mdb"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory.file(name))
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(name)")
        }
    }

    @Test("garbage over a closed environment's data file is reported, not a crash")
    func corruptedFile() throws {
        do {
            let env = try open()
            let db = try env.openDatabase(named: "x", create: true)
            try env.write { try $0.put([1, 2, 3], for: [1], in: db) }
        }
        let path = directory.file("data.mdb")
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        var generator = SystemRandomNumberGenerator()
        let garbage = Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try garbage.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: LMDBError.self) { _ = try open() }
        #expect(error?.code == .versionMismatch || error?.code == .corrupted)
        #expect(error?.operation.contains("mdb_env_open") == true)
    }

    @Test("opening a missing environment read-only reports noSuchFile")
    func missing() throws {
        let error = #expect(throws: LMDBError.self) {
            _ = try LMDBEnvironment(path: directory.file("absent"), flags: [.readOnly])
        }
        #expect(error?.code == .noSuchFile)
    }

    @Test("a read transaction keeps its snapshot while a writer commits")
    func snapshotIsolation() throws {
        let env = try open()
        let db = try env.openDatabase(named: "kv", create: true)
        try env.write { try $0.put([1], for: [0xAA], in: db) }
        try env.read { reader throws in
            #expect(try reader.get([0xAA], in: db) == [1])
            let done = DispatchSemaphore(value: 0)
            Thread {
                defer { done.signal() }
                try? env.write { txn in
                    try txn.put([2], for: [0xAA], in: db)
                    try txn.put([3], for: [0xBB], in: db)
                }
            }.start()
            done.wait()
            #expect(try reader.get([0xAA], in: db) == [1])
            #expect(try reader.get([0xBB], in: db) == nil)
        }
        try env.read { txn throws in
            #expect(try txn.get([0xAA], in: db) == [2])
            #expect(try txn.get([0xBB], in: db) == [3])
        }
    }

    @Test("readerCheck, sync, info and copy work on a live environment")
    func housekeeping() throws {
        let env = try open(flags: [.noTLS, .noSync])
        let db = try env.openDatabase(named: "kv", create: true)
        try env.write { try $0.put([1], for: [1], in: db) }
        #expect(try env.readerCheck() == 0)
        try env.sync(force: true)
        #expect(env.info().mapSize == 16 << 20)
        #expect(env.stat().pageSize >= 4096)
        #expect(env.maxKeySize == 511)
        let copyDirectory = try TemporaryDirectory("lmdb-copy")
        try env.copy(to: copyDirectory.path, compact: true)
        let copy = try LMDBEnvironment(path: copyDirectory.path, maxDatabases: 4, flags: [.readOnly, .noTLS])
        let copied = try copy.openDatabase(named: "kv")
        #expect(try copy.read { try $0.get([1], in: copied) } == [1])
    }
}
