import ArgumentParser
import Events
import Foundation
import Kafka
import Logging
import Postgres
import Projections
import Redis

extension ProjectCommand {
    /// `tickfold project status`: where each projection stands.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each projection's checkpoints, lag, row counts and rejects.",
            discussion: """
            Lag of the log source: events after the checkpoint, and the event time between the \
            checkpointed event and the newest logged one. Lag of a Kafka partition: messages \
            after the checkpointed offset up to the broker's high watermark, and the event time \
            between the checkpointed message and the newest one. A projection read from Kafka \
            also lists the partitions of its topics (every PREFIX.* topic) that it never \
            checkpointed: position none (-1 in JSON), their whole content as lag (event time \
            from their oldest message). A Kafka checkpoint whose message (by its seq) is no longer at \
            its offset is named in a note: the broker lost the partition and the relay published \
            it again, and the next `project run --source kafka` reads it again from offset 0. \
            The Redis line says whether the keys a checkpoint covers are \
            still there (the marker each batch writes under the active key prefix): LOST when \
            Redis restarted empty or was flushed, with the replay that rebuilds them.
            """
        )

        @OptionGroup(title: "Connections")
        var connections: ConnectionOptions

        @Option(help: "PostgreSQL schema of the tables and checkpoints.")
        var schema: String = "tickfold"

        @Option(help: "The projector's logical Redis namespace (as given to project run).")
        var namespace: String = ""

        @Flag(help: "Print the status as JSON.")
        var json = false

        func run() async throws {
            let postgres = try connections.postgres()
            let report: StatusReport
            do {
                let connection = try PostgresConnection(postgres.value)
                try Migrator().requireCurrent(connection, schema: schema)
                report = try collect(connection)
            } catch let error as PostgresError {
                throw CLIError("PostgreSQL (connection string from \(postgres.origin)): \(error)")
            } catch let error as ProjectionError {
                throw CLIError("\(error)")
            }
            if json {
                try printJSON(report)
            } else {
                print(render(report))
            }
        }

        private func collect(_ connection: PostgresConnection) throws -> StatusReport {
            let quoted = try PostgresConnection.quoteIdentifier(schema)
            var checkpoints: [String: [(CheckpointKey, Int64)]] = [:]
            var anchors: [String: [CheckpointKey: KafkaPartitionAnchor]] = [:]
            for row in try connection.query("SELECT projection, source, partition, position, seq FROM \(quoted).projection_checkpoints ORDER BY 1, 2, 3").rows {
                guard let name = row[0], let source = row[1], let partition = row[2].flatMap(Int.init), let position = row[3].flatMap(Int64.init) else { continue }
                let key = CheckpointKey(source: source, partition: partition)
                checkpoints[name, default: []].append((key, position))
                if let seq = row[4].flatMap(UInt64.init), key != LogEventSource.checkpointKey {
                    anchors[name, default: [:]][key] = KafkaPartitionAnchor(offset: position, seq: seq)
                }
            }
            var rejects: [String: Int] = [:]
            for row in try connection.query("SELECT projection, count(*) FROM \(quoted).projection_rejects GROUP BY 1").rows {
                if let name = row[0], let count = row[1].flatMap(Int.init) { rejects[name] = count }
            }
            let log = LogView(connections: connections)
            let kafka = KafkaView(connections: connections, needed: checkpoints.values.contains { $0.contains { $0.0.source != LogEventSource.checkpointKey.source } })
            let redis = RedisView(connections: connections, namespace: namespace)
            let batches = try PostgresSink.batchCounts(connection, schema: quoted, projections: ProjectionRegistry.standard.projections.map(\.name))
            var notes = [log.note, redis.note].compactMap { $0 }
            var projections: [ProjectionStatus] = []
            let recorded = ProjectionSwap.versions(inComment: try ProjectionSwap.schemaComment(connection, schema: schema))
            for projection in ProjectionRegistry.standard.projections {
                if let version = recorded[projection.name], version != projection.version {
                    notes.append("schema \(schema) holds \(projection.name)@v\(version), this build runs \(projection.label): "
                        + ProjectionSwap.advice(recorded: version, running: projection.version))
                }
                let tables = projection.tables.map(\.name)
                let counts = try tables.isEmpty ? [] : connection.query(
                    tables.map { "SELECT \(ProjectCommand.sqlLiteral($0)), count(*) FROM \(quoted).\($0)" }.joined(separator: " UNION ALL ")
                ).rows
                // In the projection's table order, whatever order the server answered in.
                var countByTable: [String: Int64] = [:]
                for row in counts {
                    if let table = row[0], let count = row[1].flatMap(Int64.init) { countByTable[table] = count }
                }
                let rows = tables.compactMap { table in countByTable[table].map { TableCount(table: table, rows: $0) } }
                var positions: [PositionStatus] = []
                var kafkaPositions: [CheckpointKey: Int64] = [:]
                for (key, position) in checkpoints[projection.name] ?? [] {
                    if key == LogEventSource.checkpointKey {
                        positions.append(log.status(position))
                        if let last = log.lastSeq, position > Int64(clamping: last) {
                            notes.append("\(projection.name): the checkpoint \(key) = \(position) is past the log's last seq \(last): "
                                + "another log, or one restored from an older copy (`project run` refuses it; rebuild with `tickfold replay --from 1`)")
                        }
                    } else {
                        kafkaPositions[key] = position
                    }
                }
                // A Kafka source reads every partition of its topics, checkpointed or not.
                for key in kafka.partitions(sharingPrefixWith: Array(kafkaPositions.keys)) where kafkaPositions[key] == nil {
                    kafkaPositions[key] = KafkaView.noCheckpoint
                }
                let kafkaStatus = kafkaPositions.sorted(by: { ($0.key.source, $0.key.partition) < ($1.key.source, $1.key.partition) }).map { kafka.status($0.key, $0.value) }
                // One read of the checkpointed messages, for the anchors' check and the event time.
                let toRead = kafka.reachedOffsets(kafkaStatus, anchored: (anchors[projection.name] ?? [:]).keys)
                let reached = toRead.isEmpty ? [:] : kafka.probe(toRead) ?? [:]
                let rewritten = kafka.rewritten(anchors[projection.name] ?? [:], found: reached)
                positions += kafka.withEventTimeLag(kafkaStatus, found: reached, rewritten: Set(rewritten.map(\.0)))
                for (key, found) in rewritten {
                    let anchor = anchors[projection.name]![key]!
                    notes.append("\(projection.name): Kafka partition \(key) was written again since it was read (offset \(anchor.offset) held seq \(anchor.seq), "
                        + "the broker has \(found) there; its lag counts from the old offset): the next `project run --source kafka` reads it again from offset 0")
                }
                let keys = redis.status(
                    projection, hasCheckpoint: !(checkpoints[projection.name] ?? []).isEmpty, batches: batches[projection.name] ?? 0, schema: schema)
                let at = (checkpoints[projection.name] ?? []).map { "\($0.0)=\($0.1)" }.joined(separator: ",")
                if keys.state == RedisKeysState.lost.rawValue {
                    notes.append(RedisKeysLoss.message(projection: projection.name, markerKey: keys.marker, checkpoint: at, schema: schema, namespace: namespace))
                } else if keys.state == RedisKeysState.stale.rawValue {
                    notes.append(RedisKeysLoss.staleMessage(
                        projection: projection.name, markerKey: keys.marker, markerBatch: keys.markerBatch, batches: keys.batches,
                        checkpoint: at, schema: schema, namespace: namespace))
                }
                projections.append(ProjectionStatus(
                    name: projection.name, version: projection.version, positions: positions, rejects: rejects[projection.name] ?? 0, tables: rows,
                    redis: keys))
            }
            notes += [kafka.note, kafka.probeNote].compactMap { $0 }
            for name in checkpoints.keys where ProjectionRegistry.standard.projection(named: name) == nil {
                notes.append("checkpoints of an unknown projection \(name) (another tickfold version?)")
            }
            notes += try replayCopies(connection)
            return StatusReport(schema: schema, logLastSeq: log.lastSeq, notes: notes, projections: projections)
        }

        /// Schemas a replay left beside live: `SCHEMA_r<id>` (a `--to` copy kept for an audit,
        /// or the shadow of a replay that was killed) and `SCHEMA_old_<id>` (a retired copy a
        /// failed clean-up left). Nothing else lists them, and each holds a full copy.
        private func replayCopies(_ connection: PostgresConnection) throws -> [String] {
            let escaped = schema.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "_", with: "\\_").replacingOccurrences(of: "%", with: "\\%")
            let rows = try connection.query(
                // Only schemas holding Tickfold's checkpoint table: a user's `tickfold_reports` is not one.
                """
                SELECT n.nspname FROM pg_namespace n
                WHERE (n.nspname LIKE $1 OR n.nspname LIKE $2)
                  AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'projection_checkpoints')
                ORDER BY 1
                """,
                [escaped + "\\_r%", escaped + "\\_old\\_%"]).rows
            return rows.compactMap { $0[0] }.compactMap { name in
                let rest = name.dropFirst(schema.count + 1)
                let (kind, id) = rest.hasPrefix("old_") ? ("a retired copy a failed clean-up left", rest.dropFirst(4)) : ("a replay copy beside live (kept by --to, or left by a replay that was killed)", rest.dropFirst())
                guard !id.isEmpty, id.allSatisfy({ $0.isLowercase || $0.isNumber }) else { return nil }
                return "schema \(name) is \(kind): `tickfold replay --discard \(id)` drops it and its keys"
            }
        }

        private func render(_ report: StatusReport) -> String {
            var lines = ["schema \(report.schema)" + (report.logLastSeq.map { "; log last seq \($0)" } ?? "")]
            for projection in report.projections {
                lines.append("\(projection.name)@v\(projection.version)")
                if projection.positions.isEmpty { lines.append("  position   none (never run)") }
                for position in projection.positions {
                    var lag = "lag " + (position.lagEvents.map { "\($0) events" } ?? "unknown")
                    if let seconds = position.lagSeconds { lag += String(format: ", %.3f s of event time", seconds) }
                    let at = position.position == KafkaView.noCheckpoint ? "none" : "\(position.position)"
                    lines.append("  position   \(position.source)/\(position.partition) = \(at)   \(lag)")
                }
                lines.append("  redis      " + projection.redis.line)
                lines.append("  rejects    \(projection.rejects)")
                let width = projection.tables.map(\.table.count).max() ?? 0
                for (index, table) in projection.tables.enumerated() {
                    let label = index == 0 ? "  rows       " : "             "
                    lines.append(label + table.table.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(table.rows)")
                }
            }
            for note in report.notes { lines.append("note: \(note)") }
            return lines.joined(separator: "\n")
        }
    }

    /// `text` as an SQL string literal.
    static func sqlLiteral(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}

struct StatusReport: Encodable {
    let schema: String
    let logLastSeq: UInt64?
    let notes: [String]
    let projections: [ProjectionStatus]
}

struct ProjectionStatus: Encodable {
    let name: String
    let version: Int
    let positions: [PositionStatus]
    let rejects: Int
    let tables: [TableCount]
    let redis: RedisKeysStatus
}

/// Whether Redis still holds a projection's keys (`RedisKeysState`, or `unknown` when Redis
/// did not answer).
struct RedisKeysStatus: Encodable {
    /// `fresh`, `present`, `unmarked`, `lost`, `stale` or `unknown`.
    let state: String
    /// The active key prefix (the namespace when Redis did not answer).
    let keyPrefix: String
    /// The full marker key.
    let marker: String
    /// The command that rebuilds lost keys; nil unless `lost` or `stale`.
    @NullWhenAbsent var remedy: String?
    /// The batch count the marker holds; nil without one (absent, or written before counts).
    @NullWhenAbsent var markerBatch: Int64? = nil
    /// PostgreSQL's batch count of the projection (`projection_batches`).
    var batches: Int64 = 0

    /// The text report's line.
    var line: String {
        switch state {
        case "fresh": "no keys expected yet (never run)"
        case "present": "keys present under \"\(keyPrefix)\" (marker \(marker))"
        case "unmarked": "keys present under \"\(keyPrefix)\", marker \(marker) not written yet (the next project run writes it)"
        case "lost": "LOST: marker \(marker) gone, no keys under \"\(keyPrefix)\"; rebuild with `\(remedy ?? "")`"
        case "stale": "STALE: marker \(marker) holds batch \(markerBatch.map(String.init) ?? "?"), the checkpoint is at batch \(batches) "
            + "(Redis restored from an older snapshot); rebuild with `\(remedy ?? "")`"
        default: "unknown (Redis did not answer)"
        }
    }
}

/// Redis as the status command sees it: the active key prefix of the namespace, and each
/// projection's marker. After one failed request the rest are not tried.
private final class RedisView {
    let namespace: String
    private let connection: RedisConnection?
    private var prefix: String?
    private(set) var note: String?

    init(connections: ConnectionOptions, namespace: String) {
        self.namespace = namespace
        do {
            let url = try connections.redisURL()
            let connection = try RedisConnection(url: url.value, clientName: "tickfold-status")
            prefix = try RedisNamespacePointer(namespace: namespace).resolve(connection)
            self.connection = connection
        } catch {
            connection = nil
            note = "Redis keys unknown: \(error)"
        }
    }

    func status(_ projection: any Projection, hasCheckpoint: Bool, batches: Int64, schema: String) -> RedisKeysStatus {
        let marker = RedisLayout.markerKey(projection: projection.name)
        guard let connection, let prefix, note == nil else {
            return RedisKeysStatus(state: "unknown", keyPrefix: namespace, marker: namespace + marker, remedy: nil, batches: batches)
        }
        do {
            // The marker is read once, for the state and for the count it holds.
            let value = try RedisKeysProbe.markerValue(connection, prefix: prefix, projection: projection.name)
            let state = try RedisKeysState.assess(hasCheckpoint: hasCheckpoint, batches: batches) { value } keysExist: {
                try RedisKeysProbe.keysExist(connection, prefix: prefix, projection: projection)
            }
            let held = value.flatMap(RedisLayout.markerBatch)
            return RedisKeysStatus(state: state.rawValue, keyPrefix: prefix, marker: prefix + marker,
                                   remedy: state == .lost || state == .stale ? RedisKeysLoss.remedy(schema: schema, namespace: namespace) : nil,
                                   markerBatch: held, batches: batches)
        } catch {
            note = "Redis keys unknown: \(error)"
            return RedisKeysStatus(state: "unknown", keyPrefix: prefix, marker: prefix + marker, remedy: nil, batches: batches)
        }
    }
}

struct PositionStatus: Encodable {
    let source: String
    let partition: Int
    /// The checkpointed position; -1 for a Kafka partition never checkpointed.
    let position: Int64
    /// Events (log) or messages (Kafka) not yet applied; nil when the source is unreachable.
    @NullWhenAbsent var lagEvents: Int64?
    /// Event time between the checkpointed event (a Kafka partition never checkpointed: its
    /// oldest message) and the newest one; nil when one of them cannot be read.
    @NullWhenAbsent var lagSeconds: Double?
}

struct TableCount: Encodable {
    let table: String
    let rows: Int64
}

/// The log as the status command sees it: its newest seq and event times.
private struct LogView {
    let log: EventLog?
    let lastSeq: UInt64?
    let note: String?

    init(connections: ConnectionOptions) {
        do {
            let opened = try connections.openLog(.readOnly)
            lastSeq = try opened.lastSeq()
            log = opened
            note = nil
        } catch {
            log = nil
            lastSeq = nil
            note = "log lag unknown: \(error)"
        }
    }

    func status(_ position: Int64) -> PositionStatus {
        let key = LogEventSource.checkpointKey
        guard let log, let lastSeq else {
            return PositionStatus(source: key.source, partition: key.partition, position: position, lagEvents: nil, lagSeconds: nil)
        }
        let applied = UInt64(max(position, 0))
        let (lag, seconds) = (try? logLag(applied: applied, in: log)).map { (Int64($0.events), $0.seconds) } ?? (lastSeq > applied ? Int64(lastSeq - applied) : 0, nil)
        return PositionStatus(source: key.source, partition: key.partition, position: position, lagEvents: lag, lagSeconds: seconds)
    }
}

/// The broker as the status command sees it: the partitions of the projector's topics and
/// their watermarks. After one failed request the rest are not tried, so an unreachable broker
/// costs one timeout.
private final class KafkaView {
    /// The position of a partition without a checkpoint: the offset before the first.
    static let noCheckpoint: Int64 = -1

    let admin: KafkaAdmin?
    /// The client settings, for the consumer that reads checkpointed messages.
    private let config: KafkaConfig?
    private(set) var note: String?
    /// Why the messages at checkpoints were not read (the watermarks may still have been).
    private(set) var probeNote: String?
    /// Topic → partition count, read once.
    private var topics: [String: Int]?
    /// Each partition's watermarks, as `status` read them.
    private var marks: [CheckpointKey: (low: Int64, high: Int64)] = [:]
    /// The event time of each partition's newest message, read once for all projections
    /// (nil inside: not an event, or gone).
    private var newest: [CheckpointKey: Timestamp?] = [:]

    init(connections: ConnectionOptions, needed: Bool) {
        guard needed else {
            admin = nil
            config = nil
            return
        }
        do {
            let servers = try connections.kafkaServers()
            let config = KafkaConfig(bootstrapServers: servers.value)
            admin = try KafkaAdmin(config: config)
            self.config = config
        } catch {
            admin = nil
            config = nil
            note = "Kafka lag unknown: \(error)"
        }
    }

    /// What the broker holds at each offset asked, read by a short-lived consumer of its own.
    /// Offsets of partitions the broker does not serve are left out (the source warns about
    /// missing topics itself); nil, with `probeNote`, when a read failed (later ones are not
    /// tried).
    func probe(_ offsets: [CheckpointKey: Int64]) -> [CheckpointKey: KafkaOffsetProbe]? {
        guard let config, note == nil, probeNote == nil else { return nil }
        var served: [KafkaTopicPartition: Int64] = [:]
        for (key, offset) in offsets where (topics?[key.source] ?? 0) > key.partition {
            served[KafkaTopicPartition(topic: key.source, partition: Int32(key.partition))] = offset
        }
        guard !served.isEmpty else { return [:] }
        do {
            let found = try KafkaConsumer.probe(served, config: config, timeoutMs: 3_000, logger: Logger(label: "tickfold.status"))
            return Dictionary(uniqueKeysWithValues: served.keys.map { partition in
                (CheckpointKey(source: partition.topic, partition: Int(partition.partition)), found[partition] ?? .unanswered)
            })
        } catch {
            probeNote = "Kafka messages not read (no event-time lag, no rewrite check): \(error)"
            return nil
        }
    }

    /// The checkpointed partitions whose message read last is no longer at its offset, in
    /// order, with what the broker holds there (see `KafkaPartitionAnchor`); `found` is what a
    /// `probe` of the checkpointed offsets read.
    func rewritten(_ anchors: [CheckpointKey: KafkaPartitionAnchor], found: [CheckpointKey: KafkaOffsetProbe]) -> [(CheckpointKey, String)] {
        anchors.sorted { ($0.key.source, $0.key.partition) < ($1.key.source, $1.key.partition) }.compactMap { key, anchor in
            guard let probed = found[key], case .rewritten(let what) = anchor.verdict(probed) else { return nil }
            return (key, what)
        }
    }

    /// `positions` (of one projection's Kafka partitions, from `status`) with their event-time
    /// lag: the `occurredAt` of the partition's newest message (at the high watermark - 1, as
    /// approximate as the watermark) minus that of the message at the checkpointed offset, or
    /// of the oldest message held for a partition never checkpointed; never below 0 (event
    /// time is not ordered by offset). `found` is what a `probe` of `reachedOffsets` read. Nil
    /// when a message is gone or is not an event, and for the `rewritten` partitions (their
    /// checkpointed offset holds another event now).
    func withEventTimeLag(_ positions: [PositionStatus], found: [CheckpointKey: KafkaOffsetProbe], rewritten: Set<CheckpointKey>) -> [PositionStatus] {
        let behind = positions.filter { ($0.lagEvents ?? 0) > 0 }.map { CheckpointKey(source: $0.source, partition: $0.partition) }
        let unread = behind.filter { newest[$0] == nil }
        if !unread.isEmpty, let probed = probe(Dictionary(uniqueKeysWithValues: unread.compactMap { key in marks[key].map { (key, $0.high - 1) } })) {
            for key in unread { newest[key] = Self.occurredAt(probed[key]) }
        }
        return positions.map { position in
            let key = CheckpointKey(source: position.source, partition: position.partition)
            var seconds: Double?
            switch position.lagEvents {
            case _ where rewritten.contains(key), nil: seconds = nil
            case 0: seconds = 0
            default:
                if let newest = newest[key] ?? nil, let reached = Self.occurredAt(found[key]) {
                    seconds = Double(max(0, newest.millisecondsSinceEpoch - reached.millisecondsSinceEpoch)) / 1000
                }
            }
            return PositionStatus(source: position.source, partition: position.partition, position: position.position, lagEvents: position.lagEvents, lagSeconds: seconds)
        }
    }

    /// The offsets to read for `withEventTimeLag` and `rewritten`: the checkpointed offset of
    /// each partition behind or `anchored` (the anchor check needs that very offset; a message
    /// retention removed has no event time), and the oldest held for one never checkpointed.
    func reachedOffsets(_ positions: [PositionStatus], anchored: some Collection<CheckpointKey>) -> [CheckpointKey: Int64] {
        var offsets: [CheckpointKey: Int64] = [:]
        for position in positions {
            let key = CheckpointKey(source: position.source, partition: position.partition)
            guard (position.lagEvents ?? 0) > 0 || anchored.contains(key) else { continue }
            if position.position != Self.noCheckpoint {
                offsets[key] = position.position
            } else if let low = marks[key]?.low {
                offsets[key] = low
            }
        }
        return offsets
    }

    private static func occurredAt(_ probed: KafkaOffsetProbe?) -> Timestamp? {
        guard case .message(let record)? = probed else { return nil }
        return try? Event.decode(record.value, verification: .trustStored).occurredAt
    }

    /// Every partition of the topics a Kafka source with these checkpoints reads: all topics
    /// `PREFIX.*` for each prefix of the checkpointed topics (`PREFIX.<family>`), as the source
    /// discovers them. Empty when the broker does not answer (the note says so).
    func partitions(sharingPrefixWith checkpointed: [CheckpointKey]) -> [CheckpointKey] {
        let prefixes = Set(checkpointed.compactMap { key in key.source.lastIndex(of: ".").map { key.source[...$0] } })
        guard !prefixes.isEmpty, let admin, note == nil else { return [] }
        if topics == nil {
            do {
                var counts: [String: Int] = [:]
                for topic in try admin.metadata(timeoutMs: 3_000).topics where topic.error == nil { counts[topic.name] = topic.partitionCount }
                topics = counts
            } catch {
                note = "Kafka lag unknown: \(error)"
                return []
            }
        }
        var keys: [CheckpointKey] = []
        for (topic, count) in topics ?? [:] where prefixes.contains(where: { topic.hasPrefix($0) }) {
            keys += (0..<count).map { CheckpointKey(source: topic, partition: $0) }
        }
        return keys
    }

    /// `position` is the last applied offset (``noCheckpoint`` for none): the lag is what the
    /// partition holds after it, never counting messages the broker no longer keeps.
    func status(_ key: CheckpointKey, _ position: Int64) -> PositionStatus {
        var lag: Int64?
        if let admin, note == nil {
            do {
                let read = try marks[key] ?? admin.watermarks(topic: key.source, partition: Int32(key.partition), timeoutMs: 3_000)
                marks[key] = read
                lag = max(read.high - max(read.low, position + 1), 0)
            } catch {
                note = "Kafka lag unknown: \(error)"
            }
        }
        return PositionStatus(source: key.source, partition: key.partition, position: position, lagEvents: lag, lagSeconds: nil)
    }
}
