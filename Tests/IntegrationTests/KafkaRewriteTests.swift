import Events
import Foundation
import Kafka
import Projections
import Testing
import TickfoldTesting

/// A broker restarted empty (an in-memory Tansu) and filled again by the relay's
/// re-publication holds each event once, where the lost partitions also held events sent twice
/// (a relay killed between the broker's acknowledgement and its checkpoint sends them again).
/// The offsets a Kafka projector checkpointed then name other, later events, and the
/// partitions, with new events, are longer than the checkpoints: resuming at the old offsets
/// would pass over new events. The projector must read such a partition again.
@Suite("Kafka projector: partitions the broker lost and the relay wrote again", .onTestThreads, .serialized, .timeLimit(.minutes(5)),
       .enabled(if: TestServices.hasPostgres && TestServices.hasRedis && PrivateBroker.binary != nil))
struct KafkaRewriteTests {
    /// The log-fed projection of `log` in a target of its own: what every path must equal.
    static func reference(_ log: EventLog, keys: [String]) async throws -> (tables: [String: String], keys: [String: [String]], target: ProjectorTarget) {
        let reference = try ProjectorTarget()
        reference.track(keys)
        let run = try await Projector(engine: reference.engine(), source: LogEventSource(log: log)).run()
        #expect(run.reason == .caughtUp)
        return (try reference.dump(), try reference.redisDump(keys), reference)
    }

    /// What the partition holds at `offset` (the broker's true end: Tansu 0.6.0's watermark
    /// requests answer the last batch's base offset + 1).
    static func probe(_ partition: KafkaTopicPartition, at offset: Int64, config: KafkaConfig) throws -> KafkaOffsetProbe {
        try KafkaConsumer.probe([partition: offset], config: config, timeoutMs: 10_000, logger: .init(label: "test"))[partition] ?? .unanswered
    }

    /// A logged target of 1,200 events relayed to a private broker, where events 1101…1200
    /// then went once more into the same partitions (keyed by subject like the relay's
    /// messages): what a relay killed before checkpointing them sends again when restarted.
    struct RelayedTwice {
        var broker: PrivateBroker
        let setup: LoggedTarget
        let config: KafkaConfig
        let naming: TopicNaming
        /// The seq of the last event relayed first.
        let firstLast: UInt64
        /// The events sent twice.
        let again: [Event]
        /// The first relay pass's report.
        let firstRelay: KafkaRelay.Report

        init(_ name: String, prefix: String) async throws {
            broker = try await PrivateBroker.start()
            do {
                setup = try LoggedTarget(name, events: 1_200)
            } catch {
                broker.kill()
                throw error
            }
            config = KafkaConfig(bootstrapServers: broker.address)
            naming = TopicNaming(prefix: TestServices.uniqueName(prefix))
            firstLast = try #require(setup.logged.last?.seq)
            again = Array(setup.logged[1_100..<1_200])
            firstRelay = try await Self.relay(setup.log, config, naming)
            let (again, naming, config) = (again, naming, config)
            try await onThread { try ProjectorKafka.publish(again, prefix: naming.prefix, partitions: 6, config: config) }
        }

        static func relay(_ log: EventLog, _ config: KafkaConfig, _ naming: TopicNaming) async throws -> KafkaRelay.Report {
            try await onThread { try KafkaRelay(log: log, kafka: config, options: .init(naming: naming)).runOnce() }
        }

        /// One relay pass.
        func relay() async throws -> KafkaRelay.Report { try await Self.relay(setup.log, config, naming) }

        /// The broker dies and comes back empty on its port; 1,000 new events are logged
        /// (their keys tracked) and returned.
        mutating func restartEmptyWithNewEvents() async throws -> [Event] {
            broker.kill()
            broker = try await PrivateBroker.start(port: broker.port)
            _ = try await setup.log.append(events: try ProjectorEvents.mixed(count: 1_000, seed: 91_000))
            let later = try setup.log.events(from: firstLast + 1, limit: 10_000)
            setup.target.track(try ProjectorTarget.keys(of: later))
            return later
        }

        func cleanUp() {
            setup.cleanUp()
            broker.kill()
        }
    }

    @Test("relay (some events sent twice), Kafka projector, broker restarted empty, re-publication and new events: the restarted projector reads the partitions again and equals the log-fed projection")
    func rewrittenLongerPartitions() async throws {
        var scenario = try await RelayedTwice("kafka-rewrite", prefix: "rewrite")
        defer { scenario.cleanUp() }
        let (setup, config, naming, again) = (scenario.setup, scenario.config, scenario.naming, scenario.again)
        #expect(scenario.firstRelay.checkpoint == scenario.firstLast)

        func source() throws -> KafkaEventSource { try KafkaEventSource(kafka: config, options: .init(naming: naming)) }
        let first = try await Projector(engine: setup.target.engine(), source: source()).run()
        #expect(first.reason == .caughtUp && first.progress.events == setup.logged.count + again.count)
        let checkpointed = try setup.target.rows("SELECT source, partition, position, seq FROM $schema.projection_checkpoints ORDER BY 1, 2")
        #expect(!checkpointed.isEmpty && checkpointed.allSatisfy { $0[3] != nil }, "every Kafka checkpoint carries its seq: \(checkpointed)")

        // The broker dies and comes back empty; new events are logged; a relay pass finds its
        // acknowledged messages gone, publishes their topics again (each event once), then the
        // new events.
        let later = try await scenario.restartEmptyWithNewEvents()
        let republished = try await scenario.relay()
        #expect(!republished.lostTopics.isEmpty && republished.republished > 0 && republished.checkpoint == later.last?.seq, "\(republished)")

        // Partitions longer than their checkpoints, with other events at the checkpointed offsets.
        var rewritten = 0
        var rewrittenPartitions: Set<String> = []
        for row in checkpointed {
            let partition = KafkaTopicPartition(topic: row[0] ?? "", partition: Int32(row[1] ?? "") ?? -1)
            let position = try #require(Int64(row[2] ?? ""))
            guard case .message = try Self.probe(partition, at: position + 1, config: config),
                  case .message(let record) = try Self.probe(partition, at: position, config: config) else { continue }
            if KafkaEventReader.seqHeader(record) != UInt64(row[3] ?? "") {
                rewritten += 1
                rewrittenPartitions.insert("\(partition.topic)/\(partition.partition)")
            }
        }
        try #require(rewritten > 0, "re-published partitions longer than their checkpoints hold other events at the checkpointed offsets")
        // project status names them.
        let status = try await TickfoldBinary.run(["project", "status", "--schema", setup.target.schema, "--pg", setup.target.conninfo,
                                                   "--kafka", scenario.broker.address, "--log", setup.logPath])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.components(separatedBy: "was written again since it was read").count - 1 >= rewritten, "\(status.stdout)")
        // Their checkpointed offsets hold other events: no event-time lag is made from those.
        let json = try await TickfoldBinary.run(["project", "status", "--schema", setup.target.schema, "--pg", setup.target.conninfo,
                                                 "--kafka", scenario.broker.address, "--log", setup.logPath, "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stderr)")
        let collected = try #require((report["projections"] as? [[String: Any]])?.first { $0["name"] as? String == "collected" })
        let shown = (collected["positions"] as? [[String: Any]] ?? []).filter { rewrittenPartitions.contains("\($0["source"] as? String ?? "")/\($0["partition"] as? Int ?? -1)") }
        #expect(shown.count == rewrittenPartitions.count && shown.allSatisfy { $0["lagSeconds"] is NSNull }, "\(shown)")

        let resumed = try await Projector(engine: setup.target.engine(), source: source()).run()
        #expect(resumed.reason == .caughtUp)
        let keys = try ProjectorTarget.keys(of: setup.logged + later)
        let reference = try await Self.reference(setup.log, keys: keys)
        defer { reference.target.cleanUp() }
        #expect(try setup.target.dump() == reference.tables)
        #expect(try setup.target.redisDump(keys) == reference.keys)
        // The checkpoints now name the new partitions' messages: a further run reads nothing.
        let idle = try await Projector(engine: setup.target.engine(), source: source()).run()
        #expect(idle.reason == .caughtUp && idle.progress.events == 0, "\(idle.progress)")
    }

    @Test("a following Kafka projector across the broker's restart, re-publication and new events: the partitions are read again, not resumed at the old offsets; equal to the log-fed projection")
    func followingAcrossRestart() async throws {
        var scenario = try await RelayedTwice("kafka-rewrite-follow", prefix: "rewritef")
        defer { scenario.cleanUp() }
        let (setup, config, naming, again) = (scenario.setup, scenario.config, scenario.naming, scenario.again)
        #expect(scenario.firstRelay.checkpoint == scenario.firstLast)

        // No topic refresh during the test: the restart must be noticed by the lost connection
        // or the partitions' ends.
        let interruption = RetryInterruption()
        let source = try KafkaEventSource(kafka: config, options: .init(naming: naming, topicRefreshIntervalMs: 600_000, interruption: interruption))
        var options = Projector.Options(follow: true)
        options.sourceRetry = .unbounded(interruption: interruption)
        let projector = Projector(engine: try setup.target.engine(), source: source, options: options)
        let running = Task { try await projector.run() }
        let messages = Int64(setup.logged.count + again.count)
        #expect(try await eventually { try setup.target.checkpoints().values.reduce(0) { $0 + $1 + 1 } == messages })

        let later = try await scenario.restartEmptyWithNewEvents()
        let republished = try await scenario.relay()
        #expect(!republished.lostTopics.isEmpty && republished.checkpoint == later.last?.seq, "\(republished)")

        let keys = try ProjectorTarget.keys(of: setup.logged + later)
        let reference = try await Self.reference(setup.log, keys: keys)
        defer { reference.target.cleanUp() }
        let converged = try await eventually(timeout: .seconds(120)) { try setup.target.dump() == reference.tables }
        interruption.interrupt()
        projector.requestStop()
        let run = try await running.value
        #expect(converged, "the following projector reaches the log-fed tables")
        #expect(run.reason == .stopRequested)
        #expect(try setup.target.dump() == reference.tables)
        #expect(try setup.target.redisDump(keys) == reference.keys)
    }

    @Test("topics deleted under a following `project run --source kafka`, new events, and a relay pass publishing everything again: librdkafka 2.16 may die with SIGSEGV (its Fetch of a deleted topic; confluent-kafka alone does the same against Tansu); restarted as a supervisor would, the projector resumes from its checkpoints and ends equal to the log-fed projection")
    func topicsDeletedUnderFollowingProjector() async throws {
        let scenario = try await RelayedTwice("kafka-delete-follow", prefix: "deletef")
        defer { scenario.cleanUp() }
        let (setup, config, naming, again) = (scenario.setup, scenario.config, scenario.naming, scenario.again)
        let arguments = ["project", "run", "--source", "kafka", "--follow", "--kafka", scenario.broker.address] + setup.target.cliArguments
        let environment = ["TICKFOLD_TOPIC_PREFIX": naming.prefix]
        var child = try await TickfoldChild.service(arguments, environment: environment)
        let messages = Int64(setup.logged.count + again.count)
        #expect(try await eventually { try setup.target.checkpoints().values.reduce(0) { $0 + $1 + 1 } == messages })

        // The topics (with the events sent twice in them) go away under the running projector.
        let admin = try KafkaAdmin(config: config)
        let topics = try admin.metadata(timeoutMs: 5_000).topics.map(\.name).filter { $0.hasPrefix(naming.prefix + ".") }
        try #require(!topics.isEmpty)
        for topic in topics { try admin.deleteTopic(topic) }
        #expect(try await eventually { try admin.metadata(timeoutMs: 5_000).topics.allSatisfy { !topics.contains($0.name) } })
        // The topics stay away a while, as under a following relay (it looks for lost topics
        // every 30 s): long enough for the projector's fetches (every ≤ 0.5 s) to meet them
        // gone. With librdkafka 2.16 that kills it; one that survives carries on below.
        let first = child
        let died = try await eventually(timeout: .seconds(20)) { !first.process.isRunning }
        // New events; the relay finds its topics gone and publishes every event once, at other
        // offsets than before (no duplicates now), then the new ones.
        _ = try await setup.log.append(events: try ProjectorEvents.mixed(count: 1_000, seed: 93_000))
        let later = try setup.log.events(from: scenario.firstLast + 1, limit: 10_000)
        setup.target.track(try ProjectorTarget.keys(of: later))
        let republished = try await scenario.relay()
        #expect(Set(republished.lostTopics) == Set(topics) && republished.checkpoint == later.last?.seq, "\(republished)")

        let keys = try ProjectorTarget.keys(of: setup.logged + later)
        let reference = try await Self.reference(setup.log, keys: keys)
        defer { reference.target.cleanUp() }
        // A projector that died is started again, as its supervisor would.
        var ends: [String] = []
        var converged = false
        let deadline = ContinuousClock.now + .seconds(150)
        while ContinuousClock.now < deadline {
            if !child.process.isRunning {
                let dead = child
                let result = try await onThread { try dead.finish(timeout: .seconds(10)) }
                ends.append("\(dead.process.terminationReason == .uncaughtSignal ? "signal" : "exit status") \(result.status)")
                try #require(ends.count <= 3, "the projector keeps dying: \(ends); its last log:\n\(result.stderr.suffix(3_000))")
                child = try await TickfoldChild.service(arguments, environment: environment)
            }
            if try setup.target.dump() == reference.tables {
                converged = true
                break
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        print("projector ends before the restart: \(ends.isEmpty ? "none (it survived)" : ends.joined(separator: ", ")); died while the topics were away: \(died)")
        let (stopped, took) = try await child.terminate()
        #expect(converged, "the projector reaches the log-fed tables (ends: \(ends)); its log:\n\(stopped.stderr.suffix(3_000))")
        #expect(stopped.status == 0, "\(stopped.stderr.suffix(3_000))")
        TickfoldChild.expectStopped(stopped, took: took, within: TickfoldChild.promptStop)
        #expect(try setup.target.dump() == reference.tables)
        #expect(try setup.target.redisDump(keys) == reference.keys)
    }
}
