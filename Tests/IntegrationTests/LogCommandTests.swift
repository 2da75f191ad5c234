import Events
import Foundation
import Testing
import TickfoldTesting

extension TickfoldBinary {
    /// The submission line of an event: its identity object (no id, no seq).
    static func line(_ event: Event) throws -> String {
        String(decoding: try event.identityBytes(), as: UTF8.self)
    }
}

@Suite("tickfold log CLI", .serialized, .enabled(if: TickfoldBinary.path != nil, "build the tickfold binary first: swift build"))
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
