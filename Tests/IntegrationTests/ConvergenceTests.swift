import Events
import Foundation
import Kafka
import Postgres
import Projections
import Replay
import Testing
import TickfoldTesting

/// SPEC §2 convergence, end to end on the real servers: one set of over 100k mixed events
/// delivered three ways must give identical PostgreSQL tables and Redis keys.
@Suite("projection convergence", .onTestThreads, .serialized, .enabled(if: TestServices.hasPostgres && TestServices.hasRedis && TestServices.hasKafka), .timeLimit(.minutes(10)))
struct ConvergenceTests {
    @Test("log order, the relay's 6 Kafka partitions, and a shuffled Kafka delivery with repeats, a SIGKILL and a restart converge")
    func threeDeliveries() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        let directory = try TemporaryDirectory("convergence")
        let path = directory.file("log")
        let (log, logged) = try await onThread { try ProjectorEvents.log(try ProjectorEvents.mixed(count: 102_000), in: path) }
        defer { log.close() }
        try #require(logged.count >= 100_000)
        let keys = try ProjectorTarget.keys(of: logged)
        let ordered = try ProjectorTarget()
        let relayed = try ProjectorTarget()
        let shuffled = try ProjectorTarget()
        let relayPrefix = TestServices.uniqueName("convrelay")
        let shufflePrefix = TestServices.uniqueName("convshuffle")
        defer {
            for target in [ordered, relayed, shuffled] { target.cleanUp() }
            ProjectorKafka.deleteTopics(prefix: relayPrefix)
            ProjectorKafka.deleteTopics(prefix: shufflePrefix)
        }
        for target in [ordered, relayed, shuffled] { target.track(keys) }
        let batches = BatchSizing(minimum: 1_000, maximum: 50_000, initial: 50_000)

        // (a) In log order, from LMDB.
        let a = try await Projector(engine: ordered.engine(), source: LogEventSource(log: log), options: .init(batch: batches)).run()
        #expect(a.reason == .caughtUp && a.progress.events == logged.count)

        // (b) Through the relay's topics, 6 partitions each, partitions interleaved.
        let relay = try KafkaRelay(log: log, kafka: ProjectorKafka.config, options: .init(naming: TopicNaming(prefix: relayPrefix), partitions: 6))
        #expect(try await onThread { try relay.runOnce() }.checkpoint == logged.last?.seq)
        let kafkaSource = try KafkaEventSource(kafka: ProjectorKafka.config, options: .init(naming: TopicNaming(prefix: relayPrefix)))
        let b = try await Projector(engine: relayed.engine(), source: kafkaSource, options: .init(batch: batches)).run()
        #expect(b.reason == .caughtUp && b.progress.events == logged.count && b.progress.invalidMessages == 0)
        #expect(Set(try relayed.checkpoints().keys.map { String($0.split(separator: "/").last ?? "") }) == ["0", "1", "2", "3", "4", "5"])

        // (c) Shuffled, a fifth of the events twice, published by hand; the projector is a
        // child process killed with SIGKILL midway, then restarted.
        var random = SplitMix64(seed: 0x5eed_71c4)
        var delivery = logged
        for index in stride(from: 0, to: logged.count, by: 5) { delivery.append(logged[index]) }
        delivery.shuffle(using: &random)
        let shuffledDelivery = delivery
        try await onThread { try ProjectorKafka.publish(shuffledDelivery, prefix: shufflePrefix, partitions: 6) }
        let environment = ["TICKFOLD_TOPIC_PREFIX": shufflePrefix]
        let arguments = ["project", "run", "--source", "kafka", "--kafka", TestServices.kafka ?? ""] + shuffled.cliArguments
        let first = try TickfoldChild(arguments + ["--min-batch", "500", "--max-batch", "500"], environment: environment)
        #expect(try await eventually { try shuffled.checkpoints().values.reduce(0, +) > 2_000 })
        first.signal(SIGKILL)
        let killed = try await onThread { try first.finish() }
        #expect(killed.status == SIGKILL && first.process.terminationReason == .uncaughtSignal)
        let appliedBeforeKill = try shuffled.checkpoints().values.reduce(0) { $0 + $1 + 1 }
        #expect(appliedBeforeKill < Int64(delivery.count), "killed midway")
        let second = try TickfoldChild(arguments, environment: environment)
        let restart = try await onThread { try second.finish() }
        #expect(restart.status == 0, "\(restart.stderr)")
        #expect(try shuffled.checkpoints().values.reduce(0) { $0 + $1 + 1 } == Int64(delivery.count))

        // Identical tables (rows with their seq and event id, and the rejects) and keys.
        let reference = try ordered.dump()
        #expect(try relayed.dump() == reference)
        #expect(try shuffled.dump() == reference)
        let referenceKeys = try ordered.redisDump(keys)
        #expect(try relayed.redisDump(keys) == referenceKeys)
        #expect(try shuffled.redisDump(keys) == referenceKeys)
        let digests = try [ordered, relayed, shuffled].map { target in
            try Audit.digest(AuditSource(target: AuditTarget(postgres: .init(schema: target.schema)), postgres: target.admin, redis: nil))
                .tables.filter { $0.table != "projection_checkpoints" }.map { "\($0.table) \($0.rows) \($0.root)" }
        }
        #expect(digests[1] == digests[0] && digests[2] == digests[0])

        // The set exercises every collected table and every Redis key family.
        for table in CollectedTables.all {
            #expect(reference[table.name]?.isEmpty == false, "\(table.name) has rows")
        }
        #expect(reference["projection_rejects"]?.isEmpty == false)
        for family in ["latest:stocks:sp500:", "latest:stocks:topgainers:", "latest:crypto:", "sp500_market_data"] {
            #expect(referenceKeys.keys.contains { $0.hasPrefix(family) }, "\(family) written")
        }
    }
}

