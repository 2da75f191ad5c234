import Events
import Foundation
import LMDB
import Testing
import TickfoldTesting

extension TickfoldBinary {
    /// The submission line of an event: its identity object (no id, no seq).
    static func line(_ event: Event) throws -> String {
        String(decoding: try event.identityBytes(), as: UTF8.self)
    }
}

@Suite("tickfold log CLI", .onTestThreads, .serialized, .enabled(if: TickfoldBinary.path != nil, "build the tickfold binary first: swift build"))
struct LogCommandTests {
    @Test("append of input that cannot be read (a directory) fails naming it and appends nothing; a line longer than a read chunk is appended whole")
    func unreadableAndLongInput() async throws {
        let directory = try TemporaryDirectory("cli-log-input")
        let logPath = directory.file("log")
        let unreadable = try await TickfoldBinary.run(["log", "append", directory.path, "--log", logPath])
        #expect(unreadable.status != 0)
        #expect(unreadable.stderr.contains("cannot read \(directory.path)"), "\(unreadable.stderr)")
        #expect(unreadable.stdout.isEmpty)

        let untouched = directory.file("untouched")
        let missing = try await TickfoldBinary.run(["log", "append", directory.file("absent.jsonl"), "--log", untouched])
        #expect(missing.status != 0 && missing.stderr.contains("cannot open"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: untouched), "a missing input left a new log behind")
        let backwards = try await TickfoldBinary.run(["log", "read", "--from", "5", "--to", "4", "--log", logPath])
        #expect(backwards.status == 64 && backwards.stderr.contains("--to 4 is before --from 5"), "\(backwards.stderr)")

        // 200 KiB of series id: three 64 KiB reads for one line.
        let long = try Event.make(
            MacroObservation(seriesId: String(repeating: "L", count: 200_000), date: LocalDate(daysSinceEpoch: 20_000), value: "1"),
            source: "fred", subject: "LONG", occurredAt: Timestamp(millisecondsSinceEpoch: 1_728_000_000_000))
        let short = try RelayFixtures.events(0..<1)[0]
        let file = directory.file("long.jsonl")
        try ([long, short].map(TickfoldBinary.line).joined(separator: "\n") + "\n").write(toFile: file, atomically: false, encoding: .utf8)
        let appended = try await TickfoldBinary.run(["log", "append", file, "--log", logPath])
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(appended.stdout == "1 \(long.id.hex)\n2 \(short.id.hex)\n")
    }

    @Test("append takes an id in either case, as get does; a wrong or malformed id is refused with the reason")
    func appendWithID() async throws {
        let directory = try TemporaryDirectory("cli-log-id")
        let logPath = directory.file("log")
        let events = try RelayFixtures.events(0..<3)
        func line(_ event: Event, id: String) throws -> String {
            #"{"id":"\#(id)","# + (try TickfoldBinary.line(event)).dropFirst()
        }
        let file = directory.file("with-id.jsonl")
        try ([try line(events[0], id: events[0].id.hex.uppercased()), try line(events[1], id: events[1].id.hex)].joined(separator: "\n") + "\n")
            .write(toFile: file, atomically: false, encoding: .utf8)
        let appended = try await TickfoldBinary.run(["log", "append", file, "--log", logPath])
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(appended.stdout == "1 \(events[0].id.hex)\n2 \(events[1].id.hex)\n")
        let get = try await TickfoldBinary.run(["log", "get", events[0].id.hex.uppercased(), "--log", logPath])
        #expect(get.status == 0 && get.stdout.contains(#""id":"\#(events[0].id.hex)""#), "\(get.stderr)")

        let wrong = directory.file("wrong-id.jsonl")
        try (try line(events[2], id: events[1].id.hex.uppercased()) + "\n").write(toFile: wrong, atomically: false, encoding: .utf8)
        let mismatch = try await TickfoldBinary.run(["log", "append", wrong, "--log", logPath])
        #expect(mismatch.status == 1)
        #expect(mismatch.stderr.contains("given \(events[1].id.hex), content hashes to \(events[2].id.hex)"), "\(mismatch.stderr)")
        let malformed = directory.file("malformed-id.jsonl")
        try (try line(events[2], id: "xyz") + "\n").write(toFile: malformed, atomically: false, encoding: .utf8)
        let refused = try await TickfoldBinary.run(["log", "append", malformed, "--log", logPath])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("expected 64 hex digits, found \"xyz\""), "\(refused.stderr)")
        #expect(mismatch.stdout.isEmpty && refused.stdout.isEmpty)
    }

    @Test("exit statuses follow the README: a malformed line in a --commit-every stream is 1 and keeps what came before; a log that cannot be opened is 2")
    func exitStatuses() async throws {
        let directory = try TemporaryDirectory("cli-log-exit")
        let logPath = directory.file("log")
        let events = try RelayFixtures.events(0..<4)
        let stream = directory.file("stream.jsonl")
        let lines = [try TickfoldBinary.line(events[0]), try TickfoldBinary.line(events[1]), try TickfoldBinary.line(events[2]),
                     #"{"type":"bar.daily","#, try TickfoldBinary.line(events[3])]
        try (lines.joined(separator: "\n") + "\n").write(toFile: stream, atomically: false, encoding: .utf8)
        let stopped = try await TickfoldBinary.run(["log", "append", stream, "--commit-every", "2", "--log", logPath])
        #expect(stopped.status == 1, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("\(stream):4: "), "\(stopped.stderr)")
        #expect(stopped.stderr.contains("stopped at line 4; the 3 event(s) before it are committed"), "\(stopped.stderr)")
        #expect(stopped.stdout == events[0..<3].enumerated().map { "\($0.offset + 1) \($0.element.id.hex)\n" }.joined())
        let read = try await TickfoldBinary.run(["log", "read", "--json", "--log", logPath])
        #expect(read.stdout.split(separator: "\n").count == 3)

        let verified = try await TickfoldBinary.run(["log", "verify", "--log", logPath])
        #expect(verified.status == 0, "\(verified.stderr)")
        let absent = directory.file("absent")
        for command in [["log", "verify"], ["log", "stats"], ["log", "get", events[0].id.hex], ["log", "read"]] {
            let missing = try await TickfoldBinary.run(command + ["--log", absent])
            #expect(missing.status == 2, "\(command): \(missing.stderr)")
            #expect(missing.stderr.contains("event log \(absent)"), "\(command): \(missing.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: absent), "a reading command created a log")
        let notALog = directory.file("not-a-log")
        try FileManager.default.createDirectory(atPath: notALog, withIntermediateDirectories: false)
        try "garbage".write(toFile: notALog + "/data.mdb", atomically: false, encoding: .utf8)
        let garbage = try await TickfoldBinary.run(["log", "verify", "--log", notALog])
        #expect(garbage.status == 2, "\(garbage.stderr)")
        let usage = try await TickfoldBinary.run(["log", "get", "xyz", "--log", logPath])
        #expect(usage.status == 64, "\(usage.stderr)")
    }

    @Test("append --json and verify --json print one summary object with stable keys; exit statuses as without --json")
    func jsonSummaries() async throws {
        let directory = try TemporaryDirectory("cli-log-json")
        let logPath = directory.file("log")
        let events = try RelayFixtures.events(0..<5)
        let valid = directory.file("valid.jsonl")
        try (events[0..<3].map(TickfoldBinary.line).joined(separator: "\n") + "\n").write(toFile: valid, atomically: false, encoding: .utf8)
        let appended = try await TickfoldBinary.run(["log", "append", valid, "--json", "--index-merge-run", "1", "--log", logPath])
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(appended.stdout == #"{"appended":3,"duplicates":0,"lastSeq":3,"malformed":0,"problems":[]}"# + "\n")
        let again = try await TickfoldBinary.run(["log", "append", valid, "--json", "--log", logPath])
        #expect(again.stdout == #"{"appended":0,"duplicates":3,"lastSeq":3,"malformed":0,"problems":[]}"# + "\n", "\(again.stderr)")

        let mixed = directory.file("mixed.jsonl")
        try ([try TickfoldBinary.line(events[3]), "{", try TickfoldBinary.line(events[4])].joined(separator: "\n") + "\n")
            .write(toFile: mixed, atomically: false, encoding: .utf8)
        let rejected = try await TickfoldBinary.run(["log", "append", mixed, "--json", "--log", logPath])
        #expect(rejected.status == 1)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(rejected.stdout.utf8)) as? [String: Any], "\(rejected.stdout)")
        #expect(summary["appended"] as? Int == 0 && summary["malformed"] as? Int == 1 && summary["lastSeq"] as? Int == 3)
        #expect((summary["problems"] as? [String])?.first?.hasPrefix("\(mixed):2: ") == true, "\(summary)")
        #expect(rejected.stderr.contains("\(mixed):2: "))
        let stream = try await TickfoldBinary.run(["log", "append", mixed, "--json", "--commit-every", "1", "--log", logPath])
        #expect(stream.status == 1)
        let streamed = try #require(try JSONSerialization.jsonObject(with: Data(stream.stdout.utf8)) as? [String: Any], "\(stream.stdout)")
        #expect(streamed["appended"] as? Int == 1 && streamed["malformed"] as? Int == 1 && streamed["lastSeq"] as? Int == 4, "\(streamed)")

        let verified = try await TickfoldBinary.run(["log", "verify", "--json", "--log", logPath])
        #expect(verified.status == 0, "\(verified.stderr)")
        let canonical = URL(fileURLWithPath: logPath).resolvingSymlinksInPath().path
        #expect(verified.stdout == #"{"events":4,"inconsistencies":0,"log":"\#(canonical)","problems":[]}"# + "\n")

        // Damage: empty the id index under the (closed) log.
        do {
            let environment = try LMDBEnvironment(path: logPath, maxDatabases: 4)
            let ids = try environment.openDatabase(named: "ids")
            try environment.write { try $0.removeAll(in: ids) }
        }
        let damaged = try await TickfoldBinary.run(["log", "verify", "--json", "--log", logPath])
        #expect(damaged.status == 1, "\(damaged.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(damaged.stdout.utf8)) as? [String: Any], "\(damaged.stdout)")
        let problems = try #require(report["problems"] as? [String])
        #expect(report["inconsistencies"] as? Int == problems.count && !problems.isEmpty)
        #expect(problems.contains { $0.contains("missing from the id index") }, "\(problems)")
        let missing = try await TickfoldBinary.run(["log", "verify", "--json", "--log", directory.file("absent")])
        #expect(missing.status == 2 && missing.stdout.isEmpty, "\(missing.stdout)")
    }

    @Test("append prints SEQ ID, re-append prints duplicate, a malformed line rejects the whole file; get, stats and verify agree")
    func appendAndInspect() async throws {
        let directory = try TemporaryDirectory("cli-log")
        let logPath = directory.file("log")
        let events = try RelayFixtures.events(0..<5)
        let valid = directory.file("valid.jsonl")
        try (events[0..<3].map(TickfoldBinary.line).joined(separator: "\n") + "\n").write(toFile: valid, atomically: false, encoding: .utf8)

        let appended = try await TickfoldBinary.run(["log", "append", valid, "--log", logPath])
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(appended.stdout == events[0..<3].enumerated().map { "\($0.offset + 1) \($0.element.id.hex)\n" }.joined())

        let again = try await TickfoldBinary.run(["log", "append", valid, "--log", logPath])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout == events[0..<3].enumerated().map { "duplicate \($0.offset + 1) \($0.element.id.hex)\n" }.joined())

        let mixed = directory.file("mixed.jsonl")
        let lines = [try TickfoldBinary.line(events[3]), #"{"type":"bar.daily","version":2,"#, try TickfoldBinary.line(events[4])]
        try (lines.joined(separator: "\n") + "\n").write(toFile: mixed, atomically: false, encoding: .utf8)
        let rejected = try await TickfoldBinary.run(["log", "append", mixed, "--log", logPath])
        #expect(rejected.status == 1)
        #expect(rejected.stderr.contains("\(mixed):2: "), "\(rejected.stderr)")
        #expect(rejected.stdout.isEmpty)

        let read = try await TickfoldBinary.run(["log", "read", "--json", "--log", logPath])
        #expect(read.status == 0)
        #expect(read.stdout.split(separator: "\n").count == 3)

        let verify = try await TickfoldBinary.run(["log", "verify", "--log", logPath])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("3 events verified"))

        let get = try await TickfoldBinary.run(["log", "get", events[1].id.hex, "--log", logPath])
        #expect(get.status == 0, "\(get.stderr)")
        var withSeq = events[1]
        withSeq.seq = 2
        #expect(get.stdout == String(decoding: try withSeq.canonicalBytes(includingSeq: true), as: UTF8.self) + "\n")

        let missing = try await TickfoldBinary.run(["log", "get", events[4].id.hex, "--log", logPath])
        #expect(missing.status == 1)

        let stats = try await TickfoldBinary.run(["log", "stats", "--json", "--log", logPath])
        #expect(stats.status == 0, "\(stats.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any]
        #expect(object?["count"] as? Int == 3)
        #expect(object?["lastSeq"] as? Int == 3)
        // Three events are far below a merge run: none is in the id index yet.
        #expect(object?["indexedThrough"] as? Int == 0)
    }
}
