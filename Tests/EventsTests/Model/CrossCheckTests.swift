import Crypto
import Foundation
import Testing
import TickfoldTesting
@testable import Events

/// Runs one of the Python checkers in schemas/events with the test venv's python, through
/// `TickfoldBinary.run`'s off-pool wait (a checker runs for seconds).
func runPythonChecker(_ script: String, arguments: [String]) async throws -> [Substring] {
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let result = try await ChildProcess.run(try #require(TestServices.python),
                                            [repository.appendingPathComponent("schemas/events/\(script)").path] + arguments)
    #expect(result.status == 0, "\(script) failed: \(result.stderr)")
    return result.stdout.split(separator: "\n")
}

func schemaDirectory() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schemas/events").path
}

@Suite("Cross-checks with Python (rfc8785, jsonschema)", .onTestThreads, .enabled(if: TestServices.hasPython))
struct CrossCheckTests {
    @Test("10,000 events of every type: ids and full canonical envelopes agree with Python rfc8785")
    func rfc8785Agreement() async throws {
        var samples = EventSamples(seed: 0x7_1c4f_01d)
        var events = try samples.events(10_120)
        for i in events.indices where i % 3 == 0 { events[i].seq = UInt64(i + 1) }
        let directory = try TemporaryDirectory("rfc8785")
        var lines: [UInt8] = []
        var writer = CanonicalJSONWriter()
        for event in events {
            writer.reset()
            try event.writeCanonical(into: &writer, includingSeq: true)
            lines.append(contentsOf: writer.bytes)
            lines.append(0x0a)
        }
        let path = directory.file("events.jsonl")
        try Data(lines).write(to: URL(fileURLWithPath: path))

        let results = try await runPythonChecker("check_rfc8785.py", arguments: [path])
        try #require(results.count == events.count)
        var idMismatches = 0
        var envelopeMismatches = 0
        for (event, line) in zip(events, results) {
            let fields = line.split(separator: " ")
            if fields[0] != event.id.hex {
                idMismatches += 1
                if idMismatches <= 3 { Issue.record("id differs for \(String(decoding: try event.identityBytes(), as: UTF8.self))") }
            }
            let mine = SHA256.hash(data: try event.canonicalBytes(includingSeq: true)).map { String(format: "%02x", $0) }.joined()
            if fields[1] != mine {
                envelopeMismatches += 1
                if envelopeMismatches <= 3 { Issue.record("envelope differs: \(String(decoding: try event.canonicalBytes(includingSeq: true), as: UTF8.self))") }
            }
        }
        #expect(idMismatches == 0)
        #expect(envelopeMismatches == 0)
        #expect(Set(events.map(\.type)) == Set(EventCatalog.standard.types))
    }

    @Test("Generated events of every type and version validate against schemas/events; broken ones do not")
    func schemas() async throws {
        var samples = EventSamples(seed: 99)
        let events = try samples.events(EventSamples.kinds * 40)
        var bad: [String] = [
            // Each breaks one schema rule that the Swift decoder also enforces.
            #"{"type":"bar.daily","version":2,"payload":{"date":"2026-02-18","open":"1","high":"1","low":"1","close":1.5,"volume":1}}"#,
            #"{"type":"trade","version":1,"payload":{"price":"1","size":"1","timestampMs":1,"conditions":[],"extra":1}}"#,
            #"{"type":"macro.observation","version":1,"payload":{"seriesId":"X","date":"2000-01-01","value":"n/a"}}"#,
            #"{"type":"market.mover","version":1,"payload":{"category":"winner","rank":1,"price":"1","changeAmount":"1","changePercent":"1","volume":1}}"#,
            #"{"type":"alien.thing","version":1,"payload":{}}"#,
        ]
        bad = bad.map { $0.replacingOccurrences(of: "{\"type\"", with: "{\"id\":\"\(String(repeating: "0", count: 64))\",\"occurredAt\":\"2026-02-18T21:00:00.000Z\",\"source\":\"s\",\"subject\":\"x\",\"type\"") }
        let directory = try TemporaryDirectory("schemas")
        var lines = ""
        for event in events { lines += String(decoding: try event.canonicalBytes(includingSeq: true), as: UTF8.self) + "\n" }
        for line in bad { lines += line + "\n" }
        let path = directory.file("events.jsonl")
        try lines.write(toFile: path, atomically: false, encoding: .utf8)

        let results = try await runPythonChecker("check_schemas.py", arguments: [schemaDirectory(), path])
        try #require(results.count == events.count + bad.count)
        for (event, result) in zip(events, results) where result != "ok" {
            Issue.record("\(event.type) v\(event.version): \(result)")
        }
        for (line, result) in zip(bad, results.suffix(bad.count)) {
            #expect(result.hasPrefix("invalid"), "schema accepted \(line)")
        }
        // The Swift side rejects the same broken payloads.
        for line in bad.prefix(4) {
            let root = try JSONValue.parse(line)
            let object = try #require(root.objectValue)
            let event = try Event.make(type: object["type"]!.stringValue!, version: 1 + (line.contains("bar.daily") ? 1 : 0), source: "s", subject: "x",
                                       occurredAt: Timestamp(millisecondsSinceEpoch: 0), payload: object["payload"]!)
            #expect(throws: PayloadError.self) { try EventCatalog.standard.validate(event) }
        }
        // Every catalogued type and version has a schema file.
        for type in EventCatalog.standard.types {
            for version in EventCatalog.standard.entry(type)!.versions {
                #expect(FileManager.default.fileExists(atPath: "\(schemaDirectory())/\(type).v\(version).json"), "\(type) v\(version)")
            }
        }
    }
}
