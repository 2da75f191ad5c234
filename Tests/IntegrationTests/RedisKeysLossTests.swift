import Events
import Foundation
import Projections
import Redis
import Testing
import TickfoldTesting

/// A Redis that restarted without persistence, or was flushed, while PostgreSQL kept the
/// checkpoint: the projector must not go on as if the keys were there (`RedisKeysState`).
/// Each test runs a private redis-server, so flushing and restarting it touches no other suite.
@Suite("Redis that lost the keys", .onTestThreads, .serialized, .timeLimit(.minutes(5)),
       .enabled(if: TestServices.hasPostgres && PrivateRedis.isAvailable && TickfoldBinary.isAvailable))
struct RedisKeysLossTests {
    @Test("after FLUSHDB, project status flags the keys as lost and project run refuses with exit 3 naming the replay; that replay rebuilds the same keys")
    func flushedThenRun() async throws {
        let (redis, fixture, arguments) = try await Self.logged("keys-lost", events: 1_000)
        defer { redis.remove(); fixture.cleanUp() }
        let target = fixture.target

        let first = try await TickfoldBinary.run(["project", "run"] + arguments)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try await Self.redisStatus(arguments)["state"] as? String == "present")
        let connection = try redis.connect()
        let keys = try ProjectorTarget.keys(of: fixture.logged)
        let before = try Self.dump(connection, prefix: target.namespace, keys)
        #expect(!before.isEmpty)

        _ = try connection.command("FLUSHDB")
        let remedy = "tickfold replay --from 1 --schema \(target.schema) --namespace \(target.namespace)"
        let flagged = try await Self.redisStatus(arguments)
        #expect(flagged["state"] as? String == "lost")
        #expect(flagged["remedy"] as? String == remedy)
        let human = try await TickfoldBinary.run(["project", "status"] + arguments)
        #expect(human.status == 0, "\(human.stderr)")
        #expect(human.stdout.contains("redis      LOST"), "\(human.stdout)")
        #expect(human.stdout.contains("`\(remedy)`"))

        // A middle replay would copy the live keys below its start: there are none, so it
        // refolds from 1 and says why.
        let middle = try await TickfoldBinary.run(["replay", "--from", "500", "--dry-run", "--json"] + arguments)
        #expect(middle.status == 0, "\(middle.stderr)")
        let plan = try #require((try JSONSerialization.jsonObject(with: Data(middle.stdout.utf8)) as? [String: Any])?["plan"] as? [String: Any])
        #expect(plan["foldFrom"] as? Int == 1)
        #expect(plan["copyBelow"] is NSNull)
        #expect((plan["notes"] as? [String] ?? []).contains { $0.contains("the live Redis keys of collected are lost") }, "\(plan)")

        // New events do not make it carry on either: nothing is written, nothing committed.
        let appended = try ProjectorEvents.mixed(count: 50, seed: 70_000)
        _ = try await fixture.log.append(events: appended)
        let refused = try await TickfoldBinary.run(["project", "run"] + arguments)
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("redisKeysLost"))
        #expect(refused.stderr.contains("`\(remedy)`"))
        #expect(try target.checkpoints()["log/0"] == 1_000)
        #expect(try connection.command("DBSIZE").integer == 0)

        // The remedy it names, as named, restores every key.
        let replay = try await TickfoldBinary.run(remedy.split(separator: " ").dropFirst().map(String.init) + ["--log", fixture.logPath, "--pg", target.conninfo, "--redis", redis.url])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try await Self.redisStatus(arguments)["state"] as? String == "present")
        let resumed = try await TickfoldBinary.run(["project", "run"] + arguments)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let prefix = try RedisNamespacePointer(namespace: target.namespace).resolve(connection)
        #expect(prefix != target.namespace)
        let after = try Self.dump(connection, prefix: prefix, keys)
        // Every key is back; those the appended events did not rewrite hold what they held.
        #expect(Set(after.keys) == Set(before.keys))
        let rewritten = Set(try ProjectorTarget.keys(of: appended))
        for (key, value) in before where !rewritten.contains(key) {
            #expect(after[key] == value, "\(key)")
        }
    }

    @Test("a following projector whose Redis restarts empty notices on reconnect: exit 3 naming the replay, nothing committed after the restart")
    func restartedUnderFollower() async throws {
        let (redis, fixture, arguments) = try await Self.logged("keys-restart", events: 500)
        defer { redis.remove(); fixture.cleanUp() }
        let target = fixture.target
        let child = try TickfoldChild(["project", "run", "--follow", "--progress-every", "0.5"] + arguments)
        #expect(try await eventually { try target.checkpoints()["log/0"] == 500 })

        try await redis.restart()
        _ = try await fixture.log.append(events: try ProjectorEvents.mixed(count: 100, seed: 80_000))
        let result = try await onThread { try child.finish(timeout: .seconds(60)) }
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("tickfold replay --from 1 --schema \(target.schema) --namespace \(target.namespace)"))
        #expect(try target.checkpoints()["log/0"] == 500)
    }

    @Test("an idle following projector (no new events) notices a Redis restart within seconds: exit 3 naming the replay")
    func restartedUnderIdleFollower() async throws {
        let (redis, fixture, arguments) = try await Self.logged("keys-idle", events: 300)
        defer { redis.remove(); fixture.cleanUp() }
        let target = fixture.target
        let child = try TickfoldChild(["project", "run", "--follow"] + arguments)
        #expect(try await eventually { try target.checkpoints()["log/0"] == 300 })

        try await redis.restart()
        let restarted = ContinuousClock.now
        let result = try await onThread { try child.finish(timeout: .seconds(40)) }
        #expect(result.status == 3, "\(result.stderr)")
        #expect(ContinuousClock.now - restarted < .seconds(20))
        #expect(result.stderr.contains("tickfold replay --from 1 --schema \(target.schema) --namespace \(target.namespace)"))
        #expect(try target.checkpoints()["log/0"] == 300)
    }

    @Test("an engine notices a FLUSHDB between two batches on one connection; a new projection is no error; keys written before markers are adopted")
    func engineBetweenBatches() async throws {
        let redis = try await PrivateRedis.start()
        defer { redis.remove() }
        let target = try ProjectorTarget()
        defer { target.cleanUp() }
        let events = try ProjectorEvents.sequenced(count: 400)
        func engine() throws -> ProjectionEngine { try Self.engine(target, redis) }
        let connection = try redis.connect()
        let marker = target.namespace + RedisLayout.markerKey(projection: "collected")

        let live = try engine()
        try live.verifyRedisKeys()  // no checkpoint: a new projection
        try live.apply(batch: Array(events[..<200]), positions: [CheckpointPosition(source: "log", partition: 0, position: 200)])
        #expect(try connection.command("GET", marker).string == CollectedProjection().label + " 1")

        _ = try connection.command("FLUSHDB")
        #expect {
            try live.apply(batch: Array(events[200...]), positions: [CheckpointPosition(source: "log", partition: 0, position: 400)])
        } throws: { error in
            guard let error = error as? ProjectionError, error.code == .redisKeysLost else { return false }
            return error.message.contains(marker) && error.message.contains("log/0=200")
                && error.message.contains("`tickfold replay --from 1 --schema \(target.schema) --namespace \(target.namespace)`")
        }
        #expect(try target.checkpoints()["log/0"] == 200)
        // The failed batch wrote its keys into the emptied Redis; they do not pass for keys
        // written before markers: the marker says lost, at every start, until a rebuild.
        #expect(try connection.command("DBSIZE").integer ?? 0 > 1)
        #expect(try connection.command("GET", marker).string == RedisLayout.lostMarkerValue)
        #expect { try engine().verifyRedisKeys() } throws: { ($0 as? ProjectionError)?.code == .redisKeysLost }

        // Keys without a marker (a build from before markers wrote them) are adopted.
        _ = try connection.command("DEL", marker)
        let sink = try RedisSink(url: redis.url, namespace: target.namespace)
        try sink.write(try ProjectionEngine.fold(Array(events[..<200]), projections: [CollectedProjection()]).keys)
        #expect(try connection.command("EXISTS", marker).integer == 0)
        let upgraded = try engine()
        try upgraded.verifyRedisKeys()
        #expect(try connection.command("EXISTS", marker).integer == 1)
        try upgraded.apply(batch: Array(events[200...]), positions: [CheckpointPosition(source: "log", partition: 0, position: 400)])
        #expect(try target.checkpoints()["log/0"] == 400)
    }

    /// An engine projecting `collected` into `target`'s schema and `redis` under its namespace.
    static func engine(_ target: ProjectorTarget, _ redis: PrivateRedis) throws -> ProjectionEngine {
        ProjectionEngine(
            projections: [CollectedProjection()],
            postgres: try PostgresSink(conninfo: target.conninfo, schema: target.schema, tables: CollectedTables.all),
            redis: try RedisSink(url: redis.url, namespace: target.namespace))
    }

    /// A private Redis, a log of `count` events with a target schema, and the `project run`
    /// arguments that join them.
    static func logged(_ label: String, events count: Int) async throws -> (PrivateRedis, LoggedTarget, [String]) {
        let redis = try await PrivateRedis.start()
        let fixture: LoggedTarget
        do { fixture = try LoggedTarget(label, events: count) } catch {
            redis.remove()
            throw error
        }
        let target = fixture.target
        return (redis, fixture, ["--log", fixture.logPath, "--schema", target.schema, "--namespace", target.namespace, "--pg", target.conninfo, "--redis", redis.url])
    }

    /// The `redis` object of `collected` in `project status --json`.
    static func redisStatus(_ arguments: [String]) async throws -> [String: Any] {
        let status = try await TickfoldBinary.run(["project", "status", "--json"] + arguments)
        #expect(status.status == 0, "\(status.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let projections = try #require(report["projections"] as? [[String: Any]])
        let collected = try #require(projections.first { $0["name"] as? String == "collected" })
        return try #require(collected["redis"] as? [String: Any])
    }

    /// `keys` under `prefix` with their values; absent keys are left out.
    static func dump(_ connection: RedisConnection, prefix: String, _ keys: [String]) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for key in keys {
            if let value = try RedisDump.value(connection, prefix + key) { out[key] = value }
        }
        return out
    }
}
