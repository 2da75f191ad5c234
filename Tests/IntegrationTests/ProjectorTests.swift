import Events
import Foundation
import Kafka
import Projections
import Redis
import Testing
import TickfoldTesting

@Suite("projector service", .onTestThreads, .serialized, .enabled(if: TestServices.hasPostgres && TestServices.hasRedis), .timeLimit(.minutes(5)))
struct ProjectorTests {
    @Test("poison events land in projection_rejects, the projection carries on, and the same events always give the same rejects")
    func poisonEvents() async throws {
        let directory = try TemporaryDirectory("projector-poison")
        let (log, logged) = try ProjectorEvents.log(try ProjectorEvents.mixed(count: 5_000), in: directory.file("log"))
        defer { log.close() }
        let poisonIDs = Set(try stride(from: 999, to: 5_000, by: 1_000).map { try ProjectorEvents.event($0).id })
        let poison = logged.filter { poisonIDs.contains($0.id) }
        #expect(poison.count == 5)
        let first = try ProjectorTarget()
        let second = try ProjectorTarget()
        defer { first.cleanUp(); second.cleanUp() }
        let keys = try ProjectorTarget.keys(of: logged)
        for target in [first, second] {
            let run = try await Projector(engine: target.engine(), source: LogEventSource(log: log), options: .init(batch: BatchSizing(minimum: 100, maximum: 700))).run()
            #expect(run.reason == .caughtUp)
            #expect(run.progress.events == logged.count)
            #expect(run.progress.rejects == 5)
            #expect(try target.checkpoints() == ["log/0": Int64(logged.count)])
        }
        let rejects = try first.rows("SELECT event_id, seq, event_type, reason FROM $schema.projection_rejects ORDER BY seq")
        #expect(rejects.map { $0[0] } == poison.map { Optional($0.id.hex) })
        #expect(rejects.allSatisfy { ($0[3] ?? "").isEmpty == false })
        #expect(rejects.contains { $0[2] == "bar.hourly" && ($0[3] ?? "").contains("unknown event type") })
        // The projection went on past the poison events.
        #expect(try first.rows("SELECT max(seq) FROM $schema.collected_daily_bars")[0][0].flatMap(Int.init) ?? 0 > Int(poison[poison.count - 2].seq ?? 0))
        #expect(try first.dump() == second.dump())
        #expect(try first.redisDump(keys) == second.redisDump(keys))
        // Re-delivering a poison event records nothing new and changes nothing.
        let before = try first.dump()
        let again = try first.engine().apply(batch: poison, positions: [])
        #expect(again.rejects == 5 && again.postgres.rejectsRecorded == 0)
        #expect(try first.dump() == before)
    }

    @Test("a replay range: start after one seq, stop after another, into its own schema")
    func range() async throws {
        let fixture = try LoggedTarget("projector-range", events: 3_000)
        defer { fixture.cleanUp() }
        let (log, logged, target) = (fixture.log, fixture.logged, fixture.target)
        let options = Projector.Options(stopAfter: 2_000, startAfter: [LogEventSource.checkpointKey: 1_000], batch: BatchSizing(minimum: 64, maximum: 256))
        let run = try await Projector(engine: target.engine(), source: LogEventSource(log: log), options: options).run()
        #expect(run.reason == .reachedStop)
        #expect(run.progress.events == 1_000)
        #expect(run.progress.lastSeq == 2_000)
        #expect(try target.checkpoints() == ["log/0": 2_000])
        let span = try target.rows("SELECT min(seq), max(seq) FROM $schema.collected_daily_bars")[0]
        #expect(Int(span[0] ?? "") ?? 0 > 1_000 && Int(span[1] ?? "") ?? .max <= 2_000)
        // Resuming from the checkpoint with the same stop reads nothing more.
        let again = try await Projector(engine: target.engine(), source: LogEventSource(log: log), options: options).run()
        #expect(again.reason == .reachedStop && again.progress.events == 0)
        #expect(logged.count == 3_000)
    }

    @Test("follow mode: events appended while following become visible; a stop request or cancellation ends the run cleanly")
    func follow() async throws {
        let fixture = try LoggedTarget("projector-follow", events: 500)
        defer { fixture.cleanUp() }
        let (log, target) = (fixture.log, fixture.target)
        let projector = Projector(engine: try target.engine(), source: LogEventSource(log: log), options: .init(follow: true, batch: BatchSizing(minimum: 16, maximum: 1_000)))
        let running = Task { try await projector.run() }
        #expect(try await eventually { try target.checkpoints()["log/0"] == 500 })
        for round in 1...3 {
            let more = try ProjectorEvents.mixed(count: 100, seed: 10_000 * round)
            target.track(try ProjectorTarget.keys(of: more))
            let last = try await log.append(events: more).map(\.seq).max() ?? 0
            // How soon is `bench project`'s latency figure, and the wake-up on commit a unit
            // test's; under a full parallel suite this test checks only that they arrive.
            #expect(try await eventually { try target.checkpoints()["log/0"] == Int64(last) })
            let newest = more.last { $0.type == DailyBar.type }
            if let newest {
                #expect(try target.rows("SELECT count(*) FROM $schema.collected_daily_bars WHERE event_id = $1", [newest.id.hex]) == [["1"]])
            }
        }
        projector.requestStop()
        let run = try await running.value
        #expect(run.reason == .stopRequested)
        #expect(run.progress.positions[LogEventSource.checkpointKey] == (try target.checkpoints()["log/0"]))

        let second = Projector(engine: try target.engine(), source: LogEventSource(log: log), options: .init(follow: true))
        let cancelled = Task { try await second.run() }
        try await Task.sleep(for: .milliseconds(300))
        cancelled.cancel()
        #expect(try await cancelled.value.reason == .stopRequested)
    }

    @Test("Kafka source: messages that are not valid events are skipped and counted; valid ones are applied")
    func kafkaInvalidMessages() async throws {
        try #require(TestServices.hasKafka)
        let prefix = TestServices.uniqueName("projkafka")
        defer { ProjectorKafka.deleteTopics(prefix: prefix) }
        var events = try ProjectorEvents.mixed(count: 40).filter { $0.type == DailyBar.type }
        for index in events.indices { events[index].seq = UInt64(index + 1) }
        try ProjectorKafka.publish(events, prefix: prefix, partitions: 2)
        let producer = try KafkaProducer(config: ProjectorKafka.config, idempotent: false)
        let topic = TopicNaming(prefix: prefix).topic(forType: DailyBar.type)
        let tampered = try events[0].canonicalBytes(includingSeq: true)
        try producer.send(topic: topic, partition: 0, key: nil, value: tampered, headers: [("id", Array(String(repeating: "0", count: 64).utf8)), ("seq", Array("1".utf8))], tag: 1)
        try producer.send(topic: topic, partition: 1, key: nil, value: Array("not json".utf8), tag: 2)
        #expect(try producer.flush(timeoutMs: 10_000).allSatisfy { $0.error == nil })
        let target = try ProjectorTarget()
        defer { target.cleanUp() }
        target.track(try ProjectorTarget.keys(of: events))
        let source = try KafkaEventSource(kafka: ProjectorKafka.config, options: .init(naming: TopicNaming(prefix: prefix)))
        let run = try await Projector(engine: target.engine(), source: source, options: .init()).run()
        #expect(run.reason == .caughtUp)
        #expect(run.progress.events == events.count)
        #expect(run.progress.invalidMessages == 2)
        // Every checkpoint names a seq, the one of its message: the tampered message has a
        // seq header (its offset anchors partition 0); "not json" has none, so partition 1's
        // checkpoint stays at the message before it (a restart reads "not json" again).
        let rows = try target.rows("SELECT partition, position, seq FROM $schema.projection_checkpoints WHERE projection = 'collected' ORDER BY 1")
        #expect(rows.count == 2 && rows.allSatisfy { $0[2] != nil }, "\(rows)")
        #expect(try target.checkpoints().count == 2)
        #expect(try target.count("collected_daily_bars") == Set(events.map { "\($0.subject) \($0.payload.objectValue?["date"]?.stringValue ?? "")" }).count)
        guard TickfoldBinary.path != nil else { return }
        let status = try await TickfoldBinary.run(["project", "status", "--schema", target.schema, "--pg", target.conninfo, "--kafka", TestServices.kafka ?? "", "--log", "/nonexistent"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("\(topic)/0 = ") && status.stdout.contains("\(topic)/1 = "))
        #expect(status.stdout.contains("note: log lag unknown"))
        let port = try closedLocalPort()
        let offline = try await TickfoldBinary.run(["project", "status", "--schema", target.schema, "--pg", target.conninfo, "--kafka", "127.0.0.1:\(port)", "--json"])
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(offline.stdout.contains("Kafka lag unknown"))
    }

    @Test("project status counts a Kafka partition the projector never checkpointed: its whole content is lag")
    func kafkaStatusUncheckpointedPartitions() async throws {
        try #require(TestServices.hasKafka)
        guard TickfoldBinary.path != nil else { return }
        let prefix = TestServices.uniqueName("projkstatus")
        defer { ProjectorKafka.deleteTopics(prefix: prefix) }
        var events = try ProjectorEvents.mixed(count: 40).filter { $0.type == DailyBar.type }
        for index in events.indices { events[index].seq = UInt64(index + 1) }
        try ProjectorKafka.publish(events, prefix: prefix, partitions: 2)
        let target = try ProjectorTarget()
        defer { target.cleanUp() }
        target.track(try ProjectorTarget.keys(of: events))
        let source = try KafkaEventSource(kafka: ProjectorKafka.config, options: .init(naming: TopicNaming(prefix: prefix)))
        #expect(try await Projector(engine: target.engine(), source: source, options: .init()).run().reason == .caughtUp)
        let bars = TopicNaming(prefix: prefix).topic(forType: DailyBar.type)
        #expect(try target.checkpoints().keys.sorted() == ["\(bars)/0", "\(bars)/1"])

        // A topic created after the run: 2 messages in partition 0, none in 1, 1 in 2, with
        // event times first < second < third. One flush per message, so that Tansu's high
        // watermark counts each (see KafkaAdmin).
        let first = events[1]
        let second = try #require(events.first { $0.occurredAt > first.occurredAt })
        let third = try #require(events.first { $0.occurredAt > second.occurredAt })
        let news = prefix + ".news"
        #expect(try KafkaAdmin(config: ProjectorKafka.config).createTopic(news, partitions: 3) == .created)
        let producer = try KafkaProducer(config: ProjectorKafka.config, idempotent: false)
        func send(_ sent: [(Event, Int32)]) throws {
            for (tag, (event, partition)) in sent.enumerated() {
                try producer.send(topic: news, partition: partition, key: nil, value: try event.canonicalBytes(includingSeq: true),
                                  headers: [("id", Array(event.id.hex.utf8)), ("seq", Array(String(event.seq ?? 0).utf8))], tag: UInt64(tag))
                #expect(try producer.flush(timeoutMs: 10_000).allSatisfy { $0.error == nil })
            }
        }
        try send([(first, 0), (second, 0), (first, 2)])
        func seconds(_ from: Event, _ to: Event) -> Double {
            Double(to.occurredAt.millisecondsSinceEpoch - from.occurredAt.millisecondsSinceEpoch) / 1000
        }

        func positions() async throws -> [String: [String: Any]] {
            let status = try await TickfoldBinary.run(["project", "status", "--schema", target.schema, "--pg", target.conninfo, "--kafka", TestServices.kafka ?? "", "--log", "/nonexistent", "--json"])
            #expect(status.status == 0, "\(status.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            let projections = try #require(report["projections"] as? [[String: Any]])
            let collected = try #require(projections.first { $0["name"] as? String == "collected" })
            let positions = try #require(collected["positions"] as? [[String: Any]])
            return Dictionary(uniqueKeysWithValues: positions.compactMap { position in
                (position["source"] as? String).map { ("\($0)/\(position["partition"] as? Int ?? -9)", position) }
            })
        }
        let byPartition = try await positions()
        #expect(byPartition.keys.sorted() == ["\(bars)/0", "\(bars)/1", "\(news)/0", "\(news)/1", "\(news)/2"])
        #expect(byPartition["\(bars)/0"]?["lagEvents"] as? Int == 0 && byPartition["\(bars)/1"]?["lagEvents"] as? Int == 0)
        #expect(byPartition["\(bars)/0"]?["lagSeconds"] as? Double == 0)
        // A partition never checkpointed: from its oldest message to its newest.
        for (partition, lag, seconds) in [(0, 2, seconds(first, second)), (1, 0, 0), (2, 1, 0)] {
            #expect(byPartition["\(news)/\(partition)"]?["position"] as? Int == -1)
            #expect(byPartition["\(news)/\(partition)"]?["lagEvents"] as? Int == lag, "\(news)/\(partition)")
            #expect(byPartition["\(news)/\(partition)"]?["lagSeconds"] as? Double == seconds, "\(news)/\(partition)")
        }
        let human = try await TickfoldBinary.run(["project", "status", "--schema", target.schema, "--pg", target.conninfo, "--kafka", TestServices.kafka ?? "", "--log", "/nonexistent"])
        #expect(human.stdout.contains("\(news)/0 = none   lag 2 events, \(String(format: "%.3f", seconds(first, second))) s of event time"), "\(human.stdout)")

        // Checkpointed at offset 1 (second), then an older and a newer event: the lag runs from
        // the checkpointed message to the newest, whatever lies between.
        let again = try KafkaEventSource(kafka: ProjectorKafka.config, options: .init(naming: TopicNaming(prefix: prefix)))
        #expect(try await Projector(engine: target.engine(), source: again, options: .init()).run().reason == .caughtUp)
        #expect(try target.checkpoints()["\(news)/0"] == 1)
        try send([(first, 0), (third, 0)])
        let later = try await positions()
        #expect(later["\(news)/0"]?["lagEvents"] as? Int == 2)
        #expect(later["\(news)/0"]?["lagSeconds"] as? Double == seconds(second, third))
        // Newest older than the checkpointed message: no negative lag.
        try send([(first, 0)])
        #expect(try await positions()["\(news)/0"]?["lagSeconds"] as? Double == 0)
    }

    @Test("Kafka source: a partition written again from offset 0 and now shorter than the checkpoint is read again from 0 (its checkpoint goes back); a checkpoint without seq past the end is refused with the remedy")
    func kafkaPartitionRewritten() async throws {
        try #require(TestServices.hasKafka)
        let prefix = TestServices.uniqueName("projkrewrite")
        defer { ProjectorKafka.deleteTopics(prefix: prefix) }
        var events = try ProjectorEvents.mixed(count: 400)
        for index in events.indices { events[index].seq = UInt64(index + 1) }
        let bars = events.filter { $0.type == DailyBar.type }
        try #require(bars.count >= 40)
        try ProjectorKafka.publish(bars, prefix: prefix, partitions: 1)
        let target = try ProjectorTarget()
        defer { target.cleanUp() }
        target.track(try ProjectorTarget.keys(of: events))
        let naming = TopicNaming(prefix: prefix)
        func source() throws -> KafkaEventSource { try KafkaEventSource(kafka: ProjectorKafka.config, options: .init(naming: naming)) }
        #expect(try await Projector(engine: target.engine(), source: source(), options: .init()).run().progress.events == bars.count)
        // The topic is gone and comes back shorter: the first messages again, then new ones.
        ProjectorKafka.deleteTopics(prefix: prefix)
        let topic = naming.topic(forType: DailyBar.type)
        #expect(try await eventually { try KafkaAdmin(config: ProjectorKafka.config).metadata(timeoutMs: 5_000).topic(topic) == nil })
        var later = try ProjectorEvents.mixed(count: 100, seed: 77_000).filter { $0.type == DailyBar.type }
        for index in later.indices { later[index].seq = UInt64(events.count + index + 1) }
        target.track(try ProjectorTarget.keys(of: later))
        try ProjectorKafka.publish(Array(bars.prefix(10)) + later, prefix: prefix, partitions: 1)
        try #require(10 + later.count < bars.count)
        // The checkpoint names the seq read last; the broker has no message at its offset now,
        // so the partition is read again from offset 0 and its checkpoint goes back.
        let again = try await Projector(engine: target.engine(), source: source(), options: .init()).run()
        #expect(again.reason == .caughtUp && again.progress.events == 10 + later.count)
        for bar in later {
            #expect(try target.rows("SELECT count(*) FROM $schema.collected_daily_bars WHERE event_id = $1", [bar.id.hex]) == [["1"]])
        }
        #expect(try target.checkpoints() == ["\(topic)/0": Int64(10 + later.count - 1)])
        // A checkpoint without seq (written before migration 4) is trusted by offset: one past
        // the partition's end is refused, with the remedy.
        _ = try target.rows("UPDATE $schema.projection_checkpoints SET position = position + 1000, seq = NULL WHERE source = $1", [topic])
        let error = await #expect(throws: ProjectionError.self) {
            try await Projector(engine: target.engine(), source: source(), options: .init()).run()
        }
        #expect(error?.code == .checkpointPastSource)
        #expect(error?.description.contains("partition \(topic)") == true && error?.description.contains("before the checkpointed offset \(10 + later.count - 1 + 1_000)") == true,
                "\(String(describing: error))")
    }

    @Test("Kafka source, following: messages published later, also to a topic created later, become visible; a stop request ends it")
    func kafkaFollow() async throws {
        try #require(TestServices.hasKafka)
        let prefix = TestServices.uniqueName("projkfollow")
        defer { ProjectorKafka.deleteTopics(prefix: prefix) }
        let events = try ProjectorEvents.sequenced(count: 400)
        let bars = events.filter { $0.type == DailyBar.type }
        let others = events.filter { $0.type != DailyBar.type && TopicNaming.family(of: $0.type) != "bar" }
        try ProjectorKafka.publish(bars, prefix: prefix, partitions: 3)
        let target = try ProjectorTarget()
        defer { target.cleanUp() }
        target.track(try ProjectorTarget.keys(of: events))
        let source = try KafkaEventSource(kafka: ProjectorKafka.config, options: .init(naming: TopicNaming(prefix: prefix), topicRefreshIntervalMs: 300))
        let projector = Projector(engine: try target.engine(), source: source, options: .init(follow: true))
        let running = Task { try await projector.run() }
        #expect(try await eventually { try target.checkpoints().values.reduce(0) { $0 + $1 + 1 } == Int64(bars.count) })
        try ProjectorKafka.publish(others, prefix: prefix, partitions: 3)
        let topics = Set(others.map { TopicNaming(prefix: prefix).topic(forType: $0.type) })
        #expect(try await eventually { Set(try target.checkpoints().keys.map { String($0.split(separator: "/").first ?? "") }).isSuperset(of: topics) })
        #expect(try await eventually { try target.checkpoints().values.reduce(0) { $0 + $1 + 1 } == Int64(bars.count + others.count) })
        projector.requestStop()
        let run = try await running.value
        #expect(run.reason == .stopRequested)
        #expect(run.progress.events == bars.count + others.count)
        #expect(try target.count("collected_macro_observations") > 0)
    }

    @Test("a malformed PostgreSQL connection string or a Redis database the server lacks fails at once, not after retries")
    func settingsErrorsAreNotRetried() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        let directory = try TemporaryDirectory("projector-settings")
        let logPath = directory.file("log")
        let (log, _) = try ProjectorEvents.log(try ProjectorEvents.mixed(count: 10), in: logPath)
        log.close()
        let target = try ProjectorTarget()
        defer { target.cleanUp() }
        let redis = try RedisURL(try #require(TestServices.redis))
        // One-shot runs: before, both were retried as unreachable servers (~16 s here, for
        // ever with --follow).
        let badPG = try await TickfoldBinary.run(["project", "run", "--log", logPath, "--schema", target.schema, "--pg", "host=127.0.0.1 port", "--redis", TestServices.redis ?? ""])
        #expect(badPG.status == 2 && badPG.stderr.contains("invalid connection string"), "\(badPG.stderr)")
        #expect(!badPG.stderr.contains("retrying"), "\(badPG.stderr)")
        #expect(badPG.elapsed < .seconds(10))  // retries took ~16 s
        let badDB = "redis://\(redis.host):\(redis.port)/999"
        let badRedis = try await TickfoldBinary.run(["project", "run", "--log", logPath, "--schema", target.schema, "--pg", target.conninfo, "--redis", badDB])
        #expect(badRedis.status == 2 && badRedis.stderr.contains("SELECT 999 was refused"), "\(badRedis.stderr)")
        #expect(!badRedis.stderr.contains("retrying"), "\(badRedis.stderr)")
        #expect(badRedis.elapsed < .seconds(10))
    }

    @Test("a log checkpoint past the log's end (another log, an older copy restored) is refused by project run and flagged by status")
    func checkpointPastLogEnd() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        let directory = try TemporaryDirectory("projector-restored")
        let (log, logged) = try ProjectorEvents.log(try ProjectorEvents.mixed(count: 300), in: directory.file("log"))
        log.close()
        let (older, _) = try ProjectorEvents.log(Array(try ProjectorEvents.mixed(count: 300).prefix(100)), in: directory.file("older"))
        let olderLast = try older.lastSeq()
        older.close()
        let target = try ProjectorTarget()
        defer { target.cleanUp() }
        target.track(try ProjectorTarget.keys(of: logged))
        let run = try await TickfoldBinary.run(["project", "run", "--log", directory.file("log")] + target.cliArguments)
        #expect(run.status == 0, "\(run.stderr)")
        // Before, this run reported itself caught up (and a following one would have passed
        // over the older log's events up to seq 300 as they were appended).
        let refused = try await TickfoldBinary.run(["project", "run", "--log", directory.file("older")] + target.cliArguments)
        #expect(refused.status == 2, "\(refused.stdout)")
        #expect(refused.stderr.contains("checkpoint log/0 = \(logged.count) is past the last seq \(olderLast)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("tickfold replay --from 1"), "\(refused.stderr)")
        let status = try await TickfoldBinary.run(["project", "status", "--log", directory.file("older"), "--schema", target.schema, "--pg", target.conninfo])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("is past the log's last seq \(olderLast)"), "\(status.stdout)")
        #expect(try target.checkpoints()["log/0"] == Int64(logged.count), "the checkpoint is left as it was")
    }

    @Test("tickfold project run and status: caught up, positions, lag after appends, row counts, JSON; precise errors")
    func runAndStatusCLI() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        let fixture = try LoggedTarget("projector-cli", events: 3_000)
        defer { fixture.cleanUp() }
        let (directory, logPath, log, logged, target) = (fixture.directory, fixture.logPath, fixture.log, fixture.logged, fixture.target)
        let run = try await TickfoldBinary.run(["project", "run", "--log", logPath] + target.cliArguments + ["--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(summary["events"] as? Int == logged.count)
        #expect(summary["reason"] as? String == "caughtUp")
        #expect(summary["rejects"] as? Int == 3)
        #expect(run.stderr.contains("projector stopped"))

        let appended = try ProjectorEvents.mixed(count: 250, seed: 50_000)
        target.track(try ProjectorTarget.keys(of: appended))
        _ = try await log.append(events: appended)
        let status = try await TickfoldBinary.run(["project", "status", "--log", logPath, "--json"] + target.cliArguments.prefix(2) + ["--pg", target.conninfo])
        #expect(status.status == 0, "\(status.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let projections = try #require(report["projections"] as? [[String: Any]])
        let collected = try #require(projections.first { $0["name"] as? String == "collected" })
        let positions = try #require(collected["positions"] as? [[String: Any]])
        #expect(positions.count == 1)
        #expect(positions.first?["source"] as? String == "log")
        #expect(positions.first?["position"] as? Int == 3_000)
        #expect(positions.first?["lagEvents"] as? Int == 250)
        // The event time between the checkpointed event (seq 3000) and the newest one.
        let lagSeconds = Double(appended.last!.occurredAt.millisecondsSinceEpoch - logged.last!.occurredAt.millisecondsSinceEpoch) / 1000
        try #require(lagSeconds > 0, "the fixture's newest event is later than the checkpointed one")
        #expect(positions.first?["lagSeconds"] as? Double == lagSeconds)
        #expect(collected["rejects"] as? Int == 3)
        // Redis not answering: every key still present, null where nothing is known.
        let noRedis = try await TickfoldBinary.run(["project", "status", "--log", logPath, "--json", "--schema", target.schema, "--pg", target.conninfo,
                                                    "--redis", "redis://127.0.0.1:\(try closedLocalPort())/0"])
        let unanswered = try #require(try JSONSerialization.jsonObject(with: Data(noRedis.stdout.utf8)) as? [String: Any], "\(noRedis.stderr)")
        let redis = try #require(((unanswered["projections"] as? [[String: Any]])?.first { $0["name"] as? String == "collected" })?["redis"] as? [String: Any])
        #expect(redis["state"] as? String == "unknown" && redis["remedy"] is NSNull && redis["markerBatch"] is NSNull, "\(redis)")
        #expect(redis.keys.sorted() == ["batches", "keyPrefix", "marker", "markerBatch", "remedy", "state"], "\(redis)")
        let tables = try #require(collected["tables"] as? [[String: Any]])
        #expect(tables.count == CollectedTables.all.count)
        for table in tables {
            let name = try #require(table["table"] as? String)
            #expect(table["rows"] as? Int == (try target.count(name)), "\(name)")
        }

        let human = try await TickfoldBinary.run(["project", "status", "--log", logPath, "--schema", target.schema, "--pg", target.conninfo])
        #expect(human.status == 0)
        #expect(human.stdout.contains("log/0 = 3000   lag 250 events, \(String(format: "%.3f", lagSeconds)) s of event time"), "\(human.stdout)")
        #expect(human.stdout.contains("collected_daily_bars"))

        let caughtUp = try await TickfoldBinary.run(["project", "run", "--log", logPath] + target.cliArguments)
        #expect(caughtUp.status == 0 && caughtUp.stdout.contains("projected 250 events"), "\(caughtUp.stdout)\(caughtUp.stderr)")

        // A schema an older build made: status says what to do, and a projector with events to
        // write refuses them with the same advice instead of mixing versions.
        let older = "collected@v\(CollectedProjection().version - 1)"
        _ = try target.admin.execute("COMMENT ON SCHEMA \(target.schema) IS '\(ProjectionSwap.commentPrefix)\(older)'")
        let outdated = try await TickfoldBinary.run(["project", "status", "--log", logPath, "--schema", target.schema, "--pg", target.conninfo])
        #expect(outdated.status == 0 && outdated.stdout.contains("note: schema \(target.schema) holds \(older)") && outdated.stdout.contains("tickfold replay --from 1"), "\(outdated.stdout)")
        let more = try ProjectorEvents.mixed(count: 10, seed: 60_000)
        target.track(try ProjectorTarget.keys(of: more))
        _ = try await log.append(events: more)
        let refused = try await TickfoldBinary.run(["project", "run", "--log", logPath] + target.cliArguments)
        #expect(refused.status != 0 && refused.stderr.contains("holds \(older)") && refused.stderr.contains("tickfold replay --from 1"), "\(refused.stderr)")

        let unmigrated = try await TickfoldBinary.run(["project", "run", "--log", logPath, "--schema", TestServices.uniqueName("nothere"), "--pg", target.conninfo, "--redis", TestServices.redis ?? ""])
        #expect(unmigrated.status != 0)
        #expect(unmigrated.stderr.contains("tickfold project migrate"))
        let unknown = try await TickfoldBinary.run(["project", "run", "--log", logPath, "--projection", "nope"] + target.cliArguments)
        #expect(unknown.status != 0 && unknown.stderr.contains("no projection named \"nope\""))
        let port = try closedLocalPort()
        let unreachable = try await TickfoldBinary.run(["project", "status", "--log", logPath, "--pg", "postgresql://127.0.0.1:\(port)/tickfold"])
        #expect(unreachable.status != 0 && unreachable.stderr.contains("PostgreSQL"))
        let noLog = try await TickfoldBinary.run(["project", "run", "--log", directory.file("absent")] + target.cliArguments)
        #expect(noLog.status != 0 && noLog.stderr.contains("event log"))
    }

    @Test("tickfold project run --follow: appended events become visible; SIGTERM drains, checkpoints and exits 0")
    func followCLI() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        let fixture = try LoggedTarget("projector-follow-cli", events: 200)
        defer { fixture.cleanUp() }
        let (logPath, log, target) = (fixture.logPath, fixture.log, fixture.target)
        let metricsPort = try closedLocalPort()
        let child = try TickfoldChild(["project", "run", "--follow", "--log", logPath, "--progress-every", "0.5",
                                       "--metrics-address", "127.0.0.1:\(metricsPort)"] + target.cliArguments)
        #expect(try await eventually { try target.checkpoints()["log/0"] == 200 })
        let more = try ProjectorEvents.mixed(count: 300, seed: 70_000)
        target.track(try ProjectorTarget.keys(of: more))
        let last = try await log.append(events: more).map(\.seq).max() ?? 0
        #expect(try await eventually { try target.checkpoints()["log/0"] == Int64(last) })
        // Metrics and health over HTTP: every event counted, nothing left to fold, ready.
        let metrics = await LocalHTTP.get(port: metricsPort, "/metrics")
        #expect(metrics?.status == 200)
        for line in ["tickfold_projector_events_total 500", "tickfold_projector_lag_events 0", "tickfold_projector_lag_seconds 0",
                     "tickfold_projector_position_seq \(last)", "# TYPE tickfold_projector_events_total counter"] {
            #expect(metrics?.body.contains(line + "\n") == true, "no \(line) in \(metrics?.body ?? "no answer")")
        }
        #expect(await LocalHTTP.get(port: metricsPort, "/ready")?.status == 200)
        #expect(await LocalHTTP.get(port: metricsPort, "/health")?.status == 200)
        child.signal(SIGTERM)
        let result = try await onThread { try child.finish() }
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("(stopRequested)"))
        #expect(result.stderr.contains("projector progress") || result.stderr.contains("projector stopped"))
    }

    @Test("tickfold project run --follow waits while PostgreSQL is unreachable, then catches up; SIGTERM during an outage exits 0",
          .enabled(if: TestServices.hasPython))
    func followWaitsForPostgres() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        let fixture = try LoggedTarget("projector-outage", events: 200)
        defer { fixture.cleanUp() }
        let (logPath, target) = (fixture.logPath, fixture.target)
        let server = try #require(URLComponents(string: target.conninfo))
        let forwarder = try TCPForwarder(to: server.host ?? "127.0.0.1", port: try #require(server.port))
        defer { forwarder.stop() }
        var late = server
        late.port = forwarder.port
        let arguments = ["project", "run", "--follow", "--log", logPath] + target.cliArguments.map { $0 == target.conninfo ? late.string ?? "" : $0 }

        let metricsPort = try closedLocalPort()
        let child = try TickfoldChild(arguments + ["--metrics-address", "127.0.0.1:\(metricsPort)"])
        // Past the ~16 s after which a one-shot run's standard policy gives up.
        try await Task.sleep(for: .seconds(18))
        #expect(child.process.isRunning, "the projector gave up while PostgreSQL was unreachable")
        let waiting = await LocalHTTP.get(port: metricsPort, "/ready")
        #expect(waiting?.status == 503 && waiting?.body.contains("PostgreSQL") == true, "\(String(describing: waiting))")
        #expect(await LocalHTTP.get(port: metricsPort, "/health")?.status == 200, "alive while it waits")
        try forwarder.start()
        #expect(try await eventually(timeout: .seconds(60)) { try target.checkpoints()["log/0"] == 200 })
        #expect(try await eventually { await LocalHTTP.get(port: metricsPort, "/ready")?.status == 200 })
        child.signal(SIGTERM)
        let result = try await onThread { try child.finish(timeout: .seconds(30)) }
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("PostgreSQL unreachable, retrying"), "\(result.stderr)")

        // Down again from the start: a stop request ends the waiting, exit 0.
        forwarder.stop()
        let stopped = try await TickfoldChild.service(arguments)
        try await Task.sleep(for: .seconds(1.5))
        stopped.signal(SIGTERM)
        let stoppedResult = try await onThread { try stopped.finish(timeout: .seconds(20)) }
        #expect(stoppedResult.status == 0, "\(stoppedResult.stderr)")
        #expect(stoppedResult.stdout.contains("stopped before it started"), "\(stoppedResult.stdout)")
    }

    @Test("SIGTERM while catching up: the batch in hand commits with its checkpoint, exit 0, and a restart completes the same state")
    func sigtermMidCatchUp() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        let directory = try TemporaryDirectory("projector-sigterm")
        let logPath = directory.file("log")
        let (log, logged) = try ProjectorEvents.log(try ProjectorEvents.mixed(count: 30_000), in: logPath)
        defer { log.close() }
        let target = try ProjectorTarget()
        let reference = try ProjectorTarget()
        defer { target.cleanUp(); reference.cleanUp() }
        let child = try TickfoldChild(["project", "run", "--log", logPath, "--min-batch", "200", "--max-batch", "200"] + target.cliArguments)
        #expect(try await eventually { (try target.checkpoints()["log/0"] ?? 0) > 0 })
        child.signal(SIGTERM)
        let result = try await onThread { try child.finish() }
        #expect(result.status == 0, "\(result.stderr)")
        let stoppedAt = try #require(try target.checkpoints()["log/0"])
        #expect(result.stdout.contains("(stopRequested)") && stoppedAt < Int64(logged.count), "stopped mid-run: \(result.stdout)")
        // Nothing beyond the checkpoint was committed, nothing below it is missing.
        let newest = try target.rows("SELECT max(seq) FROM $schema.collected_daily_bars")[0][0].flatMap(Int64.init) ?? 0
        #expect(newest <= stoppedAt)
        let restart = try await TickfoldBinary.run(["project", "run", "--log", logPath] + target.cliArguments)
        #expect(restart.status == 0, "\(restart.stderr)")
        #expect(try target.checkpoints()["log/0"] == Int64(logged.count))
        _ = try await Projector(engine: reference.engine(), source: LogEventSource(log: log)).run()
        #expect(try target.dump() == reference.dump())
        let keys = try ProjectorTarget.keys(of: logged)
        #expect(try target.redisDump(keys) == reference.redisDump(keys))
    }
}

@Suite("projector service: Kafka outages", .onTestThreads, .serialized, .timeLimit(.minutes(5)),
       .enabled(if: TestServices.hasPostgres && TestServices.hasRedis && PrivateBroker.binary != nil && TickfoldBinary.isAvailable))
struct ProjectorKafkaOutageTests {
    @Test("project run --source kafka --follow waits out a dead broker (retrying, logged) and stops on SIGTERM within seconds, exit 0, what it applied checkpointed")
    func waitsOutDeadBroker() async throws {
        let broker = try await PrivateBroker.start()
        defer { broker.kill() }
        let target = try ProjectorTarget()
        defer { target.cleanUp() }
        let prefix = TestServices.uniqueName("projkdown")
        let events = try ProjectorEvents.sequenced(count: 400)
        target.track(try ProjectorTarget.keys(of: events))
        try await onThread { try ProjectorKafka.publish(events, prefix: prefix, partitions: 2, config: KafkaConfig(bootstrapServers: broker.address)) }
        let child = try await TickfoldChild.service(["project", "run", "--source", "kafka", "--follow", "--kafka", broker.address] + target.cliArguments,
                                                    environment: ["TICKFOLD_TOPIC_PREFIX": prefix])
        let messages = Int64(events.count)
        #expect(try await eventually { try target.checkpoints().values.reduce(0) { $0 + $1 + 1 } == messages }, "the projector read every message")
        let applied = try target.checkpoints()

        broker.kill()
        // Past a topic refresh (every 10 s) and its 10 s metadata request, which ended the run.
        try await Task.sleep(for: .seconds(25))
        #expect(child.process.isRunning, "the projector gave up during the outage")
        let (result, took) = try await child.terminate()
        #expect(result.status == 0, "\(result.stderr)")
        // The child's log says which wait the stop sat in (seen once at ~10 s under a full suite).
        TickfoldChild.expectStopped(result, took: took, within: TickfoldChild.promptStop)
        #expect(result.stderr.contains("kafka source unavailable; retrying"), "\(result.stderr)")
        #expect(try target.checkpoints() == applied)
    }
}
