import Events
import Kafka
import Logging

/// Reads the Kafka relay's topics (`PREFIX.<family>`, every partition) by manual partition
/// assignment, starting after the checkpointed offsets, and verifies every message with
/// `KafkaEventReader` (canonical envelope, id and seq headers). Checkpoint source = the topic,
/// partition = the Kafka partition, position = the last applied offset.
///
/// Delivery order differs from the log's (partitions interleave), which the sinks' seq guards
/// make harmless. A message that is not a valid event is logged, counted and passed over.
///
/// A partition the broker lost and the relay published again (an in-memory broker restarted)
/// holds other events at the checkpointed offsets. Each checkpoint carries the seq of the
/// message read last (`CheckpointPosition.seq`), and that message is checked on the broker
/// (`KafkaPartitionAnchor`): at start, at every topic refresh, when a partition's end falls
/// before the next offset, and before taking the messages of a poll during which librdkafka
/// reported client errors (a broker restart shows as a lost connection), so messages of a
/// rewritten partition are never taken past the old position. A partition written again is
/// logged as a warning, read again from offset 0, and its checkpoints are dropped with the next
/// batch (`SourceBatch.resets`): re-reading is harmless, rows and keys keep the highest seq.
/// Checkpoints written before seqs were recorded are trusted by offset; one past the
/// partition's end is refused (`checkNotPastEnd`).
/// Caught up means librdkafka reported every partition's end (`enable.partition.eof`); high
/// watermarks only back that up for partitions that stay silent, because Tansu 0.6.0 reports
/// the last batch's base offset + 1 as the high watermark, which can lag the true end.
///
/// `@unchecked Sendable`: its mutable state is touched only by the one projector that drives
/// it, one step at a time (see `ProjectorSource`); the reader and admin are thread safe.
public final class KafkaEventSource: ProjectorSource, @unchecked Sendable {
    public struct Options: Sendable {
        public var naming: TopicNaming
        /// How long one `read` waits for the first message.
        public var pollTimeoutMs: Int32
        /// How often a following source looks for new topics or partitions.
        public var topicRefreshIntervalMs: Int
        /// Timeout of metadata and watermark requests.
        public var requestTimeoutMs: Int32
        /// Set when the service stops: broker requests waiting on a dead broker end at once
        /// (`KafkaError.interrupted`) instead of sitting out `requestTimeoutMs`.
        public var interruption: RetryInterruption?

        public init(naming: TopicNaming = TopicNaming(), pollTimeoutMs: Int32 = 200, topicRefreshIntervalMs: Int = 10_000, requestTimeoutMs: Int32 = 10_000,
                    interruption: RetryInterruption? = nil) {
            self.naming = naming
            self.pollTimeoutMs = pollTimeoutMs
            self.topicRefreshIntervalMs = topicRefreshIntervalMs
            self.requestTimeoutMs = requestTimeoutMs
            self.interruption = interruption
        }
    }

    public var kind: String { "kafka" }
    public let options: Options
    private let reader: KafkaEventReader
    private let admin: KafkaAdmin
    /// The caller's client configuration, for the consumers that check anchors.
    private let config: KafkaConfig
    private let logger: Logger
    /// Per assigned partition, the offset the next message must have.
    private var next: [KafkaTopicPartition: Int64] = [:]
    /// Per assigned partition, the last message read with a seq header (from the checkpoint
    /// until a message is read): checked against the broker before reading on.
    private var lastRead: [KafkaTopicPartition: KafkaPartitionAnchor] = [:]
    /// Anchors found removed by the broker's policy, so each is logged once, not at every check.
    private var removedAnchors: [KafkaTopicPartition: KafkaPartitionAnchor] = [:]
    /// The checkpoints `start` was given, for partitions that appear later (a topic back).
    private var committed: [CheckpointKey: Int64] = [:]
    private var committedSeqs: [CheckpointKey: UInt64] = [:]
    /// Partitions found written again whose checkpoints the next batch drops.
    private var pendingResets: Set<CheckpointKey> = []
    /// Whether the next read checks every anchor before polling.
    private var checkDue = false
    /// `KafkaEventReader.reportedErrors` when last looked at.
    private var errorsSeen = 0
    /// Partitions that reached the stop seq.
    private var stopped: Set<KafkaTopicPartition> = []
    private var lastRefresh = ContinuousClock.now
    /// Reads in a row that returned nothing.
    private var emptyPolls = 0

    /// `config` names the brokers (and any client settings); partition-end reporting is
    /// switched on here.
    public init(kafka config: KafkaConfig, options: Options = Options(), logger: Logger = Logger(label: "tickfold.projector.kafka")) throws {
        var readerConfig = config
        readerConfig["enable.partition.eof"] = "true"
        self.options = options
        self.logger = logger
        self.config = config
        reader = try KafkaEventReader(kafka: readerConfig, logger: logger)
        admin = try KafkaAdmin(config: config, logger: logger)
    }

    /// The partitions currently read, in order.
    public var assignedPartitions: [KafkaTopicPartition] {
        next.keys.sorted()
    }

    /// `start(after:seqs:)` with checkpoints that carry no seqs (trusted by offset).
    public func start(after committed: [CheckpointKey: Int64]) throws {
        try start(after: committed, seqs: [:])
    }

    /// Assigns every partition of the prefix's topics after its checkpoint, or from offset 0
    /// when the message read last (`seqs`) is no longer there (see the type's note). A broker
    /// without such topics, or without topics the checkpoint names, is worth a warning: it
    /// reads as "caught up" either way, and the usual cause is a wrong `--kafka` or topic prefix.
    public func start(after committed: [CheckpointKey: Int64], seqs: [CheckpointKey: UInt64]) throws {
        self.committed = committed
        committedSeqs = seqs
        next = [:]
        lastRead = [:]
        let discovered = try discoverPartitions()
        let positions = try resumePositions(discovered)
        if discovered.isEmpty {
            logger.warning("no Kafka topics named \(options.naming.prefix).* on the broker: nothing to read until the relay creates them (check --kafka and the topic prefix)")
        }
        let topics = Set(discovered.map(\.topic))
        let checkpointed = Set(committed.keys.map(\.source)).subtracting([LogEventSource.checkpointKey.source])
        let missing = checkpointed.subtracting(topics).sorted()
        if !missing.isEmpty {
            logger.warning("checkpointed Kafka topics are not on the broker: deleted, or checkpointed under another prefix", metadata: [
                "topics": "\(missing.joined(separator: ","))", "prefix": "\(options.naming.prefix)",
            ])
        }
        try assign(positions)
        lastRefresh = .now
        errorsSeen = reader.reportedErrors
    }

    public func read(max: Int, stopAfter: UInt64?) throws -> SourceBatch {
        precondition(max > 0, "read(max:) needs a positive max")
        if !next.isEmpty, stopped.count == next.count {
            return SourceBatch(events: [], positions: [], resets: takeResets(), status: .reachedStop)
        }
        if ContinuousClock.now - lastRefresh >= .milliseconds(options.topicRefreshIntervalMs) {
            // A new event family creates a topic; a topic may gain partitions; a partition may
            // have been written again meanwhile.
            lastRefresh = .now
            checkDue = true
            try refreshAssignment()
        }
        if checkDue { try startOverRewritten() }
        // A poll hands over every record it took (`KafkaConsumer.gather`): an error comes
        // alone, so the retry of an outage reads on from where the records stopped.
        let messages = try reader.poll(max: max, timeoutMs: options.pollTimeoutMs)
        var skipped: Set<KafkaTopicPartition> = []
        if reader.reportedErrors != errorsSeen {
            // The broker connection failed during the poll: these messages may come from a
            // broker that restarted empty. Check where each partition was read up to before
            // taking them; if the check cannot be made, read them again next time.
            do {
                skipped = try startOverRewritten()
            } catch {
                try assign(next)
                throw error
            }
        }
        emptyPolls = messages.isEmpty ? emptyPolls + 1 : 0
        var events: [Event] = []
        events.reserveCapacity(messages.count)
        var advanced: [KafkaTopicPartition: (offset: Int64, seq: UInt64)] = [:]
        var invalid = 0
        for message in messages {
            let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
            // Messages fetched before a re-assignment, for a partition that reached the stop,
            // or for one just started over.
            guard let expected = next[partition], message.offset >= expected, !stopped.contains(partition), !skipped.contains(partition) else { continue }
            switch message.outcome {
            case .event(let event):
                if let stopAfter, let seq = event.seq, seq > stopAfter {
                    stopped.insert(partition)
                    continue
                }
                events.append(event)
            case .rejected(let reason):
                invalid += 1
                logger.error("skipping a Kafka message that is not a valid event", metadata: [
                    "topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)", "reason": "\(reason)",
                ])
            }
            next[partition] = message.offset + 1
            // Only a message with a seq anchors the checkpoint (a restart checks that the
            // broker still holds that seq at that offset). After one without, the checkpoint
            // stays at the last that had one, and a restart reads the rest again: skipped
            // again, which is harmless, where an unanchored checkpoint would be trusted by
            // offset and a partition written again since would go unnoticed.
            if let seq = message.seq {
                lastRead[partition] = KafkaPartitionAnchor(offset: message.offset, seq: seq)
                advanced[partition] = (message.offset, seq)
            }
        }
        let positions = advanced.sorted { $0.key < $1.key }.map {
            CheckpointPosition(source: $0.key.topic, partition: Int($0.key.partition), position: $0.value.offset, seq: $0.value.seq)
        }
        let status: SourceBatch.Status
        if !next.isEmpty, stopped.count == next.count {
            status = .reachedStop
        } else if messages.count >= max {
            status = .more
        } else {
            status = try isAtEnd() ? .caughtUp : .more
        }
        return SourceBatch(events: events, positions: positions, invalidMessages: invalid, resets: takeResets(), status: status)
    }

    /// An unreachable or unanswering broker, or a topic it does not serve yet (a restarted
    /// broker before the relay re-creates it), is an outage; a stop request ends the wait.
    public func isOutage(_ error: any Error) -> Bool {
        guard let error = error as? KafkaError else { return false }
        return [.brokerUnreachable, .timedOut, .unknownTopicOrPartition, .interrupted].contains(error.code)
    }

    /// Kafka reads wait inside `read` (a bounded librdkafka poll), so there is nothing to
    /// wait for here.
    public func waitForEvents() async throws {
        try Task.checkCancellation()
    }

    /// Approximate: from high watermarks (see the type's note on Tansu).
    public func backlog() throws -> Int64? {
        var total: Int64 = 0
        for (partition, offset) in next where !stopped.contains(partition) {
            let high = try highWatermark(partition)
            total += max(high - offset, 0)
        }
        return total
    }

    private var isInterrupted: Bool { options.interruption?.isInterrupted ?? false }

    /// The partition's high watermark, asked in requests of at most a second so that a stop
    /// (`Options.interruption`) is seen while the broker does not answer.
    private func highWatermark(_ partition: KafkaTopicPartition) throws -> Int64 {
        let deadline = ContinuousClock.now + .milliseconds(Int64(options.requestTimeoutMs))
        while true {
            let answer: Result<(low: Int64, high: Int64), KafkaError>
            do {
                answer = .success(try admin.watermarks(topic: partition.topic, partition: partition.partition, timeoutMs: min(options.requestTimeoutMs, 1_000)))
            } catch {
                answer = .failure(error)
            }
            switch answer {
            case .success(let marks):
                return marks.high
            case .failure(let error):
                guard error.code == .timedOut, ContinuousClock.now < deadline else { throw error }
                if isInterrupted {
                    throw KafkaError(code: .interrupted, operation: "watermarks \(partition)", message: "stopped while waiting for the broker")
                }
            }
        }
    }

    /// Every partition of the topics named with the prefix.
    private func discoverPartitions() throws -> [KafkaTopicPartition] {
        let prefix = options.naming.prefix + "."
        let metadata = try admin.metadata(timeoutMs: options.requestTimeoutMs, interrupted: { self.isInterrupted })
        var partitions: [KafkaTopicPartition] = []
        for topic in metadata.topics where topic.name.hasPrefix(prefix) && topic.error == nil {
            for partition in 0..<Int32(topic.partitionCount) {
                partitions.append(KafkaTopicPartition(topic: topic.name, partition: partition))
            }
        }
        return partitions
    }

    /// Where each of `partitions` starts: after its checkpoint, unless the checkpoint names
    /// the seq read last there and the broker holds something else at that offset; then from
    /// offset 0, its checkpoints to be dropped. Without a checkpoint, from offset 0.
    private func resumePositions(_ partitions: [KafkaTopicPartition]) throws -> [KafkaTopicPartition: Int64] {
        var positions: [KafkaTopicPartition: Int64] = [:]
        var anchors: [KafkaTopicPartition: KafkaPartitionAnchor] = [:]
        for partition in partitions {
            guard let position = committed[partition.checkpointKey] else {
                positions[partition] = 0
                continue
            }
            positions[partition] = position + 1
            if let seq = committedSeqs[partition.checkpointKey] { anchors[partition] = KafkaPartitionAnchor(offset: position, seq: seq) }
        }
        let rewritten = try rewrittenPartitions(anchors)
        for (partition, anchor) in anchors {
            if rewritten.contains(partition) {
                positions[partition] = 0
                pendingResets.insert(partition.checkpointKey)
            } else {
                lastRead[partition] = anchor
            }
        }
        return positions
    }

    /// The anchored partitions among `anchors` the broker no longer holds as they were read,
    /// each logged. Throws `.timedOut` when the broker does not answer for one.
    private func rewrittenPartitions(_ anchors: [KafkaTopicPartition: KafkaPartitionAnchor]) throws -> Set<KafkaTopicPartition> {
        let found = try KafkaConsumer.probe(
            anchors.mapValues(\.offset), config: config, timeoutMs: Int(options.requestTimeoutMs), logger: logger, interrupted: { self.isInterrupted })
        var rewritten: Set<KafkaTopicPartition> = []
        for (partition, anchor) in anchors.sorted(by: { $0.key < $1.key }) {
            switch anchor.verdict(found[partition] ?? .unanswered) {
            case .same:
                continue
            case .removed(let next):
                // Reading on from the offset after it: what the broker still holds comes next,
                // and what it removed after the anchor, too, fails as out of range.
                guard removedAnchors[partition] != anchor else { continue }
                removedAnchors[partition] = anchor
                logger.notice("the Kafka message read last was removed by the broker (retention or DeleteRecords: the log starts after it); the partition was not written again", metadata: [
                    "topic": "\(partition.topic)", "partition": "\(partition.partition)", "offset": "\(anchor.offset)", "next": "\(next)",
                ])
            case .unanswered:
                throw KafkaError(code: .timedOut, operation: "check the message read last in \(partition)",
                                 message: "no answer for offset \(anchor.offset) within \(options.requestTimeoutMs) ms")
            case .rewritten(let what):
                logger.warning("Kafka partition written again since it was read (the broker lost it and the relay published it again): reading it again from offset 0", metadata: [
                    "topic": "\(partition.topic)", "partition": "\(partition.partition)", "offset": "\(anchor.offset)",
                    "expected_seq": "\(anchor.seq)", "found": "\(what)",
                ])
                rewritten.insert(partition)
            }
        }
        return rewritten
    }

    /// Checks every assigned partition's last read message and starts the ones written again
    /// over from offset 0 (their checkpoints dropped with the next batch); returns them.
    @discardableResult
    private func startOverRewritten() throws -> Set<KafkaTopicPartition> {
        let rewritten = try rewrittenPartitions(lastRead)
        checkDue = false
        errorsSeen = reader.reportedErrors
        guard !rewritten.isEmpty else { return [] }
        var positions = next
        for partition in rewritten {
            positions[partition] = 0
            lastRead[partition] = nil
            stopped.remove(partition)
            pendingResets.insert(partition.checkpointKey)
        }
        try assign(positions)
        return rewritten
    }

    /// The partitions whose checkpoints to drop, once: they go with the batch being returned.
    private func takeResets() -> [CheckpointKey] {
        defer { pendingResets = [] }
        return pendingResets.sorted()
    }

    private func assign(_ positions: [KafkaTopicPartition: Int64]) throws {
        next = positions
        try reader.assign(positions.map {
            KafkaTopicPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value == 0 ? .beginning : .at($0.value))
        })
        logger.debug("assigned Kafka partitions", metadata: ["partitions": "\(positions.count)"])
    }

    /// Adds partitions that appeared since the last assignment (after their checkpoints, for a
    /// checkpointed topic back on the broker), keeping current positions.
    private func refreshAssignment() throws {
        let found = try discoverPartitions().filter { next[$0] == nil }
        guard !found.isEmpty else { return }
        var positions = next
        for (partition, position) in try resumePositions(found) { positions[partition] = position }
        logger.info("new Kafka partitions to read", metadata: ["partitions": "\(found.map(\.description).joined(separator: ","))"])
        try assign(positions)
    }

    /// A partition that ends before the checkpointed position was written again from
    /// offset 0 (the broker lost it, e.g. an in-memory broker restarted, and the relay
    /// re-published it) or belongs to another broker. Reading on from the checkpoint would
    /// pass over every message until the new offsets reach it while reporting the partition
    /// caught up (Tansu answers a fetch past the end with nothing, not out-of-range).
    /// With a message read last to check (`lastRead`), the next read checks it and starts the
    /// partition over (returns false: not at its end); without one (a checkpoint written
    /// before seqs were recorded) this throws.
    private func checkNotPastEnd(_ partition: KafkaTopicPartition, next offset: Int64) throws -> Bool {
        guard let high = reader.fetchedHighWatermark(partition), offset > high else { return true }
        if lastRead[partition] != nil {
            checkDue = true
            return false
        }
        throw ProjectionError(.checkpointPastSource, operation: "read Kafka", message:
            "partition \(partition) ends at offset \(high), before the checkpointed offset \(offset - 1): the broker lost it and the relay "
            + "published it again (offsets start over), or this is another broker; reading on would pass over its messages. Delete "
            + "the projection's checkpoints of the \(options.naming.prefix).* topics from the schema's projection_checkpoints and run "
            + "again: re-reading from offset 0 is harmless, rows and keys keep the highest seq")
    }

    /// Whether every assigned partition not stopped is read to its end: librdkafka reported
    /// its end, or (for a partition it stays silent about) reads came back empty three times
    /// in a row and the partition's high watermark is not beyond the next offset.
    /// A partition whose end (as fetched) lies before the next offset: see `checkNotPastEnd`.
    private func isAtEnd() throws -> Bool {
        let ends = reader.partitionsAtEnd
        for (partition, offset) in next where !stopped.contains(partition) {
            guard try checkNotPastEnd(partition, next: offset) else { return false }
            if let end = ends[partition], offset >= end { continue }
            guard emptyPolls >= 3 else { return false }
            let high = try highWatermark(partition)
            if offset < high { return false }
        }
        return true
    }
}

extension KafkaTopicPartition {
    /// The checkpoint key of the partition (source = the topic).
    var checkpointKey: CheckpointKey { CheckpointKey(source: topic, partition: Int(partition)) }
}
