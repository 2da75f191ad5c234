import Events
import Foundation
import Kafka
import Postgres
import Projections
import Redis
import Replay
import Testing
import TickfoldTesting

/// SPEC §2 and §5: every way of projecting the same log ends in the same state, and the audit
/// finds a single tampered row or key among them.
@Suite("Determinism matrix", .onTestThreads, .serialized, .timeLimit(.minutes(5)),
       .enabled(if: TestServices.hasPostgres && TestServices.hasRedis && TestServices.hasKafka))
struct DeterminismMatrixTests {
    /// One projection output: a schema and a logical key namespace beside the fixture's.
    struct Output {
        let schema: String
        let namespace: String

        init(_ fixture: ReplayFixture, _ label: String) {
            schema = fixture.schema + "_" + label
            namespace = fixture.namespace + label + ":"
        }

        func engine(_ fixture: ReplayFixture) throws -> ProjectionEngine {
            ProjectionEngine(
                projections: [CollectedProjection()],
                postgres: try PostgresSink(conninfo: fixture.conninfo, schema: schema, tables: CollectedTables.all),
                redis: try RedisSink(url: fixture.redisURL, namespace: namespace, notifications: false))
        }

        func source(_ fixture: ReplayFixture) throws -> AuditSource {
            let redis = try RedisConnection(url: fixture.redisURL)
            return AuditSource(
                target: AuditTarget(postgres: .init(schema: schema), redis: .init(prefix: try RedisNamespacePointer(namespace: namespace).resolve(redis))),
                postgres: try PostgresConnection(fixture.conninfo), redis: redis)
        }

        func replay(_ fixture: ReplayFixture, from: UInt64) throws -> ReplayResult {
            var options = fixture.options()
            options.schema = schema
            options.namespace = namespace
            let replayer = try Replayer(log: fixture.log, options: options)
            return try replayer.run(try replayer.plan(from: from, through: nil))
        }
    }

    @Test("log, Kafka (6 partitions), replay --from 1 and a middle replay give equal digests; audit diff finds exactly one tampered row and key")
    func matrix() throws {
        let fixture = try ReplayFixture(label: "matrix")
        defer { fixture.cleanUp() }
        let head = try fixture.append(count: 4000, seed: 31)

        // 1. Continuous projection from the log, in small batches.
        let fromLog = Output(fixture, "log")
        _ = try Migrator().migrate(fixture.admin, schema: fromLog.schema)
        try fixture.project(try fromLog.engine(fixture), batch: 333)

        // 2. Projection from Kafka: the relay publishes to 6 partitions per topic, a reader
        //    assigned to every partition applies whatever interleaving the broker gives.
        let fromKafka = Output(fixture, "kafka")
        _ = try Migrator().migrate(fixture.admin, schema: fromKafka.schema)
        let naming = TopicNaming(prefix: TestServices.uniqueName("matrix"))
        let relay = try KafkaRelay(log: fixture.log, kafka: RelayFixtures.kafkaConfig, options: .init(naming: naming, partitions: 6))
        _ = try relay.runOnce()
        #expect(try relay.checkpoint() == head)
        try projectFromKafka(fixture, engine: try fromKafka.engine(fixture), naming: naming, head: head)

        // 3. replay --from 1 into an output that does not exist yet.
        let replayed = Output(fixture, "full")
        let full = try replayed.replay(fixture, from: 1)
        #expect(full.swappedAt == head)

        // 4. A middle replay over a live output that was projected continuously.
        let middle = Output(fixture, "mid")
        _ = try Migrator().migrate(fixture.admin, schema: middle.schema)
        try fixture.project(try middle.engine(fixture), batch: 1000)
        let refold = try middle.replay(fixture, from: head / 2)
        #expect(refold.plan.copyBelow == head / 2 && refold.copiedRows > 0)

        let digests = try [fromLog, fromKafka, replayed, middle].map { output in
            let report = try Audit.digest(try output.source(fixture))
            var roots: [String: String] = [:]
            for table in report.tables where table.table != "schema_migrations" { roots[table.table] = table.root }
            for family in report.families { roots["redis:" + family.family] = family.root }
            return roots
        }
        #expect(digests[0].count > 10)
        #expect(digests[1] == digests[0], "Kafka")
        #expect(digests[2] == digests[0], "replay --from 1")
        #expect(digests[3] == digests[0], "replay --from \(head / 2)")

        // Tamper one row and one key of the Kafka output: the diff names exactly those.
        let tampered = try fixture.admin.query(
            "UPDATE \(fromKafka.schema).collected_trades SET price = price + 1 WHERE ctid = (SELECT ctid FROM \(fromKafka.schema).collected_trades ORDER BY seq LIMIT 1) RETURNING symbol, timestamp_ms").rows
        #expect(tampered.count == 1)
        let kafkaPrefix = try fromKafka.source(fixture).target.redis!.prefix
        let key = try #require(try fixture.keys(matching: "kafka:latest:crypto:*").first)
        let stored = try #require(try fixture.redis.command("GET", key).string)
        let price = try #require(stored.range(of: #""price":"[^"]*""#, options: .regularExpression))
        try fixture.redis.command("SET", key, stored.replacingCharacters(in: price, with: #""price":"0.5""#))
        let report = try Audit.diff(try fromLog.source(fixture), try fromKafka.source(fixture))
        let differing = report.comparisons.filter { $0.status != .equal }
        #expect(differing.map(\.name).sorted() == ["collected_trades", "redis:latest:crypto:*"])
        let rows = differing.flatMap(\.differences)
        #expect(rows.count == 2)
        #expect(rows.contains { $0.columns == ["price"] && $0.key.contains(tampered[0][0] ?? "?") })
        #expect(rows.contains { $0.key == String(key.dropFirst(kafkaPrefix.count)) && $0.columns == ["price"] })
    }

    /// Applies every event of the relay's topics, all partitions interleaved as polled, with
    /// each partition's offset as the checkpoint, until every seq up to `head` was seen.
    func projectFromKafka(_ fixture: ReplayFixture, engine: ProjectionEngine, naming: TopicNaming, head: UInt64) throws {
        var types = Set<String>()
        try fixture.log.forEach(from: 1) { view in
            types.insert(try Event.decode(view.canonicalJSON, verification: .trustStored).type)
        }
        let topics = Set(types.map { naming.topic(forType: $0) }).sorted()
        let reader = try KafkaEventReader(kafka: RelayFixtures.eofConfig)
        try reader.assign(topics.flatMap { topic in (0..<6).map { KafkaTopicPartitionOffset(topic: topic, partition: $0, offset: .beginning) } })
        var seen = Set<UInt64>()
        let deadline = ContinuousClock.now + .seconds(60)
        while seen.count < Int(head), ContinuousClock.now < deadline {
            var batch: [Event] = []
            var positions: [CheckpointKey: Int64] = [:]
            for message in try reader.poll(max: 500, timeoutMs: 200) {
                guard case .event(let event) = message.outcome, let seq = event.seq else {
                    Issue.record("rejected Kafka message at \(message.topic)[\(message.partition)]@\(message.offset)")
                    continue
                }
                seen.insert(seq)
                batch.append(event)
                positions[CheckpointKey(source: message.topic, partition: Int(message.partition))] = message.offset
            }
            guard !batch.isEmpty else { continue }
            try engine.apply(batch: batch, positions: positions.map { CheckpointPosition(source: $0.key.source, partition: $0.key.partition, position: $0.value) })
        }
        #expect(seen.count == Int(head))
    }
}
