import Events
import Foundation
import Postgres
import Projections
import Redis
import Replay
import Testing
import TickfoldTesting

/// A log in a temporary directory, a live schema and a logical key namespace of their own on
/// the shared servers, and helpers to project, replay and digest them. Everything it created
/// (including shadow and retired copies) is dropped by `cleanUp()`.
final class ReplayFixture {
    let directory: TemporaryDirectory
    let log: EventLog
    let schema: String
    let namespace: String
    let conninfo: String
    let redisURL: String
    let admin: PostgresConnection
    let redis: RedisConnection

    init(label: String) throws {
        directory = try TemporaryDirectory("replay-\(label)")
        log = try EventLog(directory: directory.file("events"))
        schema = TestServices.uniqueName("rp_\(label)")
        namespace = schema + ":"
        conninfo = try #require(TestServices.postgres)
        redisURL = try #require(TestServices.redis)
        admin = try PostgresConnection(conninfo)
        redis = try RedisConnection(url: redisURL)
    }

    /// `count` mixed events (bars, trades, tickers, macro, news, posts) appended to the log.
    @discardableResult
    func append(count: Int, seed: UInt64) throws -> UInt64 {
        let events = try EventCodecBenchmark.sampleEvents(count: count, seed: seed)
        _ = try log.appendBlocking(events: events)
        return try log.lastSeq()
    }

    func migrateLive() throws {
        _ = try Migrator().migrate(admin, schema: schema)
    }

    /// An engine writing into the live schema and following the live namespace pointer, as
    /// the projector does.
    func liveEngine(projections: [any Projection] = [CollectedProjection()]) throws -> ProjectionEngine {
        ProjectionEngine(
            projections: projections,
            postgres: try PostgresSink(conninfo: conninfo, schema: schema, tables: projections.flatMap(\.tables)),
            redis: try RedisSink(url: redisURL, namespace: namespace, notifications: false))
    }

    /// Continuous projection from the log: `engine` applies everything after `from` in
    /// batches of `batch` events; returns the next seq.
    @discardableResult
    func project(_ engine: ProjectionEngine, from: UInt64 = 1, batch: Int = 700, kafkaTopic: String? = nil) throws -> UInt64 {
        try Self.project(log: log, engine: engine, from: from, batch: batch, kafkaTopic: kafkaTopic)
    }

    /// Folds the log from `from` in batches, checkpointing each as the log source does, or,
    /// with `kafkaTopic`, as a Kafka source reading a one-partition topic that holds the
    /// log in order (seq N at offset N − 1).
    static func project(log: EventLog, engine: ProjectionEngine, from: UInt64, batch: Int, kafkaTopic: String? = nil) throws -> UInt64 {
        var next = from
        let head = try log.lastSeq()
        while next <= head {
            let events = try log.read(from: next, limit: batch).map { stored in
                var event = try Event.decode(stored.canonicalJSON, verification: .trustStored)
                event.seq = stored.seq
                return event
            }
            guard let last = events.last?.seq else { break }
            let position = kafkaTopic.map { CheckpointPosition(source: $0, partition: 0, position: Int64(last) - 1, seq: last) }
                ?? CheckpointPosition(source: "log", partition: 0, position: Int64(last))
            try engine.apply(batch: events, positions: [position])
            next = last + 1
        }
        return next
    }

    func options(projections: [any Projection] = [CollectedProjection()]) -> ReplayOptions {
        var options = ReplayOptions(conninfo: conninfo, redisURL: redisURL, projections: projections)
        options.schema = schema
        options.namespace = namespace
        options.batchSize = 1000
        options.swapLag = 500
        return options
    }

    func replayer(_ options: ReplayOptions? = nil) throws -> Replayer {
        try Replayer(log: log, options: options ?? self.options())
    }

    /// The live key prefix the namespace pointer names now.
    func livePrefix() throws -> String {
        try RedisNamespacePointer(namespace: namespace).resolve(redis)
    }

    func source(schema: String? = nil, prefix: String? = nil) throws -> AuditSource {
        AuditSource(
            target: AuditTarget(postgres: .init(schema: schema ?? self.schema), redis: .init(prefix: try prefix ?? livePrefix())),
            postgres: try PostgresConnection(conninfo), redis: try RedisConnection(url: redisURL))
    }

    /// Root per table and per key family of a target.
    func roots(schema: String? = nil, prefix: String? = nil) throws -> [String: String] {
        let report = try Audit.digest(try source(schema: schema, prefix: prefix))
        var roots: [String: String] = [:]
        for table in report.tables where table.table != "schema_migrations" { roots["pg:" + table.table] = table.root }
        for family in report.families { roots["redis:" + family.family] = family.root }
        return roots
    }

    /// Schemas on the server whose name starts with this fixture's live schema.
    func schemas() throws -> [String] {
        try admin.query("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1", [schema]).rows.compactMap { $0[0] }
    }

    /// Keys under the logical namespace (any prefix inside it).
    func keys(matching pattern: String = "*") throws -> [String] {
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try redis.command("SCAN", cursor, "MATCH", namespace + pattern, "COUNT", "1000").array ?? []
            cursor = reply.first?.string ?? "0"
            keys += (reply.last?.array ?? []).compactMap(\.string)
        } while cursor != "0"
        return keys.sorted()
    }

    func cleanUp() {
        for name in (try? schemas()) ?? [] {
            _ = try? admin.execute("DROP SCHEMA IF EXISTS \"\(name)\" CASCADE")
        }
        if let keys = try? keys(), !keys.isEmpty {
            for start in stride(from: 0, to: keys.count, by: 500) {
                _ = try? redis.command(["UNLINK"] + keys[start..<min(start + 500, keys.count)].map { $0 as any RedisArgument })
            }
        }
        log.close()
    }
}

/// The next version of `collected` for blue/green tests: folds like this build's but marks
/// every macro observation's `value_text`, so rows it wrote are told apart.
struct CollectedNextVersion: Projection {
    let base = CollectedProjection()
    var name: String { base.name }
    var version: Int { base.version + 1 }
    var tables: [TableSchema] { base.tables }
    var derivedHashes: [DerivedHash] { base.derivedHashes }

    func fold(_ event: Event, seq: UInt64, into changes: inout ProjectionChanges) {
        let start = changes.rows.count
        base.fold(event, seq: seq, into: &changes)
        let column = CollectedTables.macroObservations.columns.firstIndex(of: "value_text")!
        for index in changes.rows.indices.dropFirst(start) where changes.rows[index].table == CollectedTables.macroObservations.name {
            let row = changes.rows[index]
            var values = row.values
            values[column] = "v2:" + (values[column] ?? "")
            changes.rows[index] = RowUpsert(table: row.table, values: values, seq: row.seq, eventID: row.eventID)
        }
    }
}
