import Events
import Foundation
import LMDB
import Testing
import TickfoldTesting

@Suite("EventLog safety", .onTestThreads)
struct EventLogSafetyTests {
    @Test("a second writer in this process is refused with 'log is held by pid N'")
    func secondWriterInProcess() throws {
        let (temporary, path) = try LogFixtures.directory()
        let first = try EventLog(directory: path)
        let error = #expect(throws: EventLogError.self) { _ = try EventLog(directory: path) }
        #expect(error?.code == .heldByOtherProcess(pid: getpid()))
        #expect(error?.description.contains("log is held by pid \(getpid())") == true)
        let reader = #expect(throws: EventLogError.self) { _ = try EventLog(directory: path, options: .readOnly) }
        #expect(reader?.code == .alreadyOpen)
        first.close()
        let second = try EventLog(directory: path)
        #expect(try second.appendBlocking([LogFixtures.record(1)]) == [.appended(1)])
        _ = temporary
    }

    @Test("after close, a lock this process still shares through a descriptor copy (a child being spawned) is waited for, not reported as held")
    func lingeringOwnLock() throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path)
        // The copy a child keeps between posix_spawn's clone and its exec.
        let original = try #require(Self.descriptor(of: log.directory + "/writer.lock"), "the lock file's descriptor in /proc/self/fd")
        let copy = dup(original)
        try #require(copy >= 0)
        log.close()
        let started = ContinuousClock.now
        Thread.detachNewThread {
            usleep(300_000)
            close(copy)
        }
        let reopened = try EventLog(directory: path)
        #expect(ContinuousClock.now - started >= .milliseconds(200), "opened while the copy still held the lock")
        #expect(try reopened.appendBlocking([LogFixtures.record(1)]) == [.appended(1)])
        reopened.close()
        _ = temporary
    }

    /// The descriptor this process has open on `path`, found in /proc/self/fd.
    private static func descriptor(of path: String) -> Int32? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return entries.compactMap(Int32.init).first { fd in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")) == path
        }
    }

    @Test("a writer lock held by another process names that process; released, the log opens")
    func secondWriterProcess() throws {
        let (temporary, path) = try LogFixtures.directory()
        try EventLog(directory: path).close()
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", """
            import fcntl, os, sys
            f = open(sys.argv[1], 'a+')
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0); f.truncate(); f.write(str(os.getpid())); f.flush()
            print('locked', flush=True)
            sys.stdin.read()
            """, "\(path)/writer.lock"]
        let input = Pipe(), output = Pipe()
        holder.standardInput = input
        holder.standardOutput = output
        try holder.run()
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        #expect(line.hasPrefix("locked"))
        let error = #expect(throws: EventLogError.self) { _ = try EventLog(directory: path) }
        #expect(error?.code == .heldByOtherProcess(pid: holder.processIdentifier))
        #expect(error?.description.contains("log is held by pid \(holder.processIdentifier)") == true)
        let reader = try EventLog(directory: path, options: .readOnly)
        #expect(try reader.lastSeq() == 0)
        reader.close()
        try input.fileHandleForWriting.close()
        holder.waitUntilExit()
        let writer = try EventLog(directory: path)
        #expect(try writer.appendBlocking([LogFixtures.record(1)]) == [.appended(1)])
        _ = temporary
    }

    @Test("the log directory is 0700 and its files 0600")
    func fileModes() throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path)
        _ = try log.appendBlocking([LogFixtures.record(1)])
        func mode(_ file: String) throws -> Int? {
            try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        }
        #expect(try mode(path) == 0o700)
        for name in ["data.mdb", "lock.mdb", "writer.lock"] {
            #expect(try mode("\(path)/\(name)") == 0o600, "\(name)")
        }
        _ = temporary
    }

    @Test("a log written in an unknown format version is refused, stating found and supported versions")
    func incompatibleVersion() throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path)
        _ = try log.appendBlocking([LogFixtures.record(1)])
        log.close()
        do {
            let env = try LMDBEnvironment(path: path, maxDatabases: 4)
            let meta = try env.openDatabase(named: "meta")
            try env.write { try $0.put(withUnsafeBytes(of: UInt32(999).bigEndian) { Array($0) }, for: Array("format".utf8), in: meta) }
        }
        for options in [EventLogOptions(), .readOnly] {
            let error = #expect(throws: EventLogError.self) { _ = try EventLog(directory: path, options: options) }
            #expect(error?.code == .incompatibleFormat(found: 999, supported: 3))
            #expect(error?.description.contains("version 999") == true)
        }
        _ = temporary
    }

    @Test("verify reports a damaged compressed block, a damaged raw block and an altered id; reading fails precisely")
    func corruptedRecords() throws {
        let (temporary, path) = try LogFixtures.directory()
        // Blocks of 64: 1–64 and 65–100 are zstd frames with checksums; a lone small record
        // (101) is stored raw, so only re-hashing can tell its damage.
        let records = (0..<30).map(LogFixtures.largeRecord) + LogFixtures.records(30..<101)
        do {
            let log = try EventLog(directory: path)
            _ = try log.appendBlocking(Array(records[..<100]))
            _ = try log.appendBlocking([records[100]])
            // The index, not the unindexed tail, is what this test damages around.
            #expect(try log.mergeIndex() == 101)
            log.close()
        }
        try LogFixtures.withStorage(path) { txn, events, _ in
            var damaged = try #require(try txn.get(LogFixtures.key(1), in: events))
            for i in damaged.count - 400..<damaged.count - 380 { damaged[i] ^= 0x5A }
            try txn.put(damaged, for: LogFixtures.key(1), in: events)
            var altered = try #require(try txn.get(LogFixtures.key(65), in: events))
            altered[3 + 5 * 32] ^= 0xFF // the id of seq 70
            try txn.put(altered, for: LogFixtures.key(65), in: events)
            var rawDamage = try #require(try txn.get(LogFixtures.key(101), in: events))
            #expect(rawDamage[0] == 3, "seq 101 is stored as a raw block")
            rawDamage[100] ^= 0x01
            try txn.put(rawDamage, for: LogFixtures.key(101), in: events)
        }
        let log = try EventLog(directory: path)
        let problems = try log.verifyStorage(rehash: LogFixtures.id(of:))
        #expect(problems.contains { if case .undecodable(seq: 1, _) = $0 { true } else { false } }, "\(problems)")
        #expect(problems.contains { if case .missingIndexEntry(seq: 70, _) = $0 { true } else { false } }, "\(problems)")
        #expect(problems.contains { if case .idMismatch(seq: 70, _, _) = $0 { true } else { false } }, "\(problems)")
        #expect(problems.contains { if case .danglingIndexEntry(_, seq: 70) = $0 { true } else { false } }, "\(problems)")
        #expect(problems.contains { if case .idMismatch(seq: 101, _, _) = $0 { true } else { false } }, "\(problems)")
        #expect(problems.count == 5, "\(problems)")
        let error = #expect(throws: EventLogError.self) { _ = try log.event(at: 10) }
        #expect(error?.code == .corrupted)
        #expect(error?.operation == "read event 10")
        #expect(try log.event(at: 71)?.canonicalJSON == records[70].canonicalJSON)
        _ = temporary
    }

    @Test("garbage or truncation of the data file is reported as corruption, not a crash")
    func damagedFile() throws {
        let (temporary, path) = try LogFixtures.directory()
        do {
            let log = try EventLog(directory: path)
            _ = try log.appendBlocking(LogFixtures.records(0..<3_000))
            log.close()
        }
        let data = URL(fileURLWithPath: "\(path)/data.mdb")
        let original = try Data(contentsOf: data)

        try original.prefix(original.count / 2).write(to: data)
        let truncated = #expect(throws: EventLogError.self) { _ = try EventLog(directory: path, options: .readOnly) }
        #expect(truncated?.code == .corrupted)
        #expect(truncated?.message.contains("truncated") == true)

        try Data(count: 100).write(to: data)
        let tiny = #expect(throws: EventLogError.self) { _ = try EventLog(directory: path) }
        #expect(tiny?.code == .corrupted)

        var generator = SystemRandomNumberGenerator()
        try Data((0..<original.count).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: data)
        let garbage = #expect(throws: EventLogError.self) { _ = try EventLog(directory: path) }
        #expect(garbage?.code == .corrupted)

        try original.write(to: data)
        #expect(try EventLog(directory: path, options: .readOnly).count() == 3_000)
        _ = temporary
    }

    @Test("a full disk fails the batch with diskFull and stores none of it", .enabled(if: SmallFileSystem.canMount))
    func diskFull() async throws {
        let fileSystem = try SmallFileSystem(bytes: 2 << 20)
        let path = "\(fileSystem.path)/log"
        let log = try EventLog(directory: path, options: EventLogOptions(compressionLevel: nil))
        var appended = 0
        let error = await #expect(throws: EventLogError.self) {
            while true {
                _ = try await log.append(LogFixtures.records(appended..<appended + 500))
                appended += 500
            }
        }
        #expect(error?.code == .diskFull, "\(String(describing: error))")
        #expect(try log.count() == appended)
        #expect(try log.verifyStorage().isEmpty)
        log.close()
        #expect(try EventLog(directory: path, options: .readOnly).count() == appended)
    }

    @Test("opening a missing log read-only reports notFound")
    func missing() throws {
        let (temporary, path) = try LogFixtures.directory()
        let error = #expect(throws: EventLogError.self) { _ = try EventLog(directory: path, options: .readOnly) }
        #expect(error?.code == .notFound)
        _ = temporary
    }
}

/// A 2 MiB tmpfs mounted for one test (needs root), unmounted when dropped.
final class SmallFileSystem {
    let directory: TemporaryDirectory
    var path: String { directory.path }

    static let canMount: Bool = {
        guard getuid() == 0, let probe = try? SmallFileSystem(bytes: 1 << 20) else { return false }
        _ = probe
        return true
    }()

    init(bytes: Int) throws {
        directory = try TemporaryDirectory("tinyfs")
        guard Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", directory.path]) else {
            throw CocoaError(.fileWriteNoPermission)
        }
    }

    deinit { _ = Self.run("/bin/umount", [directory.path]) }

    private static func run(_ tool: String, _ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
