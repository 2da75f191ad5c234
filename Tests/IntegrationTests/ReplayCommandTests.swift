import Events
import Foundation
import Kafka
import Projections
import Replay
import Testing
import TickfoldTesting

/// The built `tickfold` binary beside this package, when `swift build` has produced one.
private let tickfold: String = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug/tickfold").path
}()

private var hasTickfold: Bool { FileManager.default.isExecutableFile(atPath: tickfold) }

@Suite("tickfold replay", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: TestServices.hasPostgres && TestServices.hasRedis && hasTickfold))
struct ReplayCommandTests {
    func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tickfold)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TICKFOLD_CONFIG"] = nil
        process.environment = environment
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    @Test("dry run changes nothing; a replay prints progress lines, swaps, and audit diff finds live equal to a kept rebuild")
    func replayCommand() throws {
        let fixture = try ReplayFixture(label: "cli")
        defer { fixture.cleanUp() }
        let head = try fixture.append(count: 1500, seed: 21)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let common = ["--log", fixture.directory.file("events"), "--schema", fixture.schema, "--namespace", fixture.namespace]

        let dry = try run(["replay", "--from", "700", "--dry-run"] + common)
        #expect(dry.status == 0, "\(dry.err)")
        #expect(dry.out.contains("dry run: nothing is changed"))
        #expect(dry.out.contains("seq 700 to the log head (seq \(head) now)"))
        #expect(dry.out.contains("live rows and keys last written before seq 700"))
        #expect(try fixture.schemas() == [fixture.schema])

        let replay = try run(["replay", "--from", "1", "--batch-size", "400"] + common)
        #expect(replay.status == 0, "\(replay.err)")
        #expect(replay.err.contains("replay: folding:"))
        #expect(replay.err.contains("events/s"))
        #expect(replay.out.contains("swapped in at seq \(head)"))
        #expect(try fixture.schemas() == [fixture.schema])

        let kept = try run(["replay", "--from", "1", "--to", String(head)] + common)
        #expect(kept.status == 0, "\(kept.err)")
        let shadow = try #require(try fixture.schemas().first { $0 != fixture.schema })
        let prefix = fixture.namespace + "tickfold:ns:" + shadow.dropFirst(fixture.schema.count + 2) + ":"
        let diff = try run(["audit", "diff", "pg:\(fixture.schema),redis:@\(fixture.namespace)", "pg:\(shadow),redis:\(prefix)"])
        #expect(diff.status == 0, "\(diff.out)\(diff.err)")
    }

    @Test("--from kafka:TOPIC:PARTITION:OFFSET starts at the seq in that message's header", .enabled(if: TestServices.hasKafka))
    func kafkaPosition() throws {
        let fixture = try ReplayFixture(label: "clikafka")
        defer { fixture.cleanUp() }
        try fixture.append(count: 600, seed: 23)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let naming = TopicNaming(prefix: TestServices.uniqueName("rpk"))
        _ = try KafkaRelay(log: fixture.log, kafka: RelayFixtures.kafkaConfig, options: .init(naming: naming, partitions: 2)).runOnce()
        let topic = naming.topic(forType: "bar.daily")
        let messages = try RelayFixtures.readEvents(topic, partitions: 2).filter { $0.partition == 1 }
        let message = try #require(messages.dropFirst(3).first)
        guard case .event(let event) = message.outcome, let seq = event.seq else {
            Issue.record("not an event")
            return
        }
        let common = ["--log", fixture.directory.file("events"), "--schema", fixture.schema, "--namespace", fixture.namespace]
        let dry = try run(["replay", "--from", "kafka:\(topic):1:\(message.offset)", "--dry-run"] + common)
        #expect(dry.status == 0, "\(dry.err)")
        #expect(dry.out.contains("fold:          seq \(seq) to"), "\(dry.out)")
        let missing = try run(["replay", "--from", "kafka:\(topic):1:999999", "--dry-run"] + common)
        #expect(missing.status == 2)
        #expect(missing.err.contains("kafka:\(topic):1:999999"))
    }

    @Test("bad positions, unknown projections and an unreachable database are errors")
    func failures() throws {
        let directory = try TemporaryDirectory("replay-cli-bad")
        let common = ["--log", directory.file("events")]
        let fixture = try ReplayFixture(label: "clibad")
        defer { fixture.cleanUp() }
        try fixture.append(count: 10, seed: 22)
        let log = ["--log", fixture.directory.file("events")]
        #expect(try run(["replay", "--from", "yesterday"] + log).status == 64)
        let unknown = try run(["replay", "--from", "1", "--projection", "nope"] + log)
        #expect(unknown.status == 2 && unknown.err.contains("no projection named"))
        let port = try closedLocalPort()
        let down = try run(["replay", "--from", "1", "--pg", "postgresql://u:secret@127.0.0.1:\(port)/x"] + log)
        #expect(down.status == 2)
        #expect(!down.err.contains("secret"))
        let noLog = try run(["replay", "--from", "1"] + common)
        #expect(noLog.status == 2)
    }
}
