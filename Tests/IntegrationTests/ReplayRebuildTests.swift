import Events
import Foundation
import Postgres
import Projections
import Redis
import Replay
import Testing
import TickfoldTesting

@Suite("Replay: shadow rebuilds swapped in under a live projection", .onTestThreads, .serialized, .timeLimit(.minutes(5)),
       .enabled(if: TestServices.hasPostgres && TestServices.hasRedis))
struct ReplayRebuildTests {
    @Test("replay --from 1 rebuilds beside live, swaps schema and keys in, drops the old copy, and equals continuous projection")
    func fullReplaySwaps() throws {
        let fixture = try ReplayFixture(label: "full")
        defer { fixture.cleanUp() }
        let head = try fixture.append(count: 3000, seed: 11)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let continuous = try fixture.roots()
        #expect(continuous.count > 5)
        let oldKeys = try fixture.keys(matching: "latest:*")
        #expect(!oldKeys.isEmpty)
        let indexQuery = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1"
        let migratedIndexes = try fixture.admin.query(indexQuery, [fixture.schema]).rows

        let replayer = try fixture.replayer()
        let plan = try replayer.plan(from: 1, through: nil)
        #expect(plan.foldFrom == 1 && plan.copyBelow == nil && plan.events == head && plan.swaps)
        var phases: [ReplayProgress.Phase] = []
        let result = try replayer.run(plan) { if phases.last != $0.phase { phases.append($0.phase) } }
        #expect(result.folded == head)
        #expect(result.swappedAt == head)
        #expect(phases.first == .folding && phases.last == .done && phases.contains(.swapping))

        // The shadow is live under the live names; nothing else is left behind.
        #expect(try fixture.schemas() == [fixture.schema])
        #expect(try fixture.livePrefix() == plan.shadowKeyPrefix)
        #expect(try fixture.keys(matching: "latest:*").isEmpty, "the old keys are dropped")
        #expect(try fixture.roots() == continuous)
        #expect(try fixture.admin.query(indexQuery, [fixture.schema]).rows == migratedIndexes, "the bulk load's indexes are all back")
        let checkpoint = try fixture.admin.query(
            "SELECT position FROM \(fixture.schema).projection_checkpoints WHERE projection = 'collected' AND source = 'log'").value(0, 0)
        #expect(checkpoint == String(head))
    }

    @Test("a replay without Redis refuses to swap while the live projector is behind the head (its keys would be skipped); live is untouched")
    func noRedisBehindLive() throws {
        let fixture = try ReplayFixture(label: "noredis")
        defer { fixture.cleanUp() }
        try fixture.append(count: 600, seed: 21)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let head = try fixture.append(count: 300, seed: 22)  // the live projector has not seen these
        let before = try fixture.roots()
        var options = fixture.options()
        options.redisURL = nil
        let replayer = try fixture.replayer(options)
        let error = #expect(throws: ReplayError.self) { try replayer.run(try replayer.plan(from: 1, through: nil)) }
        #expect(error?.description.contains("behind the log head \(head)") == true, "\(String(describing: error))")
        #expect(try fixture.schemas() == [fixture.schema], "the shadow is dropped")
        #expect(try fixture.roots() == before)

        // Shadow names PostgreSQL would cut to 63 bytes are refused before anything is built.
        var long = fixture.options()
        long.schema = String(repeating: "s", count: 58)
        let tooLong = #expect(throws: ReplayError.self) { try fixture.replayer(long).plan(from: 1, through: nil) }
        #expect(tooLong?.description.contains("over PostgreSQL's 63") == true, "\(String(describing: tooLong))")

        // Caught up, the same replay swaps.
        try fixture.project(try fixture.liveEngine(), from: 601)
        let result = try replayer.run(try replayer.plan(from: 1, through: nil))
        #expect(result.swappedAt == head)
    }

    @Test("under a live projection fed from Kafka a replay keeps its offsets and leaves no log checkpoint (no false lag); a replay without Redis then swaps")
    func kafkaFedLive() throws {
        let fixture = try ReplayFixture(label: "kafkafed")
        defer { fixture.cleanUp() }
        try fixture.append(count: 600, seed: 41)
        try fixture.migrateLive()
        let topic = "\(fixture.schema).bar"
        try fixture.project(try fixture.liveEngine(), kafkaTopic: topic)
        func checkpoints() throws -> [[String?]] {
            try fixture.admin.query(
                "SELECT source, partition::text, position::text FROM \(fixture.schema).projection_checkpoints WHERE projection = 'collected' ORDER BY 1, 2").rows
        }
        #expect(try checkpoints() == [[topic, "0", "599"]])

        let replayer = try fixture.replayer()
        #expect(try replayer.run(try replayer.plan(from: 1, through: nil)).swappedAt == 600)
        #expect(try checkpoints() == [[topic, "0", "599"]], "the offsets carry over; the rebuild's log checkpoint does not")

        // Events the live projector has not read from Kafka yet: it writes their keys when it
        // does, from its own offsets, so a replay without Redis may swap.
        let head = try fixture.append(count: 300, seed: 42)
        var options = fixture.options()
        options.redisURL = nil
        let withoutRedis = try fixture.replayer(options)
        #expect(try withoutRedis.run(try withoutRedis.plan(from: 1, through: nil)).swappedAt == head)
        #expect(try checkpoints() == [[topic, "0", "599"]])
        let resumed = try fixture.project(try fixture.liveEngine(), from: 601, kafkaTopic: topic)
        #expect(resumed == head + 1)
        #expect(try checkpoints() == [[topic, "0", String(head - 1)]])

        // A log checkpoint an earlier swap left behind, which the Kafka positions have passed,
        // is dropped by the next swap; one they have not passed still holds a replay without
        // Redis to the log head.
        func leaveLogCheckpoint(at seq: UInt64) throws {
            try fixture.admin.query(
                "INSERT INTO \(fixture.schema).projection_checkpoints (projection, source, partition, position) VALUES ('collected', 'log', 0, $1)",
                [String(seq)])
        }
        try leaveLogCheckpoint(at: 600)
        #expect(try withoutRedis.run(try withoutRedis.plan(from: 1, through: nil)).swappedAt == head)
        #expect(try checkpoints() == [[topic, "0", String(head - 1)]])
        try leaveLogCheckpoint(at: head)
        let ahead = try fixture.append(count: 10, seed: 43)
        let refused = #expect(throws: ReplayError.self) { try withoutRedis.run(try withoutRedis.plan(from: 1, through: nil)) }
        #expect(refused?.description.contains("at seq \(head), behind the log head \(ahead)") == true, "\(String(describing: refused))")
    }

    @Test("--dry-run plans without changing anything; bad positions are refused")
    func dryRunChangesNothing() throws {
        let fixture = try ReplayFixture(label: "dry")
        defer { fixture.cleanUp() }
        let head = try fixture.append(count: 400, seed: 12)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let before = try fixture.roots()
        let replayer = try fixture.replayer()
        let plan = try replayer.plan(from: 100, through: nil)
        #expect(plan.copyBelow == 100 && plan.foldFrom == 100 && plan.events == head - 99)
        #expect(plan.liveCheckpoint == head)
        #expect(plan.shadowSchema.hasPrefix(fixture.schema + "_r"))
        #expect(try fixture.schemas() == [fixture.schema])
        #expect(try fixture.redis.command("EXISTS", RedisNamespacePointer(namespace: fixture.namespace).key).integer == 0)
        #expect(try fixture.roots() == before)

        #expect(throws: ReplayError.self) { try replayer.plan(from: head + 2, through: nil) }
        #expect(throws: ReplayError.self) { try replayer.plan(from: 5, through: 10) }
        #expect(throws: ReplayError.self) { try replayer.plan(from: 1, through: head + 1) }

        // A live schema a newer build migrated is not replaced by this build's older shape.
        try fixture.admin.execute("INSERT INTO \(fixture.schema).schema_migrations (version, name, checksum) VALUES (999, 'from_the_future', 'x')")
        let newer = #expect(throws: ReplayError.self) { try replayer.plan(from: 1, through: nil) }
        #expect(newer?.code == .projection)
        #expect(newer?.message.contains("has migration 999 (from_the_future)") == true && newer?.message.contains("replay with the build that migrated") == true,
                "\(String(describing: newer))")
        #expect(try fixture.schemas() == [fixture.schema])
    }

    @Test("--from N refolds what was written from N on and keeps what was written before N")
    func middleReplayRefoldsAffectedKeys() throws {
        let fixture = try ReplayFixture(label: "mid")
        defer { fixture.cleanUp() }
        let head = try fixture.append(count: 3000, seed: 13)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let clean = try fixture.roots()
        let middle = head / 2
        let table = "collected_daily_bars"
        // Damage one row written after N and one written before it.
        let after = try fixture.admin.query(
            "UPDATE \(fixture.schema).\(table) SET volume = volume + 1 WHERE ctid = (SELECT ctid FROM \(fixture.schema).\(table) WHERE seq >= $1 ORDER BY seq LIMIT 1) RETURNING seq",
            [String(middle)])
        #expect(after.rows.count == 1)
        let before = try fixture.admin.query(
            "UPDATE \(fixture.schema).\(table) SET volume = volume + 1 WHERE ctid = (SELECT ctid FROM \(fixture.schema).\(table) WHERE seq < $1 ORDER BY seq LIMIT 1) RETURNING ticker, trade_date::text, seq",
            [String(middle)])
        let damaged = try #require(before.rows.first)

        let replayer = try fixture.replayer()
        let plan = try replayer.plan(from: middle, through: nil)
        #expect(plan.copyBelow == middle)
        let result = try replayer.run(plan)
        #expect(result.folded == head - middle + 1)
        #expect(result.copiedRows > 0 && result.copiedKeys > 0)

        // Everything but the row damaged before N is as a full rebuild makes it.
        var expected = clean
        let now = try fixture.roots()
        expected["pg:" + table] = now["pg:" + table]
        #expect(now == expected)
        #expect(now["pg:" + table] != clean["pg:" + table])

        // A full replay (kept beside live) and `audit diff` name exactly the row damaged before N.
        var keep = fixture.options()
        keep.id = "full" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let rebuild = try fixture.replayer(keep)
        let fullPlan = try rebuild.plan(from: 1, through: head)
        try rebuild.run(fullPlan)
        let report = try Audit.diff(
            try fixture.source(), try fixture.source(schema: fullPlan.shadowSchema, prefix: fullPlan.shadowKeyPrefix))
        let differing = report.comparisons.filter { $0.status != .equal }
        #expect(differing.map(\.name) == [table])
        let rows = differing.flatMap(\.differences)
        #expect(rows.count == 1)
        #expect(rows.first?.columns == ["volume"])
        #expect(rows.first?.a?.seq == damaged[2])
    }

    @Test("the live projector keeps advancing during a replay and carries on into the swapped-in copy")
    func liveKeepsAdvancing() async throws {
        let fixture = try ReplayFixture(label: "live")
        defer { fixture.cleanUp() }
        try fixture.append(count: 4000, seed: 14)
        try fixture.migrateLive()
        let live = try fixture.liveEngine()
        let progress = LiveProgress(next: try fixture.project(live))

        // Appends and projects in small steps while the replay runs, on another thread.
        let log = fixture.log
        let writer = Thread {
            var seed: UInt64 = 100
            while !progress.stopped {
                seed += 1
                _ = try? log.appendBlocking(events: EventCodecBenchmark.sampleEvents(count: 150, seed: seed))
                if let next = try? ReplayFixture.project(log: log, engine: live, from: progress.next, batch: 97) { progress.next = next }
            }
            progress.finish()
        }
        writer.start()
        var options = fixture.options()
        options.batchSize = 400
        let replayer = try fixture.replayer(options)
        let result = try replayer.run(try replayer.plan(from: 1, through: nil))
        try await Task.sleep(for: .milliseconds(300))
        progress.stop()
        while !progress.finished { try await Task.sleep(for: .milliseconds(20)) }
        try fixture.project(live, from: progress.next, batch: 97)
        #expect(result.swappedAt != nil)
        #expect(try fixture.livePrefix() == result.plan.shadowKeyPrefix)
        #expect(try fixture.schemas() == [fixture.schema])
        #expect(try fixture.keys(matching: "latest:*").isEmpty)

        // Live now equals a fresh rebuild of the whole log.
        var keep = fixture.options()
        keep.id = "chk" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let check = try fixture.replayer(keep)
        let plan = try check.plan(from: 1, through: try fixture.log.lastSeq())
        try check.run(plan)
        let report = try Audit.diff(try fixture.source(), try fixture.source(schema: plan.shadowSchema, prefix: plan.shadowKeyPrefix))
        #expect(report.isEqual, "\(report.text())")
    }

    @Test("a new projection version deploys blue/green: rebuilt beside the current one, swapped in, and the old projector refuses it")
    func newVersionSwapsIn() throws {
        let fixture = try ReplayFixture(label: "ver")
        defer { fixture.cleanUp() }
        try fixture.append(count: 2000, seed: 15)
        try fixture.migrateLive()
        let v1 = try fixture.liveEngine()
        try fixture.project(v1)
        let marked = "SELECT count(*) FILTER (WHERE value_text LIKE 'v2:%'), count(*) FROM \(fixture.schema).collected_macro_observations"
        let beforeSwap = try fixture.admin.query(marked)
        #expect(beforeSwap.value(0, 0) == "0")

        let replayer = try fixture.replayer(fixture.options(projections: [CollectedNextVersion()]))
        let plan = try replayer.plan(from: 1, through: nil)
        #expect(plan.projections == [CollectedNextVersion().label])
        try replayer.run(plan)
        let afterSwap = try fixture.admin.query(marked)
        #expect(afterSwap.value(0, 0) == afterSwap.value(0, 1))
        #expect((Int(afterSwap.value(0, 1) ?? "0") ?? 0) > 0)

        // The old engine still running against the live names must not write into the new copy.
        try fixture.append(count: 50, seed: 16)
        let next = try fixture.log.lastSeq() - 49
        let error = #expect(throws: ProjectionError.self) { try fixture.project(v1, from: next) }
        #expect(error?.code == .projectionVersionChanged)
        let v2 = try fixture.liveEngine(projections: [CollectedNextVersion()])
        try fixture.project(v2, from: next)
        let afterMore = try fixture.admin.query(marked)
        #expect(afterMore.value(0, 0) == afterMore.value(0, 1))
        let replayedAgain = try fixture.replayer(fixture.options(projections: [CollectedNextVersion()])).plan(from: 1, through: nil)
        #expect(replayedAgain.liveVersions == ["collected": CollectedNextVersion().version])
    }

    @Test("live keys still in the hash layout of collected@v1: --from N refuses to copy them, naming the key; --from 1 rebuilds them as strings")
    func oldLayoutKeys() throws {
        let fixture = try ReplayFixture(label: "layout")
        defer { fixture.cleanUp() }
        let head = try fixture.append(count: 600, seed: 21)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let clean = try fixture.roots()
        // One live key as a v1 projector left it: a hash of the same members.
        let key = try #require(try fixture.keys(matching: "latest:*").first)
        let bytes = try #require(try fixture.redis.command("GET", key).bytes)
        let value = try #require(try JSONValue.parse(bytes).objectValue)
        try fixture.redis.command("DEL", key)
        var hset: [any RedisArgument] = ["HSET", key]
        for member in value.members {
            hset.append(member.key)
            hset.append(member.value.stringValue ?? member.value.description)
        }
        try fixture.redis.command(hset)
        let before = try fixture.roots()
        #expect(before != clean, "the digest tells the hash from the string")

        let middle = try fixture.replayer()
        let error = #expect(throws: ReplayError.self) { try middle.run(try middle.plan(from: head / 2, through: nil)) }
        #expect(error?.description.contains("key \(key) holds a hash") == true, "\(String(describing: error))")
        #expect(try fixture.schemas() == [fixture.schema])
        #expect(try fixture.keys(matching: "tickfold:ns:*").isEmpty, "the shadow keys are dropped")
        #expect(try fixture.roots() == before)

        let full = try fixture.replayer()
        try full.run(try full.plan(from: 1, through: nil))
        #expect(try fixture.roots() == clean)
        let prefix = try fixture.livePrefix()
        #expect(try fixture.redis.command("TYPE", prefix + key.dropFirst(fixture.namespace.count)).string == "string")
    }

    @Test("a swap that cannot take the lock gives up, drops its shadow and leaves live untouched")
    func swapLockTimeout() throws {
        let fixture = try ReplayFixture(label: "lock")
        defer { fixture.cleanUp() }
        try fixture.append(count: 500, seed: 17)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let before = try fixture.roots()
        let holder = try PostgresConnection(fixture.conninfo)
        try holder.query("SELECT pg_advisory_lock($1)", [String(ProjectionSwap.lockKey(schema: fixture.schema))])
        defer { _ = try? holder.query("SELECT pg_advisory_unlock_all()") }
        var options = fixture.options()
        options.lockTimeout = .milliseconds(500)
        let replayer = try fixture.replayer(options)
        let error = #expect(throws: ReplayError.self) { try replayer.run(try replayer.plan(from: 1, through: nil)) }
        #expect(error?.code == .swap)
        #expect(try fixture.schemas() == [fixture.schema])
        #expect(try fixture.keys(matching: "tickfold:ns:*").isEmpty)
        #expect(try fixture.roots() == before)
    }

    @Test("a plan made before another replay swapped is refused instead of dropping the new live keys")
    func stalePlanRefused() throws {
        let fixture = try ReplayFixture(label: "stale")
        defer { fixture.cleanUp() }
        try fixture.append(count: 300, seed: 19)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let first = try fixture.replayer()
        let stale = try first.plan(from: 1, through: nil)
        var other = fixture.options()
        other.id = "other" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let second = try fixture.replayer(other)
        try second.run(try second.plan(from: 1, through: nil))
        let before = try fixture.roots()
        let error = #expect(throws: ReplayError.self) { try first.run(stale) }
        #expect(error?.description.contains("plan again") == true)
        #expect(try fixture.roots() == before)
        #expect(try fixture.schemas() == [fixture.schema])
    }

    @Test("a replay asked to stop (SIGINT) drops its shadow and leaves live untouched")
    func interrupted() throws {
        let fixture = try ReplayFixture(label: "stop")
        defer { fixture.cleanUp() }
        try fixture.append(count: 3000, seed: 20)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())
        let before = try fixture.roots()
        let batches = LiveProgress(next: 0)
        var options = fixture.options()
        options.shouldStop = {
            batches.next += 1
            return batches.next >= 2
        }
        let replayer = try fixture.replayer(options)
        let error = #expect(throws: ReplayError.self) { try replayer.run(try replayer.plan(from: 1, through: nil)) }
        #expect(error?.code == .interrupted)
        #expect(try fixture.schemas() == [fixture.schema])
        #expect(try fixture.keys(matching: "tickfold:ns:*").isEmpty)
        #expect(try fixture.roots() == before)
    }

    @Test("an unreachable database is a precise error")
    func unreachableDatabase() throws {
        let directory = try TemporaryDirectory("replay-down")
        let log = try EventLog(directory: directory.file("events"))
        defer { log.close() }
        let options = ReplayOptions(
            conninfo: "postgresql://127.0.0.1:\(try closedLocalPort())/tickfold?connect_timeout=2", redisURL: nil, projections: [CollectedProjection()])
        let error = #expect(throws: ReplayError.self) { try Replayer(log: log, options: options) }
        #expect(error?.code == .postgres)
        #expect(error?.description.contains("127.0.0.1") == true)
    }

    @Test("times map to the first event that occurred at or after them")
    func timePositions() throws {
        let fixture = try ReplayFixture(label: "time")
        defer { fixture.cleanUp() }
        try fixture.append(count: 300, seed: 18)
        let events = try fixture.log.read(from: 1, limit: 300).map { try Event.decode($0.canonicalJSON, verification: .trustStored) }
        let pick = events[150].occurredAt
        let resolver = ReplayPositionResolver(log: fixture.log)
        let first = try resolver.first(.time(pick))
        #expect(events[Int(first) - 1].occurredAt >= pick)
        #expect(events[..<Int(first - 1)].allSatisfy { $0.occurredAt < pick })
        let last = try resolver.last(.time(pick))
        #expect(events[..<Int(last)].allSatisfy { $0.occurredAt <= pick })
        #expect(try resolver.first(.time(Timestamp(millisecondsSinceEpoch: 253_402_300_799_000))) == 301)
        #expect(throws: ReplayError.self) { try resolver.first(.kafka(topic: "t", partition: 0, offset: 0)) }
    }
}

/// The live projector's position, shared with its worker thread.
final class LiveProgress: @unchecked Sendable {  // `@unchecked Sendable`: every access holds `lock`.
    private let lock = NSLock()
    private var nextSeq: UInt64
    private var stopRequested = false
    private var done = false

    init(next: UInt64) { nextSeq = next }

    var next: UInt64 {
        get { lock.withLock { nextSeq } }
        set { lock.withLock { nextSeq = newValue } }
    }
    var stopped: Bool { lock.withLock { stopRequested } }
    var finished: Bool { lock.withLock { done } }
    func stop() { lock.withLock { stopRequested = true } }
    func finish() { lock.withLock { done = true } }
}
