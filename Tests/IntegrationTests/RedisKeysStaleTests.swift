import Events
import Foundation
import Projections
import Redis
import Testing
import TickfoldTesting

/// A Redis restored from an older snapshot (an RDB file saved before the projector's last
/// batches, or a machine restarted with both): the marker is there, the keys written since the
/// snapshot are not. Its batch count, older than PostgreSQL's, tells (`RedisKeysState.stale`).
@Suite("Redis restored from an older snapshot", .onTestThreads, .serialized, .timeLimit(.minutes(5)),
       .enabled(if: TestServices.hasPostgres && PrivateRedis.isAvailable && TickfoldBinary.isAvailable))
struct RedisKeysStaleTests {
    @Test("Redis restarted from a snapshot older than the last run: project status says stale, project run refuses with exit 3 naming the replay, which rebuilds the keys")
    func restoredSnapshotThenRun() async throws {
        let (redis, fixture, arguments) = try await RedisKeysLossTests.logged("keys-stale", events: 600)
        defer { redis.remove(); fixture.cleanUp() }
        let target = fixture.target
        let first = try await TickfoldBinary.run(["project", "run"] + arguments)
        #expect(first.status == 0, "\(first.stderr)")
        let connection = try redis.connect()
        #expect(try connection.command("SAVE").string == "OK")

        let appended = try ProjectorEvents.mixed(count: 200, seed: 90_000)
        _ = try await fixture.log.append(events: appended)
        let second = try await TickfoldBinary.run(["project", "run"] + arguments)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try target.checkpoints()["log/0"] == 800)
        let keys = try ProjectorTarget.keys(of: fixture.logged + appended)
        let complete = try RedisKeysLossTests.dump(connection, prefix: target.namespace, keys)

        try await redis.restart(fromSnapshot: true)
        let restored = try redis.connect()
        // The snapshot kept the marker and the first run's keys, not the second run's.
        #expect(try restored.command("EXISTS", target.namespace + RedisLayout.markerKey(projection: "collected")).integer == 1)
        #expect(try RedisKeysLossTests.dump(restored, prefix: target.namespace, keys) != complete)

        let remedy = "tickfold replay --from 1 --schema \(target.schema) --namespace \(target.namespace)"
        let flagged = try await RedisKeysLossTests.redisStatus(arguments)
        #expect(flagged["state"] as? String == "stale", "\(flagged)")
        #expect(flagged["remedy"] as? String == remedy)
        let held = try #require(flagged["markerBatch"] as? Int)
        let batches = try #require(flagged["batches"] as? Int)
        #expect(held < batches)
        let human = try await TickfoldBinary.run(["project", "status"] + arguments)
        #expect(human.status == 0, "\(human.stderr)")
        #expect(human.stdout.contains("redis      STALE"), "\(human.stdout)")
        #expect(human.stdout.contains("`\(remedy)`"))

        let refused = try await TickfoldBinary.run(["project", "run"] + arguments)
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("redisKeysLost") && refused.stderr.contains("stale"), "\(refused.stderr)")
        #expect(refused.stderr.contains("as of batch \(held)") && refused.stderr.contains("at batch \(batches)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("`\(remedy)`"))
        // With new events too: nothing committed.
        _ = try await fixture.log.append(events: try ProjectorEvents.mixed(count: 50, seed: 91_000))
        let again = try await TickfoldBinary.run(["project", "run"] + arguments)
        #expect(again.status == 3, "\(again.stderr)")
        #expect(try target.checkpoints()["log/0"] == 800)

        // A middle replay would copy the stale keys below its start: it refolds from 1.
        let middle = try await TickfoldBinary.run(["replay", "--from", "500", "--dry-run", "--json"] + arguments)
        #expect(middle.status == 0, "\(middle.stderr)")
        let plan = try #require((try JSONSerialization.jsonObject(with: Data(middle.stdout.utf8)) as? [String: Any])?["plan"] as? [String: Any])
        #expect(plan["foldFrom"] as? Int == 1, "\(plan)")

        // The remedy, as named, rebuilds every key; the projector then starts.
        let replay = try await TickfoldBinary.run(remedy.split(separator: " ").dropFirst().map(String.init) + ["--log", fixture.logPath, "--pg", target.conninfo, "--redis", redis.url])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try await RedisKeysLossTests.redisStatus(arguments)["state"] as? String == "present")
        let resumed = try await TickfoldBinary.run(["project", "run"] + arguments)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let prefix = try RedisNamespacePointer(namespace: target.namespace).resolve(restored)
        let rebuilt = try RedisKeysLossTests.dump(restored, prefix: prefix, keys)
        #expect(Set(rebuilt.keys) == Set(complete.keys))
    }

    @Test("a following projector whose Redis restarts from an older snapshot notices by its next batch: exit 3 naming the replay, nothing committed after the restart")
    func restoredUnderFollower() async throws {
        let (redis, fixture, arguments) = try await RedisKeysLossTests.logged("keys-stale-follow", events: 300)
        defer { redis.remove(); fixture.cleanUp() }
        let target = fixture.target
        let child = try TickfoldChild(["project", "run", "--follow", "--progress-every", "0.5"] + arguments)
        #expect(try await eventually { try target.checkpoints()["log/0"] == 300 })
        #expect(try redis.connect().command("SAVE").string == "OK")
        _ = try await fixture.log.append(events: try ProjectorEvents.mixed(count: 100, seed: 92_000))
        #expect(try await eventually { try target.checkpoints()["log/0"] == 400 })

        try await redis.restart(fromSnapshot: true)
        // The marker is there, so the idle checks pass; the next batch does not.
        try await Task.sleep(for: .seconds(6))
        _ = try await fixture.log.append(events: try ProjectorEvents.mixed(count: 100, seed: 93_000))
        let result = try await onThread { try child.finish(timeout: .seconds(60)) }
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("stale"), "\(result.stderr)")
        #expect(result.stderr.contains("tickfold replay --from 1 --schema \(target.schema) --namespace \(target.namespace)"))
        #expect(try target.checkpoints()["log/0"] == 400)
    }

    @Test("replays (full, middle, without Redis) under a following projector and before a start leave counts and markers agreeing: no false stale")
    func replaysThenRun() async throws {
        let (redis, fixture, arguments) = try await RedisKeysLossTests.logged("keys-stale-replays", events: 800)
        defer { redis.remove(); fixture.cleanUp() }
        let target = fixture.target
        var head = 800
        func append(_ count: Int, seed: Int) async throws {
            _ = try await fixture.log.append(events: try ProjectorEvents.mixed(count: count, seed: seed))
            head += count
        }
        func run() async throws {
            let result = try await TickfoldBinary.run(["project", "run"] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try target.checkpoints()["log/0"] == Int64(head))
            #expect(try await RedisKeysLossTests.redisStatus(arguments)["state"] as? String == "present")
        }
        func replay(_ options: [String], following: Bool = false) async throws {
            let result = try await TickfoldBinary.run(["replay"] + options + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            let status = try await RedisKeysLossTests.redisStatus(arguments)
            #expect(status["state"] as? String == "present")
            // With no projector running, the swapped-in schema and the marker beside it agree
            // exactly (a replay without Redis carries the live count over).
            if !following { #expect(status["markerBatch"] as? Int == status["batches"] as? Int, "after replay \(options): \(status)") }
        }
        // Several batches before each replay, so the live counts differ from a replay's.
        try await run()
        for seed in 0..<3 {
            try await append(50, seed: 94_000 + seed * 100)
            try await run()
        }
        try await replay(["--from", "1"])
        try await run()
        try await append(50, seed: 95_000)
        try await run()
        try await replay(["--from", "700"])
        try await run()
        try await append(50, seed: 95_100)
        try await run()
        try await replay(["--from", "1", "--no-redis"])
        try await run()
        try await append(50, seed: 95_200)
        try await run()

        // The same under a following projector: it goes on after every swap.
        let child = try TickfoldChild(["project", "run", "--follow", "--progress-every", "0.5"] + arguments)
        for (index, options) in [["--from", "1"], ["--from", "900"], ["--from", "1", "--no-redis"]].enumerated() {
            try await replay(options, following: true)
            try await append(50, seed: 96_000 + index * 100)
            let expected = Int64(head)
            #expect(try await eventually(timeout: .seconds(30)) { try target.checkpoints()["log/0"] == expected }, "after replay \(options)")
        }
        let (stopped, _) = try await child.terminate()
        #expect(stopped.status == 0, "\(stopped.stderr)")
        try await run()
    }

    @Test("an engine: a batch whose Redis write landed without its COMMIT leaves the marker one ahead, which is no stale Redis; an older count is, at start and by the next batch; a marker without a count is upgraded")
    func engineCounts() async throws {
        let redis = try await PrivateRedis.start()
        defer { redis.remove() }
        let target = try ProjectorTarget()
        defer { target.cleanUp() }
        let events = try ProjectorEvents.sequenced(count: 1_000)
        let label = CollectedProjection().label
        func engine() throws -> ProjectionEngine { try RedisKeysLossTests.engine(target, redis) }
        func position(_ end: Int) -> [CheckpointPosition] { [CheckpointPosition(source: "log", partition: 0, position: Int64(end))] }
        let connection = try redis.connect()
        let marker = target.namespace + RedisLayout.markerKey(projection: "collected")
        func held() throws -> String? { try RedisKeysProbe.markerValue(connection, prefix: target.namespace, projection: "collected") }

        let live = try engine()
        try live.verifyRedisKeys()
        try live.apply(batch: Array(events[..<200]), positions: position(200))
        #expect(try held() == "\(label) 1")
        #expect(try live.postgres.batchCount(projection: "collected") == 1)

        // The engine's batch path up to COMMIT, then a crash: Redis holds the batch and count 2,
        // PostgreSQL rolled back to 1.
        struct Crash: Error {}
        func crashAfterRedis(_ range: Range<Int>) throws {
            let changes = try ProjectionEngine.fold(Array(events[range]), projections: [CollectedProjection()])
            #expect(throws: Crash.self) {
                try live.postgres.apply(
                    rows: changes.rows, rejects: changes.rejects, checkpoints: ["collected": position(range.upperBound)],
                    derived: CollectedProjection().derivedHashes, countingBatches: ["collected"]
                ) { values, batches in
                    let batch = batches["collected"] ?? 0
                    _ = try live.redis?.write(changes.keys, derived: values, markers: [
                        RedisMarker(projection: "collected", value: RedisLayout.markerValue(label: label, batch: batch), mustExist: true, minimumBatch: batch - 1),
                    ])
                    throw Crash()
                }
            }
        }
        try crashAfterRedis(200..<400)
        #expect(try held() == "\(label) 2")
        #expect(try live.postgres.batchCount(projection: "collected") == 1)
        #expect(try target.checkpoints()["log/0"] == 200)
        // Re-delivered by the running engine: the same count again, no refusal.
        try live.apply(batch: Array(events[200..<400]), positions: position(400))
        #expect(try held() == "\(label) 2")
        // And after a restart: a marker one ahead starts.
        try crashAfterRedis(400..<600)
        let restarted = try engine()
        try restarted.verifyRedisKeys()
        try restarted.apply(batch: Array(events[400..<600]), positions: position(600))
        #expect(try held() == "\(label) 3")
        #expect(try target.checkpoints()["log/0"] == 600)

        // An older count (a restored snapshot): refused by the next batch, which leaves the
        // marker as it was, and at every start.
        _ = try connection.command("SET", marker, "\(label) 1")
        #expect {
            try restarted.apply(batch: Array(events[600..<800]), positions: position(800))
        } throws: { error in
            guard let error = error as? ProjectionError, error.code == .redisKeysLost else { return false }
            return error.message.contains("stale") && error.message.contains("as of batch 1") && error.message.contains("at batch 3")
                && error.message.contains("`tickfold replay --from 1 --schema \(target.schema) --namespace \(target.namespace)`")
        }
        #expect(try held() == "\(label) 1")
        #expect(try target.checkpoints()["log/0"] == 600)
        #expect(try restarted.postgres.batchCount(projection: "collected") == 3)
        #expect { try engine().verifyRedisKeys() } throws: { error in
            guard let error = error as? ProjectionError, error.code == .redisKeysLost else { return false }
            return error.message.contains("as of batch 1") && error.message.contains("at batch 3")
        }

        // A marker without a count (written by a build from before counts) passes and gets one.
        _ = try connection.command("SET", marker, label)
        let upgraded = try engine()
        try upgraded.verifyRedisKeys()
        try upgraded.apply(batch: Array(events[600..<800]), positions: position(800))
        #expect(try held() == "\(label) 4")
        // The idle check looks at the marker's existence and leaves its count alone.
        try upgraded.checkRedisKeys()
        #expect(try held() == "\(label) 4")
    }
}

