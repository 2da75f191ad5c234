import ArgumentParser
import Events
import Foundation
import Kafka
import Projections
import Replay

/// `tickfold replay --from POSITION [--to POSITION] [--projection NAME…] [--dry-run] [--id ID]`,
/// and `tickfold replay --discard ID`.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Rebuild projections from the log beside the live ones, then swap them in atomically.",
        discussion: """
        POSITION is a seq (42), an RFC 3339 time (2025-03-14T20:00:00Z: the first event that \
        occurred at or after it) or kafka:TOPIC:PARTITION:OFFSET (the seq in that message's \
        header).

        The rebuild goes into a shadow schema (SCHEMA_r<id>) and a shadow key prefix \
        (tickfold:ns:<id>:) while the live projection keeps serving and advancing. Once it has \
        caught up with the log, it takes the live schema's swap lock (live batches wait), folds \
        the last events, renames the schemas in one transaction, points the Redis namespace \
        pointer at the new keys, and drops the old copy.

        --from 1 rebuilds everything. --from N (N > 1) refolds the affected keys: live rows and \
        keys last written before N are copied, everything written from N on is refolded from \
        the events N… (exact when events before N fold as they did when live wrote them).

        --to POSITION builds the projection as of that position (needs --from 1) and keeps it \
        beside the live one for `tickfold audit diff`; nothing is swapped. --id names it \
        (SCHEMA_r<id>); --discard ID drops it (schema and keys) once audited.

        A new projection version is deployed the same way: run this build's replay --from 1, \
        then restart the projector with this build (the old one refuses the new schema).
        """)

    @OptionGroup(title: "Connections") var connections: ConnectionOptions

    @Option(name: .long, help: ArgumentHelp("Where to start: seq, RFC 3339 time or kafka:TOPIC:PARTITION:OFFSET.", valueName: "position"))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("Build the state as of this position and keep it beside live (no swap).", valueName: "position"))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("Projection to rebuild (repeatable); default and only supported set: all registered.", valueName: "name"))
    var projection: [String] = []

    @Flag(name: .long, help: "Print what would be done and change nothing.")
    var dryRun = false

    @Option(name: .long, help: "The live schema.")
    var schema = "tickfold"

    @Option(name: .long, help: "The live projector's logical Redis namespace.")
    var namespace = ""

    @Flag(name: .long, help: "Rebuild PostgreSQL only (keys are left alone).")
    var noRedis = false

    @Option(name: .long, help: "Events per folded batch.")
    var batchSize = 50_000

    @Option(name: .long, help: "Seconds the swap waits for the live projector's batch to release the swap lock.")
    var lockTimeout = 30.0

    @Option(name: .long, help: ArgumentHelp("Name of the shadow copy (SCHEMA_r<id>, tickfold:ns:<id>:): lowercase letters and digits; default: a fresh one.", valueName: "id"))
    var id: String?

    @Option(name: .long, help: ArgumentHelp("Drop the copy a --to replay kept (schema and keys), or the retired schema a failed clean-up left, and exit.", valueName: "id"))
    var discard: String?

    @Flag(name: .long, help: "Print one JSON object: the plan, and what the replay did (null for --dry-run).")
    var json = false

    func validate() throws {
        switch (from, discard) {
        case (nil, nil): throw ValidationError("give --from POSITION to replay, or --discard ID to drop a kept copy")
        case (.some, .some): throw ValidationError("--discard drops a kept copy and replays nothing: it takes no --from")
        default: break
        }
    }

    func run() async throws {
        let registry = ProjectionRegistry.standard
        let names = projection.isEmpty ? registry.projections.map(\.name) : projection
        let projections: [any Projection]
        do { projections = try registry.select(names) } catch { throw CLIError("\(error)") }
        guard projections.count == registry.projections.count else {
            throw CLIError("replaying a subset of projections is not supported: they share the schema and key namespace that a replay swaps; replay all of \(registry.projections.map(\.name).joined(separator: ", "))")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard lockTimeout > 0 else { throw ValidationError("--lock-timeout must be positive") }
        let fromPosition: ReplayPosition
        let toPosition: ReplayPosition?
        do {
            fromPosition = try ReplayPosition(parsing: from ?? "1")
            toPosition = try to.map { try ReplayPosition(parsing: $0) }
        } catch { throw ValidationError("\(error)") }

        let log = try connections.openLog(.readOnly)
        var options = ReplayOptions(
            conninfo: try connections.postgres().value, redisURL: noRedis ? nil : try connections.redisURL().value,
            projections: projections)
        options.schema = schema
        options.namespace = namespace
        options.batchSize = batchSize
        if let id { options.id = id }
        let shutdown = ShutdownSignal()
        options.shouldStop = { shutdown.isRequested }
        options.lockTimeout = .milliseconds(Int64(lockTimeout * 1000))
        let kafkaServers = try connections.kafkaServers().value
        let dryRun = dryRun
        let interactive = isatty(2) == 1
        let jobOptions = options
        if let discard {
            let jobOptions = options
            try await runBlocking {
                let result = try Replayer(log: log, options: jobOptions).discard(id: discard)
                if json {
                    try printJSON(ReplayDiscardJSON(id: discard, droppedSchemas: result.droppedSchemas, droppedKeys: result.droppedKeys))
                } else {
                    print(describe(result, id: discard))
                }
            }
            return
        }
        try await runBlocking {
            let resolver = ReplayPositionResolver(log: log) { topic, partition, offset in
                try kafkaSeq(servers: kafkaServers, topic: topic, partition: partition, offset: offset)
            }
            let first = try resolver.first(fromPosition)
            let last = try toPosition.map { try resolver.last($0) }
            let replayer = try Replayer(log: log, options: jobOptions)
            let plan = try replayer.plan(from: first, through: last)
            if !json {
                print(describe(plan, dryRun: dryRun))
                // The plan names the shadow (its id is what `--discard` needs after a kill -9): it
                // must reach a file or pipe now, not when the buffer fills or the process ends.
                fflush(nil)
            }
            guard !dryRun else {
                if json { try printJSON(ReplayReportJSON(dryRun: true, plan: plan, result: nil)) }
                return
            }
            let meter = ProgressMeter(interactive: interactive)
            let result = try replayer.run(plan) { meter.show($0) }
            meter.finish()
            if json {
                try printJSON(ReplayReportJSON(dryRun: false, plan: plan, result: result))
            } else {
                print(summarize(result))
            }
        }
    }
}

/// The seq header of the message at `offset`, read with a manually assigned consumer.
private func kafkaSeq(servers: String, topic: String, partition: Int32, offset: Int64) throws -> UInt64 {
    let reader = try KafkaEventReader(kafka: KafkaConfig(bootstrapServers: servers, ["enable.partition.eof": "true"]))
    try reader.assign([KafkaTopicPartitionOffset(topic: topic, partition: partition, offset: .at(offset))])
    let deadline = ContinuousClock.now + .seconds(15)
    while ContinuousClock.now < deadline {
        for message in try reader.poll(max: 1, timeoutMs: 500) where message.offset == offset {
            switch message.outcome {
            case .event(let event):
                guard let seq = event.seq else { throw CLIError("kafka:\(topic):\(partition):\(offset) carries no seq") }
                return seq
            case .rejected(let reason):
                throw CLIError("kafka:\(topic):\(partition):\(offset) is not a Tickfold event: \(reason)")
            }
        }
        if let end = reader.partitionsAtEnd[KafkaTopicPartition(topic: topic, partition: partition)], end <= offset {
            throw CLIError("kafka:\(topic):\(partition):\(offset): the partition ends at offset \(end)")
        }
    }
    throw CLIError("kafka:\(topic):\(partition):\(offset): no message within 15 s (broker \(servers))")
}

private func describe(_ plan: ReplayPlan, dryRun: Bool) -> String {
    var lines = [dryRun ? "dry run: nothing is changed" : "replay \(plan.projections.joined(separator: ", "))"]
    lines.append("  projections:   \(plan.projections.joined(separator: ", "))" + (plan.liveVersions.isEmpty ? "" : " (live: \(plan.liveVersions.sorted { $0.key < $1.key }.map { "\($0.key)@v\($0.value)" }.joined(separator: ", ")))"))
    let end = plan.through.map { "seq \($0)" } ?? "the log head (seq \(plan.head) now), then swap"
    lines.append("  fold:          seq \(plan.foldFrom) to \(end): \(plan.events) events")
    if let below = plan.copyBelow {
        lines.append("  copy:          live rows and keys last written before seq \(below)")
    }
    lines.append("  live:          schema \(plan.liveSchema)" + (plan.liveSchemaExists ? "" : " (does not exist yet)") + (plan.liveCheckpoint.map { ", checkpoint seq \($0)" } ?? ", no log checkpoint"))
    lines.append("  shadow:        schema \(plan.shadowSchema)")
    if let live = plan.liveKeyPrefix, let shadow = plan.shadowKeyPrefix, let pointer = plan.pointerKey {
        lines.append("  keys:          \"\(live)\" -> \"\(shadow)\" (pointer \(pointer))")
    }
    if plan.swaps {
        lines.append("  swap:          \(plan.liveSchema) -> \(plan.retiredSchema) (dropped), \(plan.shadowSchema) -> \(plan.liveSchema)")
    } else {
        lines.append("  no swap:       the shadow is kept for `tickfold audit diff pg:\(plan.liveSchema) pg:\(plan.shadowSchema)`")
    }
    for note in plan.notes { lines.append("  note:          \(note)") }
    return lines.joined(separator: "\n")
}

private func describe(_ result: ReplayDiscardResult, id: String) -> String {
    guard !result.droppedSchemas.isEmpty || result.droppedKeys > 0 else { return "nothing kept by replay \(id)" }
    let schemas = result.droppedSchemas.isEmpty ? "no schema" : "schema " + result.droppedSchemas.joined(separator: ", ")
    return "discarded replay \(id): dropped \(schemas) and \(result.droppedKeys) keys"
}

private func summarize(_ result: ReplayResult) -> String {
    var line = "folded \(result.folded) events in \(String(format: "%.1f", result.seconds)) s (\(Int(Double(result.folded) / max(result.seconds, 0.001))) events/s)"
    if result.copiedRows + result.copiedKeys > 0 { line += "; copied \(result.copiedRows) rows and \(result.copiedKeys) keys" }
    if let at = result.swappedAt {
        line += "; swapped in at seq \(at) as \(result.plan.liveSchema)"
        if let prefix = result.plan.shadowKeyPrefix { line += " and keys \"\(prefix)\"" }
        line += "; dropped \(result.plan.retiredSchema) and \(result.droppedKeys) old keys"
    } else {
        line += "; kept schema \(result.plan.shadowSchema)" + (result.plan.shadowKeyPrefix.map { " and keys \"\($0)\"" } ?? "")
    }
    return line
}

/// Progress on standard error: a redrawn bar on a terminal, a plain line every 5 s otherwise.
/// `@unchecked Sendable`: called only from the replay's one thread.
private final class ProgressMeter: @unchecked Sendable {
    let interactive: Bool
    private var lastShown = ContinuousClock.now - .seconds(60)
    private var lastPhase: ReplayProgress.Phase?
    private var drawn = false

    init(interactive: Bool) { self.interactive = interactive }

    func show(_ progress: ReplayProgress) {
        let now = ContinuousClock.now
        let interval: Duration = interactive ? .milliseconds(200) : .seconds(5)
        guard progress.phase != lastPhase || now - lastShown >= interval else { return }
        lastShown = now
        lastPhase = progress.phase
        let rate = "\(Int(progress.eventsPerSecond)) events/s"
        let eta = progress.eta.map { "ETA \(Self.duration($0))" } ?? "ETA –"
        if interactive {
            let width = 30
            let fraction = progress.target > 0 ? min(1, Double(progress.folded) / Double(progress.target)) : 1
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1b}[K[\(bar)] \(progress.folded)/\(progress.target) \(rate) \(eta) \(progress.phase.rawValue)".utf8))
            drawn = true
        } else {
            printError("replay: \(progress.phase.rawValue): \(progress.folded)/\(progress.target) events, \(rate), \(eta)")
        }
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 60 ? "\(total / 60)m\(String(format: "%02d", total % 60))s" : "\(total)s"
    }
}

/// Runs blocking `body` on its own thread, never on the cooperative pool.
private func runBlocking(_ body: @escaping @Sendable () throws -> Void) async throws {
    let result: Result<Void, any Error> = await withCheckedContinuation { continuation in
        let thread = Thread {
            do {
                try body()
                continuation.resume(returning: .success(()))
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        thread.stackSize = 4 << 20
        thread.start()
    }
    do { try result.get() } catch { throw CLIError("\(error)") }
}
