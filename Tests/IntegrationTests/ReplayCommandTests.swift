import Events
import Foundation
import Kafka
import Postgres
import Projections
import Replay
import Testing
import TickfoldTesting

@Suite("tickfold replay", .onTestThreads, .serialized, .timeLimit(.minutes(5)),
       .enabled(if: TestServices.hasPostgres && TestServices.hasRedis && TickfoldBinary.isAvailable))
struct ReplayCommandTests {
    @Test("dry run changes nothing; a replay prints progress lines, swaps, and audit diff finds live equal to a kept rebuild")
    func replayCommand() async throws {
        let fixture = try ReplayFixture(label: "cli")
        defer { fixture.cleanUp() }
        let head = try fixture.append(count: 1500, seed: 21)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let common = ["--log", fixture.directory.file("events"), "--schema", fixture.schema, "--namespace", fixture.namespace]

        let dry = try await TickfoldBinary.run(["replay", "--from", "700", "--dry-run"] + common)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("dry run: nothing is changed"))
        #expect(dry.stdout.contains("seq 700 to the log head (seq \(head) now)"))
        #expect(dry.stdout.contains("live rows and keys last written before seq 700"))
        #expect(try fixture.schemas() == [fixture.schema])

        let swapped = "s" + TestServices.uniqueName("").filter { $0.isLetter || $0.isNumber }.lowercased()
        let replay = try await TickfoldBinary.run(["replay", "--from", "1", "--batch-size", "400", "--id", swapped] + common)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stderr.contains("replay: folding:"))
        #expect(replay.stderr.contains("events/s"))
        #expect(replay.stdout.contains("swapped in at seq \(head)"))
        #expect(try fixture.schemas() == [fixture.schema])

        let kept = try await TickfoldBinary.run(["replay", "--from", "1", "--to", String(head)] + common)
        #expect(kept.status == 0, "\(kept.stderr)")
        let shadow = try #require(try fixture.schemas().first { $0 != fixture.schema })
        let id = String(shadow.dropFirst(fixture.schema.count + 2))
        let prefix = fixture.namespace + "tickfold:ns:" + id + ":"
        #expect(kept.stdout.contains("kept schema \(shadow) and keys \"\(prefix)\""), "\(kept.stdout)")
        let diff = try await TickfoldBinary.run(["audit", "diff", "pg:\(fixture.schema),redis:@\(fixture.namespace)", "pg:\(shadow),redis:\(prefix)"])
        #expect(diff.status == 0, "\(diff.stdout)\(diff.stderr)")

        // The swapped-in replay's keys are live: discarding them is refused and changes nothing.
        let refused = try await TickfoldBinary.run(["replay", "--discard", swapped] + common)
        #expect(refused.status == 2 && refused.stderr.contains("swapped in"), "\(refused.stdout)\(refused.stderr)")
        #expect(try fixture.schemas().count == 2)
        let keysBefore = try fixture.keys(matching: "tickfold:ns:\(id):*")
        #expect(!keysBefore.isEmpty)

        let discarded = try await TickfoldBinary.run(["replay", "--discard", id] + common)
        #expect(discarded.status == 0, "\(discarded.stderr)")
        #expect(discarded.stdout == "discarded replay \(id): dropped schema \(shadow) and \(keysBefore.count) keys\n", "\(discarded.stdout)")
        #expect(try fixture.schemas() == [fixture.schema])
        #expect(try fixture.keys(matching: "tickfold:ns:\(id):*").isEmpty)
        let again = try await TickfoldBinary.run(["replay", "--discard", id] + common)
        #expect(again.status == 0 && again.stdout == "nothing kept by replay \(id)\n", "\(again.stdout)\(again.stderr)")
        let live = try await TickfoldBinary.run(["audit", "diff", "pg:\(fixture.schema),redis:@\(fixture.namespace)", "pg:\(fixture.schema),redis:@\(fixture.namespace)"])
        #expect(live.status == 0, "\(live.stdout)\(live.stderr)")
    }

    @Test("--json prints one object: the plan with every key, null where it does not apply, and what the replay did")
    func json() async throws {
        let fixture = try ReplayFixture(label: "clijson")
        defer { fixture.cleanUp() }
        let head = try fixture.append(count: 800, seed: 22)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let common = ["--log", fixture.directory.file("events"), "--schema", fixture.schema, "--namespace", fixture.namespace, "--json"]
        func object(_ result: TickfoldBinary.Result) throws -> [String: Any] {
            try #require(result.status == 0, "\(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        }

        let dry = try object(try await TickfoldBinary.run(["replay", "--from", "300", "--dry-run"] + common))
        #expect(dry["dryRun"] as? Bool == true && dry["result"] is NSNull)
        let dryPlan = try #require(dry["plan"] as? [String: Any])
        #expect(dryPlan["requestedFrom"] as? Int == 300 && dryPlan["head"] as? Int == Int(head) && dryPlan["through"] is NSNull)
        #expect(dryPlan["liveSchema"] as? String == fixture.schema && dryPlan["swaps"] as? Bool == true)
        #expect(dryPlan.keys.sorted() == [
            "copyBelow", "events", "foldFrom", "head", "liveCheckpoint", "liveKeyPrefix", "liveSchema", "liveSchemaExists", "liveVersions",
            "notes", "pointerKey", "projections", "requestedFrom", "retiredSchema", "shadowKeyPrefix", "shadowSchema", "swaps", "through",
        ], "every plan key, present even when null")
        #expect(try fixture.schemas() == [fixture.schema])

        let kept = try object(try await TickfoldBinary.run(["replay", "--from", "1", "--to", String(head)] + common))
        let keptResult = try #require(kept["result"] as? [String: Any])
        let keptSchema = try #require(keptResult["keptSchema"] as? String)
        #expect(keptResult["swappedAt"] is NSNull && keptResult["folded"] as? Int == Int(head))
        #expect(try fixture.schemas().sorted() == [fixture.schema, keptSchema].sorted())
        let id = String(keptSchema.dropFirst(fixture.schema.count + 2))
        #expect(keptResult["keptKeyPrefix"] as? String == fixture.namespace + "tickfold:ns:" + id + ":")

        let swap = try object(try await TickfoldBinary.run(["replay", "--from", "1"] + common))
        let swapResult = try #require(swap["result"] as? [String: Any])
        #expect(swapResult["swappedAt"] as? Int == Int(head) && swapResult["keptSchema"] is NSNull)

        let discarded = try object(try await TickfoldBinary.run(["replay", "--discard", id] + common))
        #expect(discarded["id"] as? String == id && discarded["droppedSchemas"] as? [String] == [keptSchema])
        #expect((discarded["droppedKeys"] as? Int ?? 0) > 0)
    }

    @Test("the plan (with the shadow's id) reaches a redirected stdout before the fold, so a replay killed with SIGKILL can be discarded")
    func planBeforeKill() async throws {
        let fixture = try ReplayFixture(label: "clikill")
        defer { fixture.cleanUp() }
        try fixture.append(count: 300, seed: 25)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        // A live batch holding the swap lock keeps the replay waiting before its swap.
        let holder = try PostgresConnection(fixture.conninfo)
        try holder.query("SELECT pg_advisory_lock($1)", [String(ProjectionSwap.lockKey(schema: fixture.schema))])
        defer { _ = try? holder.query("SELECT pg_advisory_unlock_all()") }
        let output = fixture.directory.file("replay.out")
        #expect(FileManager.default.createFile(atPath: output, contents: nil))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(TickfoldBinary.path))
        process.arguments = ["replay", "--from", "1", "--lock-timeout", "60", "--log", fixture.directory.file("events"),
                             "--schema", fixture.schema, "--namespace", fixture.namespace]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        let shadowLine = { (try? String(contentsOfFile: output, encoding: .utf8))?.split(separator: "\n").first { $0.contains("shadow:") } }
        #expect(try await eventually { shadowLine() != nil }, "the plan was not written while the replay ran")
        #expect(try await eventually { try fixture.schemas().count == 2 })
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let shadow = try #require(shadowLine()?.split(separator: " ").last.map(String.init))
        #expect(try fixture.schemas().contains(shadow), "a killed replay leaves its shadow")
        let id = String(shadow.dropFirst(fixture.schema.count + 2))
        // project status names it, and how to drop it.
        let status = try await TickfoldBinary.run(["project", "status", "--schema", fixture.schema, "--log", fixture.directory.file("events")])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("schema \(shadow) is a replay copy beside live"), "\(status.stdout)")
        #expect(status.stdout.contains("`tickfold replay --discard \(id)` drops it"), "\(status.stdout)")
        let discarded = try await TickfoldBinary.run(["replay", "--discard", id, "--log", fixture.directory.file("events"), "--schema", fixture.schema, "--namespace", fixture.namespace])
        #expect(discarded.status == 0, "\(discarded.stderr)")
        #expect(try fixture.schemas() == [fixture.schema])
        let after = try await TickfoldBinary.run(["project", "status", "--schema", fixture.schema, "--log", fixture.directory.file("events")])
        #expect(!after.stdout.contains("replay copy"), "\(after.stdout)")
    }

    @Test("--from kafka:TOPIC:PARTITION:OFFSET starts at the seq in that message's header", .enabled(if: TestServices.hasKafka))
    func kafkaPosition() async throws {
        let fixture = try ReplayFixture(label: "clikafka")
        defer { fixture.cleanUp() }
        try fixture.append(count: 600, seed: 23)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let naming = TopicNaming(prefix: TestServices.uniqueName("rpk"))
        _ = try RelayFixtures.publishOnce(KafkaRelay(log: fixture.log, kafka: RelayFixtures.kafkaConfig, options: .init(naming: naming, partitions: 2)))
        let topic = naming.topic(forType: "bar.daily")
        let messages = try RelayFixtures.readEvents(topic, partitions: 2).filter { $0.partition == 1 }
        let message = try #require(messages.dropFirst(3).first)
        guard case .event(let event) = message.outcome, let seq = event.seq else {
            Issue.record("not an event")
            return
        }
        let common = ["--log", fixture.directory.file("events"), "--schema", fixture.schema, "--namespace", fixture.namespace]
        let dry = try await TickfoldBinary.run(["replay", "--from", "kafka:\(topic):1:\(message.offset)", "--dry-run"] + common)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("fold:          seq \(seq) to"), "\(dry.stdout)")
        let missing = try await TickfoldBinary.run(["replay", "--from", "kafka:\(topic):1:999999", "--dry-run"] + common)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("kafka:\(topic):1:999999"))
    }

    @Test("bad positions, unknown projections and an unreachable database are errors")
    func failures() async throws {
        let directory = try TemporaryDirectory("replay-cli-bad")
        let common = ["--log", directory.file("events")]
        let fixture = try ReplayFixture(label: "clibad")
        defer { fixture.cleanUp() }
        try fixture.append(count: 10, seed: 22)
        let log = ["--log", fixture.directory.file("events")]
        #expect(try await TickfoldBinary.run(["replay", "--from", "yesterday"] + log).status == 64)
        #expect(try await TickfoldBinary.run(["replay"] + log).status == 64)
        #expect(try await TickfoldBinary.run(["replay", "--from", "1", "--discard", "abc"] + log).status == 64)
        let badID = try await TickfoldBinary.run(["replay", "--discard", "Not-An-Id"] + log)
        #expect(badID.status == 2 && badID.stderr.contains("lowercase letters and digits"), "\(badID.stderr)")
        let unknown = try await TickfoldBinary.run(["replay", "--from", "1", "--projection", "nope"] + log)
        #expect(unknown.status == 2 && unknown.stderr.contains("no projection named"))
        let port = try closedLocalPort()
        let down = try await TickfoldBinary.run(["replay", "--from", "1", "--pg", "postgresql://u:secret@127.0.0.1:\(port)/x"] + log)
        #expect(down.status == 2)
        #expect(!down.stderr.contains("secret"))
        let noLog = try await TickfoldBinary.run(["replay", "--from", "1"] + common)
        #expect(noLog.status == 2)
    }
}
