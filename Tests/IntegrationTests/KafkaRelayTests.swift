import Events
import Foundation
import Kafka
import Synchronization
import Testing
import TickfoldTesting

@Suite("Kafka relay against the Tansu broker", .onTestThreads, .serialized, .enabled(if: TestServices.hasKafka), .timeLimit(.minutes(5)))
struct KafkaRelayTests {
    let admin: KafkaAdmin
    let naming = TopicNaming(prefix: TestServices.uniqueName("relay"))
    var barTopic: String { naming.topic(forType: "bar.daily") }
    var macroTopic: String { naming.topic(forType: "macro.observation") }

    init() throws {
        admin = try KafkaAdmin(config: RelayFixtures.kafkaConfig)
    }

    private func makeRelay(_ log: EventLog) throws -> KafkaRelay {
        try KafkaRelay(log: log, kafka: RelayFixtures.kafkaConfig,
                       options: KafkaRelay.Options(naming: naming, partitions: 3, batchSize: 700))
    }

    private func topic(of event: Event) -> String { naming.topic(forType: event.type) }

    /// Checks that `records` of `topic` hold each of `expected` (seq → event) exactly once,
    /// verified, keyed by subject, in increasing seq order per subject.
    private func checkTopic(_ topic: String, _ records: [KafkaRecord], expected: [UInt64: Event]) {
        var seen: Set<UInt64> = []
        var lastSeqBySubject: [String: UInt64] = [:]
        for record in records.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            guard case .event(let event) = KafkaEventReader.check(record).outcome else {
                Issue.record("\(topic) \(record.partition)@\(record.offset) rejected: \(KafkaEventReader.check(record).outcome)")
                continue
            }
            guard let seq = event.seq, let original = expected[seq] else {
                Issue.record("\(topic) holds unexpected seq \(event.seq.map(String.init) ?? "nil")")
                continue
            }
            #expect(seen.insert(seq).inserted, "seq \(seq) arrived twice in \(topic)")
            #expect(event.id == original.id)
            #expect(record.key == Array(original.subject.utf8))
            #expect(record.header("type") == Array(original.type.utf8), "type header of seq \(seq)")
            #expect(record.header("version") == Array(String(original.version).utf8), "version header of seq \(seq)")
            if let previous = lastSeqBySubject[original.subject] {
                #expect(previous < seq, "\(original.subject): seq \(seq) after \(previous)")
            }
            lastSeqBySubject[original.subject] = seq
        }
        #expect(seen.count == expected.count, "\(topic): \(expected.count - seen.count) events missing")
    }

    /// Checks both families' topics (3 partitions) against `events` (seq = index + 1), reading
    /// them on a thread of its own.
    private func checkBothTopics(_ events: [Event]) async throws {
        let check = self
        try await onThread {
            for topic in [check.barTopic, check.macroTopic] {
                check.checkTopic(topic, try RelayFixtures.readAll(topic, partitions: 3), expected: check.expected(events, in: topic))
            }
        }
    }

    /// Checks both families' topics (3 partitions, on the broker at `config`) hold each of
    /// `events` (seq = index + 1) at least once: a re-publication may send some twice.
    private func checkBothTopicsHoldEveryEvent(_ events: [Event], config: KafkaConfig = RelayFixtures.kafkaConfig) async throws {
        let check = self
        try await onThread {
            for topic in [check.barTopic, check.macroTopic] {
                let seqs = Set(try RelayFixtures.readAll(topic, partitions: 3, config: config).compactMap(KafkaEventReader.seqHeader))
                let missing = Set(check.expected(events, in: topic).keys).subtracting(seqs)
                #expect(missing.isEmpty, "\(topic): \(missing.count) events missing")
            }
        }
    }

    private func expected(_ events: [Event], in topic: String) -> [UInt64: Event] {
        var result: [UInt64: Event] = [:]
        for (index, event) in events.enumerated() where self.topic(of: event) == topic { result[UInt64(index + 1)] = event }
        return result
    }

    @Test("2,000 events of two families arrive exactly once, verified, keyed by subject, in seq order; reruns send only new events")
    func roundTrip() throws {
        let directory = try TemporaryDirectory("relay")
        let log = try EventLog(directory: directory.path)
        defer { try? admin.deleteTopic(barTopic); try? admin.deleteTopic(macroTopic) }
        var events = try RelayFixtures.events(0..<2_000)
        #expect(try log.appendBlocking(events: events) == (1...2_000).map { AppendOutcome.appended(UInt64($0)) })

        let relay = try makeRelay(log)
        let first = try relay.runOnce()
        #expect(first.published == 2_000 && first.republished == 0 && first.lostTopics.isEmpty)
        #expect(first.checkpoint == 2_000)
        #expect(try relay.checkpoint() == 2_000)
        for topic in [barTopic, macroTopic] {
            checkTopic(topic, try RelayFixtures.readAll(topic, partitions: 3), expected: expected(events, in: topic))
        }

        let second = try relay.runOnce()
        #expect(second.published == 0 && second.checkpoint == 2_000 && second.lostTopics.isEmpty)

        let more = try RelayFixtures.events(2_000..<2_010)
        _ = try log.appendBlocking(events: more)
        events += more
        // A fresh relay resumes from the stored checkpoint, not from memory.
        let third = try makeRelay(log).runOnce()
        #expect(third.published == 10 && third.checkpoint == 2_010 && third.lostTopics.isEmpty)
        for topic in [barTopic, macroTopic] {
            checkTopic(topic, try RelayFixtures.readAll(topic, partitions: 3), expected: expected(events, in: topic))
        }
    }

    @Test("a deleted topic is detected as lost and exactly its events are published again")
    func lossDetection() throws {
        let directory = try TemporaryDirectory("relay-loss")
        let log = try EventLog(directory: directory.path)
        defer { try? admin.deleteTopic(barTopic); try? admin.deleteTopic(macroTopic) }
        let events = try RelayFixtures.events(0..<600)
        _ = try log.appendBlocking(events: events)
        let barExpected = expected(events, in: barTopic)
        let macroExpected = expected(events, in: macroTopic)
        #expect(try makeRelay(log).runOnce().published == 600)

        try admin.deleteTopic(barTopic)
        let report = try makeRelay(log).runOnce()
        #expect(report.lostTopics == [barTopic])
        #expect(report.republished == barExpected.count)
        #expect(report.published == barExpected.count)
        #expect(report.checkpoint == 600)
        checkTopic(barTopic, try RelayFixtures.readAll(barTopic, partitions: 3), expected: barExpected)
        checkTopic(macroTopic, try RelayFixtures.readAll(macroTopic, partitions: 3), expected: macroExpected)

        let after = try makeRelay(log).runOnce()
        #expect(after.published == 0 && after.lostTopics.isEmpty)
    }

    @Test("run(following: false) publishes the whole log however many steps it takes; a stop request ends the pass after the step in hand")
    func onePassInSteps() async throws {
        let directory = try TemporaryDirectory("relay-steps")
        let log = try EventLog(directory: directory.path)
        defer { try? admin.deleteTopic(barTopic); try? admin.deleteTopic(macroTopic) }
        let events = try RelayFixtures.events(0..<2_500)
        _ = try await log.append(events: events)

        let stopped = try await makeRelay(log).run(following: false, until: { true })
        #expect(stopped.published == 700 && stopped.checkpoint == 700, "one step of 700, then the stop: \(stopped)")
        // Events appended during a one-shot pass are left to the next pass: it ends at the
        // log's end as of its start.
        let late = try RelayFixtures.events(2_500..<2_600)
        let appendedLate = StopFlag()
        let rest = try await makeRelay(log).run(following: false, until: {
            if !appendedLate.isSet {
                appendedLate.set()
                _ = try? log.appendBlocking(events: late)
            }
            return false
        })
        #expect(rest.published == 1_800 && rest.checkpoint == 2_500, "four more steps to the end as of the start: \(rest)")
        let next = try await makeRelay(log).run(following: false, until: { false })
        #expect(next.published == 100 && next.checkpoint == 2_600, "\(next)")
        try await checkBothTopics(events + late)
    }

    @Test("tickfold relay --once publishes a log longer than one step; tickfold relay follows appends and exits 0 on SIGTERM with its checkpoint")
    func relayCLI() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        let directory = try TemporaryDirectory("relay-cli")
        let logPath = directory.file("log")
        let log = try EventLog(directory: logPath)
        defer { log.close() }
        defer { try? admin.deleteTopic(barTopic); try? admin.deleteTopic(macroTopic) }
        // More than the relay's default step (20,000 events), which a one-shot pass once stopped after.
        var events = try RelayFixtures.events(0..<20_500)
        _ = try await log.append(events: events)
        let arguments = ["--log", logPath, "--kafka", try #require(TestServices.kafka), "--partitions", "3"]
        let environment = ["TICKFOLD_TOPIC_PREFIX": naming.prefix]

        let once = try await TickfoldBinary.run(["relay", "--once"] + arguments, environment: environment)
        #expect(once.status == 0, "\(once.stderr)")
        #expect(once.stdout.contains("relayed 20500 events; checkpoint 20500"), "\(once.stdout)")

        let follower = try TickfoldChild(["relay"] + arguments, environment: environment)
        let more = try RelayFixtures.events(20_500..<20_900)
        _ = try await log.append(events: more)
        events += more
        let checkpointName = "relay/\(naming.prefix)"
        let caughtUp = try await eventually { try log.checkpoint(named: checkpointName) == 20_900 }
        follower.signal(SIGTERM)
        let followed = try await onThread { try follower.finish() }
        let reached = try log.checkpoint(named: checkpointName) ?? 0
        #expect(caughtUp, "the following relay checkpointed \(reached) of 20900")
        #expect(followed.status == 0, "\(followed.stderr)")
        #expect(followed.stdout.contains("relayed 400 events; checkpoint 20900"), "\(followed.stdout)")
        try await checkBothTopics(events)

        let idle = try await TickfoldBinary.run(["relay", "--once", "--json"] + arguments, environment: environment)
        #expect(idle.status == 0, "\(idle.stderr)")
        #expect(idle.stdout == #"{"checkpoint":20900,"lostTopics":[],"published":0,"republished":0,"stoppedWhileFailing":false}"# + "\n", "\(idle.stdout)")
    }

    @Test("topics the relay creates keep every message (retention.ms and retention.bytes -1) unless --topic-config replaces a default; a topic already there keeps its settings and those that differ are logged; a malformed --topic-config or --replication-factor is refused before anything is sent")
    func relayTopicSettings() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        let directory = try TemporaryDirectory("relay-topic-config")
        let logPath = directory.file("log")
        let log = try EventLog(directory: logPath)
        defer { log.close() }
        defer { try? admin.deleteTopic(barTopic); try? admin.deleteTopic(macroTopic) }
        let events = try RelayFixtures.events(0..<50)
        _ = try await log.append(events: events)
        let arguments = ["--log", logPath, "--kafka", try #require(TestServices.kafka), "--partitions", "2"]
        let environment = ["TICKFOLD_TOPIC_PREFIX": naming.prefix]
        for (bad, complaint) in [(["--topic-config", "retention.ms"], "KEY=VALUE"), (["--topic-config", "=5"], "KEY=VALUE"),
                                 (["--topic-config", "retention.ms="], "KEY=VALUE"), (["--replication-factor", "0"], "--replication-factor")] {
            let refused = try await TickfoldBinary.run(["relay", "--once"] + arguments + bad, environment: environment)
            #expect(refused.status != 0 && refused.stderr.contains(complaint), "\(bad): \(refused.stderr)")
        }
        #expect(try log.checkpoint(named: "relay/\(naming.prefix)") == nil, "a refused relay sent nothing")

        // Library default: everything kept. A topic already there keeps its settings, and
        // those that differ are logged.
        #expect(try admin.createTopic(barTopic, partitions: 3, config: ["retention.ms": "604800000"]) == .created)
        #expect(try admin.createTopic(macroTopic, partitions: 3, config: ["retention.ms": "-1", "retention.bytes": "-1"]) == .created)
        let logs = LogCapture()
        let relay = try KafkaRelay(log: log, kafka: RelayFixtures.kafkaConfig, options: KafkaRelay.Options(naming: naming, partitions: 3),
                                   logger: logs.logger("relay"))
        _ = try await relay.run(following: false, until: { false })
        let kept = try admin.topicConfig(macroTopic)
        #expect(kept["retention.ms"] == "-1" && kept["retention.bytes"] == "-1", "\(kept)")
        #expect(try admin.topicConfig(barTopic)["retention.ms"] == "604800000")
        #expect(logs.contains("an existing topic keeps settings other than the relay's") && logs.contains("retention.ms=604800000 (the relay's: -1)"),
                "\(logs.all)")
        #expect(!logs.all.contains { $0.contains("keeps settings") && $0.contains(macroTopic) }, "the same settings: no warning \(logs.all)")
        // The CLI: one default replaced, another setting added, the rest kept.
        try await Self.deleteTopic(macroTopic, admin: admin)
        let relayed = try await TickfoldBinary.run(
            ["relay", "--once", "--topic-config", "retention.ms=604800000", "--topic-config", "max.message.bytes=2000000", "--replication-factor", "1"] + arguments,
            environment: environment)
        #expect(relayed.status == 0, "\(relayed.stderr)")
        let configured = try admin.topicConfig(macroTopic)
        #expect(configured["retention.ms"] == "604800000" && configured["retention.bytes"] == "-1" && configured["max.message.bytes"] == "2000000", "\(configured)")
        #expect(try admin.metadata(timeoutMs: 5_000).topic(macroTopic)?.partitionCount == 2)
    }

    @Test("a re-publication stopped midway is resumed by the next pass, even though the re-created topic's marks were saved")
    func interruptedRepublication() async throws {
        let directory = try TemporaryDirectory("relay-republish")
        let log = try EventLog(directory: directory.path)
        defer { try? admin.deleteTopic(barTopic); try? admin.deleteTopic(macroTopic) }
        let events = try RelayFixtures.events(0..<2_500)
        _ = try await log.append(events: events)
        #expect(try await makeRelay(log).run(following: false, until: { false }).published == 2_500)
        let barExpected = expected(events, in: barTopic)

        try admin.deleteTopic(barTopic)
        // One step of 700 seqs, then the stop: the bar events among them go out again and the
        // new topic's marks are checkpointed.
        let first = try await makeRelay(log).run(following: false, until: { true })
        let firstSent = barExpected.keys.filter { $0 <= 700 }.count
        #expect(first.lostTopics == [barTopic] && first.republished == firstSent && first.checkpoint == 2_500, "\(first)")
        let second = try await makeRelay(log).run(following: false, until: { false })
        #expect(second.lostTopics.isEmpty && second.republished == barExpected.count - firstSent, "\(second)")
        #expect(second.checkpoint == 2_500)
        let third = try await makeRelay(log).run(following: false, until: { false })
        #expect(third.published == 0 && third.republished == 0, "the finished re-publication is cleared: \(third)")
        let check = self
        try await onThread {
            check.checkTopic(check.barTopic, try RelayFixtures.readAll(check.barTopic, partitions: 3), expected: barExpected)
        }
    }

    @Test("a following relay re-publishes a topic lost while it runs, and keeps publishing new events")
    func lossWhileFollowing() async throws {
        let directory = try TemporaryDirectory("relay-follow-loss")
        let log = try EventLog(directory: directory.path)
        defer { try? admin.deleteTopic(barTopic); try? admin.deleteTopic(macroTopic) }
        var events = try RelayFixtures.events(0..<600)
        _ = try await log.append(events: events)
        let logs = LogCapture()
        var options = KafkaRelay.Options(naming: naming, partitions: 3, batchSize: 700, checkpointIntervalMs: 100, lossCheckIntervalMs: 300)
        // Every stored state in which the lost topic's marks are erased must also hold the
        // record of its re-publication: a crash right after any checkpoint must resume it.
        let unrecorded = Mutex<[String]>([])
        let (markPrefix, republishPrefix, barTopic) = ("relay/\(naming.prefix)/mark/\(barTopic)/", "relay/\(naming.prefix)/republish/", barTopic)
        options.onCheckpoint = { value in
            guard let stored = try? log.checkpoints(prefixed: "relay/\(naming.prefix)/") else { return }
            let erased = stored.contains { $0.name.hasPrefix(markPrefix) && $0.name.hasSuffix("/offset") && $0.seq == UInt64.max }
            let recorded = stored.contains { $0.name == republishPrefix + "topic/" + barTopic && $0.seq == 1 }
                && stored.contains { $0.name == republishPrefix + "through" && $0.seq > 0 }
            if erased && !recorded { unrecorded.withLock { $0.append("checkpoint \(value)") } }
        }
        // The topic goes between loss checks, never under the probe's consumer (librdkafka
        // 2.16 dies fetching a topic deleted under it, and this test process with it).
        let lossChecks = NSLock()
        options.lossCheckLock = lossChecks
        let relay = try KafkaRelay(log: log, kafka: RelayFixtures.kafkaConfig, options: options, logger: logs.logger("relay"))
        let stop = StopFlag()
        async let following = relay.run(following: true, until: { stop.isSet })
        #expect(try await eventually { try relay.checkpoint() == 600 })
        // Loss checks wait for the lock: none sees the topic gone while it is held.
        try await Self.deleteTopic(barTopic, admin: admin, between: lossChecks) {
            Thread.sleep(forTimeInterval: 1)
            #expect(!logs.contains("broker lost acknowledged events"), "a loss check ran while the lock was held")
        }
        // New events only once a loss check has seen the topic gone (a busy machine may take
        // far longer than the 300 ms between checks).
        #expect(try await eventually { logs.contains("broker lost acknowledged events") }, "\(logs.all)")
        let more = try RelayFixtures.events(600..<650)
        _ = try await log.append(events: more)
        events += more
        #expect(try await eventually { try relay.checkpoint() == 650 })
        // The re-publication is done once its record is cleared.
        #expect(try await eventually { try log.checkpoint(named: "relay/\(naming.prefix)/republish/through") ?? 0 == 0 })
        stop.set()
        let report = try await following
        #expect(report.lostTopics == [barTopic], "\(report)")
        #expect(report.republished == expected(Array(events[..<600]), in: barTopic).count, "\(report)")
        #expect(unrecorded.withLock { $0 }.isEmpty, "stored with the marks erased but no re-publication record: \(unrecorded.withLock { $0 })")
        try await checkBothTopics(events)
    }

    @Test("a topic deleted and created again (same partitions) under an idle following relay, then more new events than it held: their acknowledgements at offsets already passed reveal the loss at once, with no periodic check, and the lost events are published again")
    func emptiedTopicWhileFollowing() async throws {
        let directory = try TemporaryDirectory("relay-emptied")
        let log = try EventLog(directory: directory.path)
        defer { try? admin.deleteTopic(barTopic); try? admin.deleteTopic(macroTopic) }
        var events = try RelayFixtures.events(0..<600)
        _ = try await log.append(events: events)
        let logs = LogCapture()
        // No periodic loss check during the test: only the acknowledgements can show the loss.
        // A long linger: each step's messages to a partition go out as one request, so their
        // delivery reports form one run that already ends past the old offsets.
        var config = RelayFixtures.kafkaConfig
        config["linger.ms"] = "1000"
        var options = KafkaRelay.Options(naming: naming, partitions: 3, batchSize: 1_200, checkpointIntervalMs: 100, lossCheckIntervalMs: 600_000)
        let lossChecks = NSLock()
        options.lossCheckLock = lossChecks
        let relay = try KafkaRelay(log: log, kafka: config, options: options, logger: logs.logger("relay"))
        let stop = StopFlag()
        async let following = relay.run(following: true, until: { stop.isSet })
        #expect(try await eventually { try relay.checkpoint() == 600 })
        try await Self.deleteTopic(barTopic, admin: admin, between: lossChecks, thenCreate: 3)
        // Twice as many as before: the new messages pass the offsets of the old ones.
        let more = try RelayFixtures.events(600..<1_800)
        _ = try await log.append(events: more)
        events += more
        #expect(try await eventually { try relay.checkpoint() == 1_800 })
        #expect(try await eventually { try log.checkpoint(named: "relay/\(naming.prefix)/republish/through") ?? 0 == 0 })
        stop.set()
        let report = try await following
        #expect(report.lostTopics == [barTopic], "\(report)")
        #expect(logs.contains("acknowledged messages at offsets already passed"), "\(logs.all.suffix(20))")
        // Every event at least once: new events acknowledged before the check go out again too.
        try await checkBothTopicsHoldEveryEvent(events)
    }

    @Test("a stop request ends a relay whose producer queue is full while the broker is gone within seconds, not after librdkafka's message timeout (5 min); what the broker acknowledged before is checkpointed",
          .enabled(if: PrivateBroker.binary != nil))
    func stopWithFullQueue() async throws {
        let broker = try await PrivateBroker.start()
        defer { broker.kill() }
        let directory = try TemporaryDirectory("relay-full-queue")
        let log = try EventLog(directory: directory.path)
        _ = try await log.append(events: try RelayFixtures.events(0..<100))
        var config = KafkaConfig(bootstrapServers: broker.address)
        config["queue.buffering.max.messages"] = "200"
        let relay = try KafkaRelay(log: log, kafka: config, options: KafkaRelay.Options(
            naming: naming, partitions: 3, batchSize: 700, checkpointIntervalMs: 100, lossCheckIntervalMs: 600_000))
        let (stop, returned) = (StopFlag(), StopFlag())
        let running = Task {
            defer { returned.set() }
            return try await relay.run(following: true, until: { stop.isSet })
        }
        #expect(try await eventually { try relay.checkpoint() == 100 })
        // The broker goes away; more events than the queue holds wait to be sent.
        broker.kill()
        _ = try await log.append(events: try RelayFixtures.events(100..<1_000))
        try await Task.sleep(for: .seconds(1))
        let asked = ContinuousClock.now
        stop.set()
        let ended = try await eventually(timeout: .seconds(30)) { returned.isSet }
        #expect(ended, "the relay still runs \(ContinuousClock.now - asked) after the stop request")
        guard ended else { return }  // it would return only after librdkafka's message timeout
        #expect(try await running.value.checkpoint == 100)
        #expect(try relay.checkpoint() == 100)
    }

    @Test("a following relay across an empty broker restart with new events: the loss is found, a new producer replaces the one the broker no longer knows, the relay creates the topics again (its partitions and settings, not the broker's auto-created ones) and every event is on the broker within seconds",
          .enabled(if: PrivateBroker.binary != nil))
    func followingAcrossEmptyRestart() async throws {
        var broker = try await PrivateBroker.start()
        defer { broker.kill() }
        let directory = try TemporaryDirectory("relay-empty-restart")
        let log = try EventLog(directory: directory.path)
        var events = try RelayFixtures.events(0..<600)
        _ = try await log.append(events: events)
        var options = KafkaRelay.Options(naming: naming, partitions: 3, batchSize: 700, checkpointIntervalMs: 100, lossCheckIntervalMs: 1_000)
        // The restart happens between loss checks: a probe's consumer that met the topics gone
        // would die in librdkafka 2.16 (see `deleteTopic(_:admin:between:)`).
        let lossChecks = NSLock()
        options.lossCheckLock = lossChecks
        let relay = try KafkaRelay(log: log, kafka: KafkaConfig(bootstrapServers: broker.address), options: options)
        let stop = StopFlag()
        defer { stop.set() }  // a failure below must not leave the relay running
        async let following = relay.run(following: true, until: { stop.isSet })
        #expect(try await eventually { try relay.checkpoint() == 600 })
        broker = try await Self.holding(lossChecks) { [broker] in
            broker.kill()
            return try await PrivateBroker.start(port: broker.port)
        }
        let more = try RelayFixtures.events(600..<700)
        _ = try await log.append(events: more)
        events += more
        // Before, the producer the restarted broker no longer knew kept its messages until a
        // 30-s flush failed the run (librdkafka retries them for message.timeout.ms, 5 min).
        let republished = try await eventually(timeout: .seconds(60)) {
            try relay.checkpoint() == 700 && (try log.checkpoint(named: "relay/\(naming.prefix)/republish/through") ?? 0) == 0
        }
        let reached = try relay.checkpoint()
        stop.set()
        let report = try await following
        #expect(republished, "checkpoint \(reached), report \(report)")
        #expect(Set(report.lostTopics) == [barTopic, macroTopic], "\(report)")
        let admin = try KafkaAdmin(config: KafkaConfig(bootstrapServers: broker.address))
        for topic in [barTopic, macroTopic] {
            #expect(try admin.metadata(timeoutMs: 5_000).topic(topic)?.partitionCount == 3, "\(topic) was created by the relay")
            #expect(try admin.topicConfig(topic)["retention.ms"] == "-1", "\(topic) was created by the relay")
        }
        try await checkBothTopicsHoldEveryEvent(events, config: KafkaConfig(bootstrapServers: broker.address))
    }

    @Test("tickfold relay --json stopped by SIGTERM while the broker keeps failing exits 0 and says so (stoppedWhileFailing) with the checkpoint it had")
    func relayStoppedWhileFailing() async throws {
        let directory = try TemporaryDirectory("relay-stopped-failing")
        let logPath = directory.file("log")
        let log = try EventLog(directory: logPath)
        _ = try await log.append(events: try RelayFixtures.events(0..<10))
        log.close()
        let metrics = try closedLocalPort()
        let relay = try TickfoldChild(["relay", "--log", logPath, "--kafka", "127.0.0.1:\(try closedLocalPort())", "--json",
                                       "--metrics-address", "127.0.0.1:\(metrics)"], environment: ["TICKFOLD_TOPIC_PREFIX": naming.prefix])
        // Not ready while it retries: the broker refuses every attempt (the first one fails
        // once its topic creation times out, 10 s).
        let retrying = try await eventually {
            guard let ready = await LocalHTTP.get(port: metrics, "/ready") else { return false }
            return ready.status == 503 && ready.body.contains("retrying")
        }
        // Inside the second attempt's topic creation (after the 0.5 s backoff, for 10 s): the
        // stop ends a wait on the broker rather than the backoff.
        try await Task.sleep(for: .seconds(3))
        let (result, took) = try await relay.terminate()
        #expect(retrying, "\(result.stderr.suffix(3_000))")
        #expect(result.status == 0, "\(result.stderr.suffix(3_000))")
        #expect(result.stdout == #"{"checkpoint":0,"lostTopics":[],"published":0,"republished":0,"stoppedWhileFailing":true}"# + "\n", "\(result.stdout)")
        #expect(result.stderr.contains("relay stopped while waiting for the broker"), "\(result.stderr.suffix(3_000))")
        TickfoldChild.expectStopped(result, took: took, within: TickfoldChild.promptStop)
    }

    @Test("an event larger than the producer's message limit stops the relay with its seq; everything acknowledged before it is checkpointed")
    func oversizedEvent() async throws {
        let directory = try TemporaryDirectory("relay-oversized")
        let log = try EventLog(directory: directory.path)
        defer { try? admin.deleteTopic(barTopic); try? admin.deleteTopic(macroTopic) }
        var events = try RelayFixtures.events(0..<10)
        events.append(try Event.make(
            MacroObservation(seriesId: String(repeating: "X", count: 3_000), date: LocalDate(daysSinceEpoch: 20_000), value: "1"),
            source: "fred", subject: "BIG", occurredAt: Timestamp(millisecondsSinceEpoch: 1_728_000_000_000)))
        events += try RelayFixtures.events(10..<15)
        _ = try await log.append(events: events)
        var config = RelayFixtures.kafkaConfig
        config["message.max.bytes"] = "2000"
        let relay = try KafkaRelay(log: log, kafka: config, options: KafkaRelay.Options(naming: naming, partitions: 3, batchSize: 700))
        do {
            _ = try await relay.run(following: false, until: { false })
            Issue.record("the oversized event was published")
        } catch let error as RelayError {
            #expect(error.description.contains("event seq 11") && error.description.contains("message.max.bytes"), "\(error)")
        }
        #expect(try relay.checkpoint() == 10)
    }

    @Test("tickfold relay (following) waits with backoff while the broker is unreachable, then catches up; SIGTERM exits 0",
          .enabled(if: TestServices.hasPython))
    func relayWaitsForBroker() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        let broker = try #require(TestServices.kafka).split(separator: ":")
        let forwarder = try TCPForwarder(to: String(broker[0]), port: try #require(Int(broker[1])))
        defer { forwarder.stop() }
        let directory = try TemporaryDirectory("relay-outage")
        let logPath = directory.file("log")
        let log = try EventLog(directory: logPath)
        defer { log.close() }
        defer { try? admin.deleteTopic(barTopic); try? admin.deleteTopic(macroTopic) }
        let events = try RelayFixtures.events(0..<300)
        _ = try await log.append(events: events)
        let metricsPort = try closedLocalPort()
        let relay = try TickfoldChild(["relay", "--log", logPath, "--kafka", "127.0.0.1:\(forwarder.port)", "--partitions", "3",
                                       "--metrics-address", "127.0.0.1:\(metricsPort)"],
                                      environment: ["TICKFOLD_TOPIC_PREFIX": naming.prefix])
        // Topic creation times out after 10 s with nothing listening; the relay must retry, not exit.
        try await Task.sleep(for: .seconds(12))
        #expect(relay.process.isRunning, "the relay exited while the broker was unreachable")
        let waiting = await LocalHTTP.get(port: metricsPort, "/ready")
        #expect(waiting?.status == 503 && waiting?.body.contains("degraded") == true, "\(String(describing: waiting))")
        #expect(await LocalHTTP.get(port: metricsPort, "/metrics")?.body.contains("tickfold_relay_lag_events 300\n") == true)
        try forwarder.start()
        let checkpointName = "relay/\(naming.prefix)"
        #expect(try await eventually(timeout: .seconds(60)) { try log.checkpoint(named: checkpointName) == 300 })
        #expect(try await eventually { await LocalHTTP.get(port: metricsPort, "/ready")?.status == 200 })
        let metrics = await LocalHTTP.get(port: metricsPort, "/metrics")?.body ?? ""
        for line in ["tickfold_relay_checkpoint_seq 300", "tickfold_relay_lag_events 0", "tickfold_relay_log_last_seq 300"] {
            #expect(metrics.contains(line + "\n"), "no \(line) in \(metrics)")
        }
        #expect(!metrics.contains("tickfold_relay_failures_total 0\n"), "the outage's failures are counted: \(metrics)")
        relay.signal(SIGTERM)
        let result = try await onThread { try relay.finish() }
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("relay failed; retrying"), "\(result.stderr)")
        #expect(result.stdout.contains("checkpoint 300"), "\(result.stdout)")
        try await checkBothTopics(events)
    }

    @Test("tickfold relay (following) honours SIGTERM at once, not after the 10-s request, while a topic creation waits on a dead broker; exit 0")
    func relayStopsDuringTopicCreation() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        let directory = try TemporaryDirectory("relay-dead-broker")
        let logPath = directory.file("log")
        let log = try EventLog(directory: logPath)
        defer { log.close() }
        _ = try await log.append(events: try RelayFixtures.events(0..<3))
        let port = try closedLocalPort()
        let relay = try await TickfoldChild.service(["relay", "--log", logPath, "--kafka", "127.0.0.1:\(port)"],
                                                    environment: ["TICKFOLD_TOPIC_PREFIX": TestServices.uniqueName("relaydead")])
        // The first event's topic is being created: that request waits up to 10 s (+1 s) for the broker.
        try await Task.sleep(for: .seconds(2))
        #expect(relay.process.isRunning, "the relay exited while the broker was unreachable")
        let (result, took) = try await relay.terminate()
        TickfoldChild.expectStopped(result, took: took, within: TickfoldChild.promptStop)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("relayed 0 events; checkpoint 0"), "\(result.stdout)")
    }

    @Test("tickfold relay (following) honours SIGTERM at once, not after the 10-s request, while its loss check asks a dead broker for metadata; exit 0, checkpoint kept")
    func relayStopsDuringLossCheck() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        let directory = try TemporaryDirectory("relay-dead-broker-marks")
        let logPath = directory.file("log")
        let log = try EventLog(directory: logPath)
        defer { log.close() }
        defer { try? admin.deleteTopic(barTopic); try? admin.deleteTopic(macroTopic) }
        _ = try await log.append(events: try RelayFixtures.events(0..<3))
        let environment = ["TICKFOLD_TOPIC_PREFIX": naming.prefix]
        // Published once: the relay now holds marks, which every pass checks with the broker first.
        let once = try await TickfoldBinary.run(["relay", "--once", "--log", logPath, "--kafka", try #require(TestServices.kafka)], environment: environment)
        #expect(once.status == 0 && once.stdout.contains("checkpoint 3"), "\(once.stderr)")
        let port = try closedLocalPort()
        let relay = try await TickfoldChild.service(["relay", "--log", logPath, "--kafka", "127.0.0.1:\(port)"], environment: environment)
        try await Task.sleep(for: .seconds(2))
        #expect(relay.process.isRunning, "the relay exited while the broker was unreachable")
        let (result, took) = try await relay.terminate()
        TickfoldChild.expectStopped(result, took: took, within: TickfoldChild.promptStop)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("relayed 0 events; checkpoint 3"), "\(result.stdout)")
        #expect(try log.checkpoint(named: "relay/\(naming.prefix)") == 3)
    }

    @Test("tickfold relay (following) honours SIGTERM within seconds with messages in flight to a broker that died; exit 0, acknowledged checkpoint kept",
          .enabled(if: PrivateBroker.binary != nil, "no Tansu binary beside TICKFOLD_PYTHON's environment"))
    func relayStopsWithMessagesInFlight() async throws {
        try #require(TickfoldBinary.path != nil, "build the tickfold binary first")
        // A broker of its own, to kill: clients talk to the advertised address after
        // bootstrap, so a forwarder in front of the shared broker cannot cut them off.
        let broker = try await PrivateBroker.start()
        defer { broker.kill() }
        let directory = try TemporaryDirectory("relay-in-flight")
        let logPath = directory.file("log")
        let log = try EventLog(directory: logPath)
        defer { log.close() }
        _ = try await log.append(events: try RelayFixtures.events(0..<300))
        let relay = try await TickfoldChild.service(["relay", "--log", logPath, "--kafka", broker.address, "--partitions", "3"],
                                                    environment: ["TICKFOLD_TOPIC_PREFIX": naming.prefix])
        let checkpointName = "relay/\(naming.prefix)"
        #expect(try await eventually { try log.checkpoint(named: checkpointName) == 300 })
        broker.kill()
        _ = try await log.append(events: try RelayFixtures.events(300..<350))
        // The relay sends the new events; nothing can acknowledge them now.
        try await Task.sleep(for: .seconds(1))
        let (result, took) = try await relay.terminate()
        TickfoldChild.expectStopped(result, took: took, within: .seconds(5))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("checkpoint 300"), "\(result.stdout)")
        #expect(result.stderr.contains("not acknowledged"), "\(result.stderr)")
        #expect(try log.checkpoint(named: checkpointName) == 300)
    }

    /// Runs `body` while a thread of its own holds `lock` (an NSLock is unlocked by the thread
    /// that locked it, and `body` may resume on any).
    static func holding<T: Sendable>(_ lock: NSLock, during body: () async throws -> T) async throws -> T {
        let (held, release) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        Thread.detachNewThread {
            lock.lock()
            held.signal()
            release.wait()
            lock.unlock()
        }
        try await onThread { held.wait() }
        defer { release.signal() }
        return try await body()
    }

    /// Deletes `topic` while holding the relay's loss-check lock (when it runs one in this
    /// process), and waits until the broker no longer lists it (then creates it again with
    /// `partitions`, when given): no loss check's probe consumer reads the topic as it goes (librdkafka 2.16 dies fetching a
    /// topic deleted under it, and would take this test process with it).
    static func deleteTopic(
        _ topic: String, admin: KafkaAdmin, between lossChecks: NSLock = NSLock(), thenCreate partitions: Int32? = nil,
        whileHeld: @escaping @Sendable () throws -> Void = {}
    ) async throws {
        try await onThread {
            lossChecks.lock()
            defer { lossChecks.unlock() }
            try admin.deleteTopic(topic)
            let deadline = ContinuousClock.now + .seconds(30)
            while try admin.metadata(timeoutMs: 5_000).topic(topic) != nil {
                try #require(ContinuousClock.now < deadline, "\(topic) is still listed 30 s after its deletion")
                Thread.sleep(forTimeInterval: 0.02)
            }
            if let partitions { #expect(try admin.createTopic(topic, partitions: partitions) == .created) }
            try whileHeld()
        }
    }

    @Test("the reader accepts a genuine message and rejects one whose id header was altered")
    func tamperedIDRejected() throws {
        let topic = TestServices.uniqueName("relay_tamper")
        #expect(try admin.createTopic(topic, partitions: 1) == .created)
        defer { try? admin.deleteTopic(topic) }
        let events = try RelayFixtures.events(0..<2)
        var event = events[1]
        event.seq = 7
        let value = try event.canonicalBytes(includingSeq: true)
        let producer = try KafkaProducer(config: RelayFixtures.kafkaConfig, idempotent: true)
        for (tag, idHex) in [event.id.hex, events[0].id.hex].enumerated() {
            try producer.send(topic: topic, partition: 0, key: Array(event.subject.utf8), value: value,
                              headers: [("id", Array(idHex.utf8)), ("seq", Array("7".utf8))], tag: UInt64(tag))
        }
        let reports = try producer.flush(timeoutMs: 10_000)
        #expect(reports.count == 2 && reports.allSatisfy { $0.error == nil })

        let messages = try RelayFixtures.readEvents(topic, partitions: 1)
        try #require(messages.count == 2)
        guard case .event(let read) = messages[0].outcome else {
            Issue.record("the genuine message was rejected: \(messages[0].outcome)")
            return
        }
        #expect(read.id == event.id && read.seq == 7)
        guard case .rejected(let reason) = messages[1].outcome else {
            Issue.record("the message with a forged id header was accepted")
            return
        }
        #expect(reason.contains("id header"))
    }
}

/// A one-way flag tests set from a relay's stop closure.
private final class StopFlag: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}
