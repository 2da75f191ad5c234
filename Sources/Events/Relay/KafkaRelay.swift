import Dispatch
import Foundation
import Kafka
import Logging

/// Publishes the event log to Kafka in `seq` order (SPEC §1.4).
///
/// Each event goes to its family's topic, keyed by subject, valued by the canonical
/// envelope with `seq`, with headers `id`, `type`, `version`, `seq`, through an idempotent
/// producer. The highest seq below which every event was acknowledged by the broker is
/// checkpointed in the log's own LMDB environment, so a restart resumes there. For every
/// partition the relay also remembers the last acknowledged message (offset and seq); at
/// start and periodically it checks those messages are still on the broker, and when a
/// topic or a partition lost them (the in-memory test broker restarts empty) it publishes
/// that topic's events again from the start of the log.
///
/// The relay runs in the process that writes the log (checkpoints are written through the
/// log's writer). Its work is blocking I/O: callers run it on a thread of its own
/// (`run(until:)` does so itself).
public final class KafkaRelay: @unchecked Sendable {  // used by one thread at a time: `run` serializes passes on `queue`
    public struct Options: Sendable {
        public var naming: TopicNaming
        /// Partitions of topics the relay creates.
        public var partitions: Int
        /// Replication factor of topics the relay creates; -1 takes the broker's
        /// `default.replication.factor` (Kafka 2.4 or later).
        public var replicationFactor: Int = -1
        /// Topic-level settings of topics the relay creates. By default they keep every
        /// message: the log is the history, a projector rebuilding from Kafka reads each
        /// partition from offset 0, and a broker's default retention (7 days) would take the
        /// events of a quiet partition away.
        public var topicConfig: [String: String] = KafkaRelay.Options.keepEverything
        public static let keepEverything = ["retention.ms": "-1", "retention.bytes": "-1"]
        /// Events read from the log per step.
        public var batchSize: Int
        /// How often the relay checkpoints during a pass, and how often a following relay
        /// re-checks the broker for lost data.
        public var checkpointIntervalMs: Int
        public var lossCheckIntervalMs: Int
        /// Called after every checkpoint written during a pass, with its value (metrics).
        public var onCheckpoint: (@Sendable (UInt64) -> Void)?
        /// Held for each loss check (its metadata request and the probe's consumer). Whoever
        /// deletes topics under a running relay can hold it meanwhile: librdkafka 2.16 dies
        /// (SIGSEGV) when a consumer's topic is deleted on Tansu while it fetches, and a
        /// test process must not die with it.
        public var lossCheckLock: NSLock?

        public init(naming: TopicNaming = TopicNaming(), partitions: Int = 6, batchSize: Int = 20_000,
                    checkpointIntervalMs: Int = 1_000, lossCheckIntervalMs: Int = 30_000) {
            self.naming = naming
            self.partitions = partitions
            self.batchSize = batchSize
            self.checkpointIntervalMs = checkpointIntervalMs
            self.lossCheckIntervalMs = lossCheckIntervalMs
        }
    }

    /// What one pass did.
    public struct Report: Sendable, Equatable {
        /// Events sent to the broker (including re-publications).
        public var published = 0
        /// Events sent again because the broker had lost them.
        public var republished = 0
        /// Topics found to have lost acknowledged messages.
        public var lostTopics: [String] = []
        /// The checkpoint after the pass: every seq up to it is acknowledged.
        public var checkpoint: UInt64 = 0
        /// The stop request ended a wait on the broker (which had not answered for `stopGrace`).
        public var stoppedWhileWaiting = false

        public init() {}
    }

    public let options: Options
    private let log: EventLog
    private let config: KafkaConfig
    /// Replaced after a loss (see `publishPass`); one per relay otherwise.
    private var producer: KafkaProducer
    private let admin: KafkaAdmin
    private let logger: Logger
    private let queue = DispatchQueue(label: "tickfold.relay")
    private var knownTopics: Set<String> = []
    /// The running pass's stop check, also consulted while a request waits on the broker
    /// (see `stopWhileWaiting`).
    private var stopRequested: () -> Bool = { false }
    /// How long a wait on the broker lasts before a stop request cuts it short.
    static let stopGrace: Duration = .milliseconds(500)

    // Acknowledgement window: acked[i] tells whether seq `windowBase + i` was acknowledged.
    private var windowBase: UInt64 = 1
    private var acked: [Bool] = []
    private var windowHead = 0
    private var failure: DeliveryReport?
    /// Per topic and partition, the last acknowledged message: (offset, seq).
    private var marks: [KafkaTopicPartition: KafkaPartitionAnchor] = [:]
    /// The mark of each partition whose marked message the broker was last found to have
    /// removed by policy (logged once a mark, not at every loss check).
    private var removedMarks: [KafkaTopicPartition: KafkaPartitionAnchor] = [:]
    /// Marks of lost topics, erased in storage at the next checkpoint.
    private var erasedMarks: Set<KafkaTopicPartition> = []
    /// Topics with a message acknowledged at or below its partition's mark. A partition the
    /// broker kept only grows, so it was emptied meanwhile (the topic deleted and created
    /// again, a broker restarted without its data) and refilled. Their marks stay as they are
    /// (advancing them to the new messages would hide the loss from the check) until a loss
    /// check, which such a topic makes due at once.
    private var emptiedTopics: Set<String> = []
    private static let erasedOffset = UInt64.max
    private var scratch: [UInt8] = []
    private var subject: [UInt8] = []
    /// The four SPEC headers; their values are rewritten in place for every message.
    private var headers: [(String, [UInt8])] = [("id", []), ("type", []), ("version", []), ("seq", [])]
    /// Topic of each event type seen, so that a message costs no string building or hashing:
    /// event types are few, and consecutive events often share one.
    private var topicsByType: [(type: [UInt8], topic: String)] = []
    /// Index in `topicsByType` of the previous message's type.
    private var recentType = 0

    public init(log: EventLog, kafka config: KafkaConfig, options: Options = Options(),
                logger: Logger = Logger(label: "tickfold.relay")) throws {
        self.log = log
        self.config = config
        self.options = options
        self.logger = logger
        producer = try KafkaProducer(config: Self.producerConfig(config), idempotent: true, logger: logger)
        admin = try KafkaAdmin(config: config, logger: logger)
    }

    /// The producer's settings: the caller's, where librdkafka's producer default would let
    /// the broker create a missing topic on a produce's metadata request (with the broker's
    /// partition count and settings, not the relay's), topics are only created by the relay.
    private static func producerConfig(_ config: KafkaConfig) -> KafkaConfig {
        var producerConfig = config
        if producerConfig["allow.auto.create.topics"] == nil { producerConfig["allow.auto.create.topics"] = "false" }
        return producerConfig
    }

    /// The checkpoint name under which this relay's progress is kept (one per topic prefix).
    public var checkpointName: String { "relay/\(options.naming.prefix)" }
    private var markPrefix: String { "relay/\(options.naming.prefix)/mark/" }

    /// The last seq the broker acknowledged together with every seq before it.
    public func checkpoint() throws -> UInt64 { try log.checkpoint(named: checkpointName) ?? 0 }

    /// One pass: checks the broker for lost data, publishes every event after the
    /// checkpoint up to the log's end, waits for the broker's acknowledgements and
    /// checkpoints. Blocking.
    @available(*, noasync, message: "blocks; use run(until:) from async code")
    public func runOnce() throws -> Report {
        var report = Report()
        try publishPass(into: &report, following: false, shouldStop: { false })
        return report
    }

    /// Publishes until `shouldStop` returns true (checked between steps, and during a wait on
    /// the broker once it has lasted `stopGrace`; a SIGTERM handler sets it), then drains,
    /// checkpoints and returns. `following` keeps waiting for new
    /// events at the log's end; otherwise the pass also ends there, like `runOnce`. Runs on
    /// the relay's own thread, never on the cooperative pool.
    public func run(following: Bool = true, until shouldStop: @escaping @Sendable () -> Bool) async throws -> Report {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Report, any Error>) in
            queue.async {
                var report = Report()
                continuation.resume(with: Result { try self.publishPass(into: &report, following: following, shouldStop: shouldStop); return report })
            }
        }
    }

    private func publishPass(into report: inout Report, following: Bool, shouldStop: @escaping () -> Bool) throws {
        stopRequested = shouldStop
        defer { stopRequested = { false } }
        try loadMarks()
        emptiedTopics = []  // the start's loss check below covers every mark
        var checkpoint = try self.checkpoint()
        republishing = try loadRepublication()
        let lost: Set<String>
        do {
            lost = try lostTopics()
        } catch let error as KafkaError where error.code == .interrupted {
            report.checkpoint = checkpoint
            report.stoppedWhileWaiting = true
            return
        }
        if !lost.isEmpty {
            try replaceProducer()
            report.lostTopics = Array(Set(report.lostTopics).union(lost)).sorted()
            logger.warning("broker lost acknowledged events; publishing their topics again", metadata: [
                "topics": "\(lost.sorted().joined(separator: ","))", "checkpoint": "\(checkpoint)"])
            // Start (or restart, with the topics of one under way) from seq 1. Stored with the
            // erased marks before anything is sent: once marks of the re-created topics are
            // saved, only this record says the re-publication is unfinished.
            republishing = Republication(topics: lost.union(republishing?.topics ?? []), through: checkpoint, next: 1)
            resetWindow(at: 1)
            checkpoint = try saveCheckpoint(atLeast: checkpoint)
        } else if let republishing {
            logger.warning("resuming an unfinished re-publication", metadata: [
                "topics": "\(republishing.topics.sorted().joined(separator: ","))", "from": "\(republishing.next)",
                "through": "\(republishing.through)"])
        }
        // Re-publication walks the log from its `next` seq but sends only lost topics' events
        // until it passes `through` (the checkpoint when the loss was found); past it,
        // everything is sent as usual.
        let republishTopics = republishing?.topics ?? []
        let republishThrough = republishing?.through ?? 0
        var next: UInt64 = republishing?.next ?? checkpoint + 1
        resetWindow(at: next)
        var lastCheckpointAt = DispatchTime.now()
        var lastLossCheckAt = DispatchTime.now()
        // A one-shot pass ends at the log's end as of its start, even while a writer appends.
        let passEnd = following ? UInt64.max : try log.lastSeq()

        do {
            let stopped = try publishSteps(
                from: &next, through: passEnd, checkpoint: &checkpoint, republishTopics: republishTopics, republishThrough: republishThrough,
                lastCheckpointAt: &lastCheckpointAt, lastLossCheckAt: &lastLossCheckAt,
                report: &report, following: following, shouldStop: shouldStop)
            if stopped {
                drainWhileAcknowledged(else: "stopping with messages the broker has not acknowledged; the next run publishes them again")
            } else {
                try flushAll()
            }
            try throwIfFailed()
            // The last acknowledgements may show an emptied topic too; a stopping relay leaves
            // it to the next pass's start (the marks were kept).
            if !stopped { try checkLossIfDue(following: false, lastLossCheckAt: &lastLossCheckAt, now: DispatchTime.now()) }
        } catch let restart as LossFound {
            // Start over: keep what was acknowledged, record the new re-publication (with the
            // topics of one under way) and run a pass that resumes it. One write holds the
            // lost topics' erased marks and the record, as at the start of a pass: written
            // apart, a crash between them would leave the marks erased and no record, and the
            // restart would find nothing lost.
            try replaceProducer()
            let acknowledged = max(checkpoint, contiguousAcknowledged)
            report.lostTopics = Array(Set(report.lostTopics).union(restart.topics)).sorted()
            logger.warning("broker lost acknowledged events; publishing their topics again", metadata: [
                "topics": "\(restart.topics.sorted().joined(separator: ","))", "checkpoint": "\(acknowledged)"])
            republishing = Republication(topics: restart.topics.union(republishing?.topics ?? []), through: acknowledged, next: 1)
            resetWindow(at: 1)
            _ = try saveCheckpoint(atLeast: acknowledged)
            return try publishPass(into: &report, following: following, shouldStop: shouldStop)
        } catch let error as KafkaError where error.code == .interrupted {
            // Stopped while waiting on the broker: a stop like any other, but without waiting
            // long for acknowledgements a broker that keeps silent will not send.
            logger.info("relay stopped while waiting for the broker", metadata: ["operation": "\(error.operation)"])
            _ = try? flushAll(timeoutMs: 500)
            drain(producer.poll(timeoutMs: 0))  // what did arrive, when the flush timed out
            report.stoppedWhileWaiting = true
            report.checkpoint = try saveCheckpoint(atLeast: checkpoint)
            return
        } catch {
            // Keep what the broker acknowledged before the failure: a restart resumes after it.
            _ = try? flushAll(timeoutMs: 5_000)
            _ = try? saveCheckpoint(atLeast: checkpoint)
            throw error
        }
        report.checkpoint = try saveCheckpoint(atLeast: checkpoint)
    }

    /// Runs a log read whose body sends to Kafka: the broker's and the relay's own failures
    /// come out as themselves, not as failures of the log read that carried them.
    private func relayingOwnErrors(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as EventLogError {
            if let own = error.underlying as? RelayError { throw own }
            if let own = error.underlying as? KafkaError { throw own }
            throw error
        }
    }

    /// Thrown inside a following pass when the periodic check finds lost topics.
    private struct LossFound: Error {
        let topics: Set<String>
    }

    /// Returns whether it ended on a stop request (rather than at the pass's end).
    private func publishSteps(
        from next: inout UInt64, through passEnd: UInt64, checkpoint: inout UInt64, republishTopics: Set<String>, republishThrough: UInt64,
        lastCheckpointAt: inout DispatchTime, lastLossCheckAt: inout DispatchTime,
        report: inout Report, following: Bool, shouldStop: () -> Bool
    ) throws -> Bool {
        var republishTopics = republishTopics
        while true {
            let end = min(try log.lastSeq(), passEnd)
            if next <= end {
                let through = min(end, next + UInt64(options.batchSize) - 1)
                try relayingOwnErrors { try log.forEach(from: next, through: through) { view in
                    let republishing = view.seq <= republishThrough
                    let sent = try self.send(view, onlyTopics: republishing ? republishTopics : nil)
                    if sent {
                        report.published += 1
                        if republishing { report.republished += 1 }
                    } else {
                        self.acknowledge(view.seq)
                    }
                } }
                next = through + 1
                drain(producer.poll(timeoutMs: 0))
            } else if !following {
                return false
            } else {
                drain(producer.poll(timeoutMs: 20))
            }
            try throwIfFailed()
            if republishThrough > 0, next > republishThrough { republishTopics = [] }
            let now = DispatchTime.now()
            // A long one-shot pass checkpoints too, so a stop or a failure keeps its progress.
            if elapsedMs(since: lastCheckpointAt, now) >= options.checkpointIntervalMs {
                checkpoint = try saveCheckpoint(atLeast: checkpoint)
                lastCheckpointAt = now
            }
            try checkLossIfDue(following: following, lastLossCheckAt: &lastLossCheckAt, now: now)
            if shouldStop() { return true }
        }
    }

    /// Sends one stored event; returns false when it was skipped (not in `onlyTopics`).
    /// Key, value and header bytes go through buffers reused from message to message.
    private func send(_ view: StoredEventView, onlyTopics: Set<String>?) throws -> Bool {
        let tail = try EnvelopeTail(view.canonicalJSON, subject: &subject, type: &headers[1].1)
        let topic = try topic(forType: headers[1].1)
        if let onlyTopics, !onlyTopics.contains(topic) { return false }
        tail.wireBytes(view.canonicalJSON, seq: view.seq, into: &scratch)
        headers[0].1.removeAll(keepingCapacity: true)
        EnvelopeTail.appendHex(view.idBytes, to: &headers[0].1)
        headers[2].1.removeAll(keepingCapacity: true)
        EnvelopeTail.appendDecimal(UInt64(tail.version), to: &headers[2].1)
        headers[3].1.removeAll(keepingCapacity: true)
        EnvelopeTail.appendDecimal(view.seq, to: &headers[3].1)
        do {
            // A full queue waits for room; once it has waited `stopGrace` (a healthy broker
            // makes room well within it), a stop request ends the wait.
            var fullSince: ContinuousClock.Instant?
            try producer.send(topic: topic, key: subject, value: scratch, headers: headers, tag: view.seq, interrupted: {
                let now = ContinuousClock.now
                let since = fullSince ?? now
                fullSince = since
                return now - since >= Self.stopGrace && stopRequested()
            })
        } catch {
            guard error.librdkafkaErrorName == "MSG_SIZE_TOO_LARGE" else { throw error }
            throw RelayError(
                "event seq \(view.seq) (\(scratch.count) bytes as a message) is larger than the producer's message.max.bytes; "
                    + "raise it (and the broker's limit for \(topic)) to publish it. Every event before it that the broker acknowledged is checkpointed")
        }
        return true
    }

    /// The topic of events of `type` (UTF-8), created on the broker the first time.
    private func topic(forType type: [UInt8]) throws -> String {
        if recentType < topicsByType.count, topicsByType[recentType].type == type { return topicsByType[recentType].topic }
        if let index = topicsByType.firstIndex(where: { $0.type == type }) {
            recentType = index
            return topicsByType[index].topic
        }
        let topic = options.naming.topic(forType: String(decoding: type, as: UTF8.self))
        if !knownTopics.contains(topic) { try ensureTopic(topic) }
        recentType = topicsByType.count
        topicsByType.append((type, topic))
        return topic
    }

    private func ensureTopic(_ topic: String) throws {
        let outcome = try admin.createTopic(
            topic, partitions: Int32(options.partitions), replicationFactor: Int32(options.replicationFactor), config: options.topicConfig,
            timeoutMs: 10_000, interrupted: stopWhileWaiting())
        if outcome == .created { logger.info("created topic", metadata: ["topic": "\(topic)", "partitions": "\(options.partitions)"]) }
        if outcome == .alreadyExisted { warnOfOtherSettings(topic) }
        knownTopics.insert(topic)
    }

    /// A topic that was already there keeps its settings; those of the relay's own settings
    /// that differ (a broker's default retention above all: a projector rebuilding from Kafka
    /// would miss what it removed) are logged for the operator, at every start of a relay that
    /// uses the topic. Settings the broker does not describe, a description it refuses, or a
    /// stop while waiting for it say nothing.
    private func warnOfOtherSettings(_ topic: String) {
        let settings: [String: String]
        do {
            settings = try admin.topicConfig(topic, timeoutMs: 2_000, interrupted: stopWhileWaiting())
        } catch {
            logger.debug("could not read an existing topic's settings", metadata: ["topic": "\(topic)", "error": "\(error)"])
            return
        }
        let differing = options.topicConfig.sorted { $0.key < $1.key }.compactMap { key, wanted in
            settings[key].flatMap { Self.sameSetting($0, wanted) ? nil : "\(key)=\($0) (the relay's: \(wanted))" }
        }
        guard !differing.isEmpty else { return }
        logger.warning("an existing topic keeps settings other than the relay's", metadata: [
            "topic": "\(topic)", "settings": "\(differing.joined(separator: ", "))"])
    }

    /// Whether a broker's value of a topic setting is the one wanted: the same text, or the
    /// same whole number written differently.
    static func sameSetting(_ found: String, _ wanted: String) -> Bool {
        let (found, wanted) = (found.trimmingCharacters(in: .whitespaces), wanted.trimmingCharacters(in: .whitespaces))
        if let a = Int64(found), let b = Int64(wanted) { return a == b }
        return found == wanted
    }

    // MARK: acknowledgements

    private func resetWindow(at seq: UInt64) {
        windowBase = seq
        acked.removeAll(keepingCapacity: true)
        windowHead = 0
        failure = nil
    }

    private func acknowledge(_ seq: UInt64) {
        guard seq >= windowBase else { return }
        let index = Int(seq - windowBase)
        if index >= acked.count { acked.append(contentsOf: repeatElement(false, count: index - acked.count + 1)) }
        acked[index] = true
        while windowHead < acked.count, acked[windowHead] { windowHead += 1 }
        if windowHead > 1 << 16 {
            acked.removeFirst(windowHead)
            windowBase += UInt64(windowHead)
            windowHead = 0
        }
    }

    /// Every seq below this has been acknowledged.
    private var contiguousAcknowledged: UInt64 { windowBase + UInt64(windowHead) - 1 }

    /// Acknowledges delivered messages and advances the partitions' marks. Reports come in
    /// runs of one partition (librdkafka reports a message batch at a time), so a mark is
    /// looked up once per run rather than once per message.
    private func drain(_ reports: [DeliveryReport]) {
        var run: Run?
        for report in reports {
            if report.error != nil {
                if failure == nil { failure = report }
                continue
            }
            acknowledge(report.tag)
            guard let offset = report.offset else { continue }
            if let current = run, current.partition == report.partition, current.topic == report.topic {
                if current.offset < offset { run = Run(topic: current.topic, partition: current.partition, first: min(current.first, offset), offset: offset, seq: report.tag) }
            } else {
                if let current = run { advanceMark(current) }
                run = Run(topic: report.topic, partition: report.partition, first: offset, offset: offset, seq: report.tag)
            }
        }
        if let current = run { advanceMark(current) }
    }

    /// A run of delivery reports of one partition: its lowest and highest offsets, and the
    /// seq at the highest.
    private struct Run {
        let topic: String
        let partition: Int32
        let first: Int64
        let offset: Int64
        let seq: UInt64
    }

    private func advanceMark(_ run: Run) {
        let partition = KafkaTopicPartition(topic: run.topic, partition: run.partition)
        // The run's lowest offset: a burst into an emptied partition may already end past the
        // old mark, but it starts at or below it.
        if let current = marks[partition], run.first <= current.offset { emptiedTopics.insert(run.topic) }
        guard !emptiedTopics.contains(run.topic) else { return }
        marks[partition] = KafkaPartitionAnchor(offset: run.offset, seq: run.seq)
    }

    /// Runs a loss check when one is due (a following pass's interval, or an emptied topic
    /// seen in the acknowledgements) and throws `LossFound` for what it finds lost.
    private func checkLossIfDue(following: Bool, lastLossCheckAt: inout DispatchTime, now: DispatchTime) throws {
        let periodic = following && elapsedMs(since: lastLossCheckAt, now) >= options.lossCheckIntervalMs
        guard periodic || !emptiedTopics.isEmpty else { return }
        if !emptiedTopics.isEmpty {
            logger.warning("the broker acknowledged messages at offsets already passed: checking for lost data", metadata: [
                "topics": "\(emptiedTopics.sorted().joined(separator: ","))"])
        }
        lastLossCheckAt = now
        emptiedTopics = []
        let lost = try lostTopics()
        if !lost.isEmpty { throw LossFound(topics: lost) }
    }

    /// After a loss: a broker that lost data may have lost this producer's idempotence state
    /// too (an in-memory broker restarted empty answers its next sequence numbers with errors
    /// librdkafka retries until message.timeout.ms, 5 min). The producer is kept only while
    /// acknowledgements come, then dropped for a new one; anything it did not get acknowledged
    /// lies past the checkpoint and is sent again.
    private func replaceProducer() throws {
        drainWhileAcknowledged(else: "dropping the producer with messages the broker has not acknowledged; they are sent again")
        drain(producer.purge())
        producer = try KafkaProducer(config: Self.producerConfig(config), idempotent: true, logger: logger)
    }

    /// The drain after a stop request or a loss: waits for acknowledgements while they keep
    /// coming (up to `flushAll`'s 30 s), but not once none came for 2 s (logging `warning`):
    /// a broker that silent is down or will not acknowledge them, and neither a stopping
    /// service nor a re-publication should sit out the timeout. What it did acknowledge is
    /// checkpointed; the rest is published again.
    private func drainWhileAcknowledged(else warning: String) {
        let started = DispatchTime.now()
        var lastProgress = started
        while producer.outstandingMessages > 0 {
            let before = producer.outstandingMessages
            do {
                drain(try producer.flush(timeoutMs: 100))
            } catch {
                drain(producer.poll(timeoutMs: 0))  // the reports of what did arrive in the slice
            }
            let now = DispatchTime.now()
            if producer.outstandingMessages < before { lastProgress = now }
            if producer.outstandingMessages > 0, elapsedMs(since: lastProgress, now) >= 2_000 || elapsedMs(since: started, now) >= 30_000 {
                logger.warning("\(warning)", metadata: ["messages": "\(producer.outstandingMessages)"])
                break
            }
        }
        drain(producer.poll(timeoutMs: 0))
    }

    private func flushAll(timeoutMs: Int32 = 30_000) throws {
        while producer.outstandingMessages > 0 {
            drain(try producer.flush(timeoutMs: timeoutMs))
            if producer.outstandingMessages > 0 {
                throw RelayError("the broker at \(config.bootstrapServers) did not acknowledge \(producer.outstandingMessages) messages within \(timeoutMs / 1000) s")
            }
        }
        drain(producer.poll(timeoutMs: 0))
    }

    private func throwIfFailed() throws {
        guard let failure else { return }
        throw RelayError("delivery of seq \(failure.tag) to \(failure.topic) failed: \(failure.error.map { "\($0)" } ?? "unknown error")")
    }

    /// Writes the contiguous acknowledged seq (never lower than `floor`) and the marks.
    @discardableResult
    private func saveCheckpoint(atLeast floor: UInt64) throws -> UInt64 {
        let value = max(floor, contiguousAcknowledged)
        var entries: [(name: String, seq: UInt64)] = [(checkpointName, value)]
        for (partition, mark) in marks.sorted(by: { $0.key < $1.key }) {
            let name = "\(markPrefix)\(partition.topic)/\(partition.partition)"
            entries.append((name + "/offset", UInt64(mark.offset)))
            entries.append((name + "/seq", mark.seq))
        }
        for partition in erasedMarks.subtracting(marks.keys) {
            entries.append(("\(markPrefix)\(partition.topic)/\(partition.partition)/offset", Self.erasedOffset))
        }
        entries += republicationEntries()
        try log.setCheckpointsBlocking(entries)
        erasedMarks = []
        options.onCheckpoint?(value)
        return value
    }

    // MARK: re-publication

    /// A re-publication under way: events of `topics` with seqs `next...through` still to
    /// send again. Stored beside the checkpoint so that a stop, a crash or a failure in the
    /// middle resumes it instead of forgetting it.
    private struct Republication {
        var topics: Set<String>
        var through: UInt64
        var next: UInt64
    }

    private var republishing: Republication?
    /// Topics named in the stored record, so that finishing (or narrowing) it clears them.
    private var storedRepublicationTopics: Set<String> = []
    private var republicationPrefix: String { "relay/\(options.naming.prefix)/republish/" }

    private func loadRepublication() throws -> Republication? {
        var through: UInt64 = 0
        var next: UInt64 = 0
        var topics: Set<String> = []
        for (name, value) in try log.checkpoints(prefixed: republicationPrefix) {
            let key = name.dropFirst(republicationPrefix.count)
            if key == "through" { through = value } else if key == "next" { next = value } else if key.hasPrefix("topic/"), value == 1 {
                topics.insert(String(key.dropFirst("topic/".count)))
            }
        }
        storedRepublicationTopics = topics
        guard through > 0, next >= 1, next <= through, !topics.isEmpty else { return nil }
        return Republication(topics: topics, through: through, next: next)
    }

    /// The stored record's entries: the re-publication's progress (every seq below `next`
    /// acknowledged), or `through` 0 once it is done.
    private func republicationEntries() -> [(name: String, seq: UInt64)] {
        var entries: [(name: String, seq: UInt64)] = []
        var active: Set<String> = []
        if var current = republishing {
            current.next = max(current.next, contiguousAcknowledged + 1)
            if current.next > current.through {
                republishing = nil
                logger.info("re-publication finished", metadata: ["topics": "\(current.topics.sorted().joined(separator: ","))"])
            } else {
                republishing = current
                active = current.topics
                entries += [(republicationPrefix + "through", current.through), (republicationPrefix + "next", current.next)]
            }
        }
        if active.isEmpty, !storedRepublicationTopics.isEmpty {
            entries.append((republicationPrefix + "through", 0))
        }
        for topic in active.union(storedRepublicationTopics).sorted() {
            entries.append((republicationPrefix + "topic/" + topic, active.contains(topic) ? 1 : 0))
        }
        storedRepublicationTopics = active
        return entries
    }

    // MARK: loss detection

    private func loadMarks() throws {
        marks = [:]
        var offsets: [KafkaTopicPartition: UInt64] = [:]
        var seqs: [KafkaTopicPartition: UInt64] = [:]
        for (name, value) in try log.checkpoints(prefixed: markPrefix) {
            let parts = name.dropFirst(markPrefix.count).split(separator: "/")
            guard parts.count == 3, let partition = Int32(parts[1]) else { continue }
            let key = KafkaTopicPartition(topic: String(parts[0]), partition: partition)
            if parts[2] == "offset" { offsets[key] = value } else if parts[2] == "seq" { seqs[key] = value }
        }
        for (key, offset) in offsets where offset != Self.erasedOffset {
            if let seq = seqs[key] { marks[key] = KafkaPartitionAnchor(offset: Int64(offset), seq: seq) }
        }
    }

    /// Topics with a partition whose last acknowledged message is no longer on the broker.
    /// A partition the broker does not answer for within 10 s fails the check (`.timedOut`):
    /// the pass fails and is retried, rather than publishing a whole topic again for a slow
    /// broker. A message the broker removed by policy (retention) is not a loss: the partition
    /// goes on, and events published again would be removed the same way.
    private func lostTopics() throws -> Set<String> {
        guard !marks.isEmpty else { return [] }
        options.lossCheckLock?.lock()
        defer { options.lossCheckLock?.unlock() }
        let metadata = try admin.metadata(timeoutMs: 10_000, interrupted: stopWhileWaiting())
        var lost: Set<String> = []
        var toFetch: [KafkaTopicPartition: KafkaPartitionAnchor] = [:]
        for (partition, mark) in marks {
            guard let topic = metadata.topic(partition.topic), topic.error == nil, Int(partition.partition) < Int(topic.partitionCount) else {
                lost.insert(partition.topic)
                continue
            }
            toFetch[partition] = mark
        }
        // Unchecked partitions are not lost ones: a stop ends the pass before any verdict.
        let found = try KafkaConsumer.probe(toFetch.mapValues(\.offset), config: config, timeoutMs: 10_000, logger: logger, interrupted: stopWhileWaiting())
        let verdict = try Self.judge(toFetch, found: found, timeoutMs: 10_000)
        lost.formUnion(verdict.lost)
        for (key, next) in verdict.removed.sorted(by: { $0.key < $1.key }) {
            guard let mark = toFetch[key], removedMarks[key] != mark else { continue }
            removedMarks[key] = mark
            logger.warning("the broker removed the last acknowledged message of a partition by policy (retention or DeleteRecords: the log starts after it); not a loss, nothing is published again", metadata: [
                "topic": "\(key.topic)", "partition": "\(key.partition)", "offset": "\(mark.offset)", "next": "\(next)"])
        }
        if !lost.isEmpty {
            for key in marks.keys where lost.contains(key.topic) {
                marks[key] = nil
                erasedMarks.insert(key)
            }
            knownTopics.subtract(lost)
            topicsByType.removeAll { lost.contains($0.topic) }
        }
        return lost
    }

    /// The loss check's verdict on the marked messages (`marks`) from what a probe `found` at
    /// their offsets: the topics with a partition written again (another message at the mark,
    /// or none: the partition ends before it), and the partitions whose marked message the
    /// broker removed by policy, with the offset the partition goes on at. Throws `.timedOut`
    /// for a partition the broker did not answer for within `timeoutMs`.
    static func judge(
        _ marks: [KafkaTopicPartition: KafkaPartitionAnchor], found: [KafkaTopicPartition: KafkaOffsetProbe], timeoutMs: Int
    ) throws(KafkaError) -> (lost: Set<String>, removed: [KafkaTopicPartition: Int64]) {
        var lost: Set<String> = []
        var removed: [KafkaTopicPartition: Int64] = [:]
        for (key, mark) in marks.sorted(by: { $0.key < $1.key }) {
            switch mark.verdict(found[key] ?? .unanswered) {
            case .same:
                continue
            case .rewritten:
                lost.insert(key.topic)
            case .removed(let next):
                removed[key] = next
            case .unanswered:
                throw KafkaError(code: .timedOut, operation: "check the last acknowledged message in \(key)",
                                 message: "no answer for offset \(mark.offset) within \(timeoutMs) ms")
            }
        }
        return (lost, removed)
    }

    /// The stop check for a wait on the broker starting now: true once a stop is requested and
    /// the wait has lasted `stopGrace`. A healthy broker answers well within it, so a stop
    /// still ends a pass after its step in hand; a dead one no longer keeps a stopping relay
    /// for a request's whole timeout (10 s).
    private func stopWhileWaiting() -> () -> Bool {
        let started = ContinuousClock.now
        let stop = stopRequested
        return { ContinuousClock.now - started >= Self.stopGrace && stop() }
    }

    private func elapsedMs(since start: DispatchTime, _ now: DispatchTime) -> Int {
        Int((now.uptimeNanoseconds - start.uptimeNanoseconds) / 1_000_000)
    }
}

/// A relay failure the operator must see: broker unreachable, delivery refused.
public struct RelayError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ message: String) { description = message }
}
