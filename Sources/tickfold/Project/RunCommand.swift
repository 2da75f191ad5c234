import ArgumentParser
import Events
import Foundation
import Kafka
import Logging
import Projections
import Synchronization
import Telemetry

extension ProjectCommand {
    /// `tickfold project run`: the projector service.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fold events into the PostgreSQL tables and Redis keys, resuming from the checkpoints.",
            discussion: """
            Reads the LMDB log (--source log, the default) or the relay's Kafka topics \
            (--source kafka: every partition of PREFIX.<family>, manually assigned, from the \
            checkpointed offsets). Each batch's rows, rejects and checkpoint commit in one \
            PostgreSQL transaction. Without --follow it stops once caught up. SIGTERM or SIGINT: \
            finish the batch in hand, checkpoint, exit 0. Progress goes to standard error as \
            structured log lines. When Redis lost the keys a checkpoint says were written (a \
            restart without persistence, FLUSHDB; checked at start and with every batch) it \
            stops with exit status 3 and names the `tickfold replay --from 1` that rebuilds them.
            """
        )

        enum SourceKind: String, ExpressibleByArgument, CaseIterable {
            case log
            case kafka
        }

        @OptionGroup(title: "Connections")
        var connections: ConnectionOptions

        @Option(help: "Where events come from: log or kafka.")
        var source: SourceKind = .log

        @Option(name: .customLong("projection"), help: "A projection to run (repeatable; default: all).")
        var projections: [String] = []

        @Flag(help: "Keep following the source after catching up.")
        var follow = false

        @Option(help: "PostgreSQL schema of the tables and checkpoints.")
        var schema: String = "tickfold"

        @Option(help: "Prefix of every Redis key and channel written (e.g. `replay1:`).")
        var namespace: String = ""

        @Option(help: "Stop after applying this seq.")
        var to: UInt64?

        @Option(name: .customLong("min-batch"), help: "Smallest batch (events per transaction).")
        var minBatch = 256

        @Option(name: .customLong("max-batch"), help: "Largest batch (events per transaction).")
        var maxBatch = 50_000

        @Option(name: .customLong("progress-every"), help: "Seconds between progress log lines.")
        var progressEvery: Double = 5

        @Flag(help: "Print the final summary as JSON.")
        var json = false

        @OptionGroup(title: "Telemetry")
        var telemetryOptions: TelemetryOptions

        func validate() throws {
            guard minBatch > 0, minBatch <= maxBatch else { throw ValidationError("need 0 < --min-batch <= --max-batch") }
            guard progressEvery > 0 else { throw ValidationError("--progress-every must be positive") }
        }

        func run() async throws {
            // Installed first, so a signal during start-up is also a graceful stop.
            let shutdown = ShutdownSignal()
            let logger = Logger(label: "tickfold.projector")
            defer { shutdown.logStop(logger) }  // first in, so it runs last
            let selected: [any Projection]
            do {
                selected = projections.isEmpty ? ProjectionRegistry.standard.projections : try ProjectionRegistry.standard.select(projections)
            } catch {
                throw ValidationError("\(error)")
            }
            // A following projector is a service: it waits out a PostgreSQL, Redis or Kafka outage
            // (retrying with backoff, logging each attempt) until the server is back or it
            // is asked to stop. A one-shot run gives up after the standard retries.
            let telemetry = try ServiceTelemetry(telemetryOptions, logger: logger)
            defer { telemetry.stop() }
            let interruption = RetryInterruption()
            var retry = follow ? RetryPolicy.unbounded(interruption: interruption) : .standard
            let retries = telemetry.registry.counter("tickfold_projector_retries_total", help: "PostgreSQL and Redis failures retried.")
            retry.observer = { [health = telemetry.health] operation, attempt, error in
                retries.increment()
                health.update(.degraded(reason: "\(operation) failed, retrying (attempt \(attempt)): \(error)"))
            }
            let sinkRetry = retry
            guard let engine = try await Self.waitingForStop(shutdown, interruption, logger: logger, {
                try ProjectCommand.engine(connections: connections, projections: selected, schema: schema, namespace: namespace, retry: sinkRetry)
            }) else { return }
            let eventSource = try makeSource(interruption: interruption, logger: logger)
            var options = Projector.Options(
                follow: follow, stopAfter: to,
                batch: BatchSizing(minimum: minBatch, maximum: maxBatch, initial: minBatch),
                progressInterval: .milliseconds(Int64(progressEvery * 1000)))
            options.onProgress = ProjectorMetrics(telemetry, source: eventSource).record
            // The Kafka source's broker is waited out like the sinks' servers.
            options.sourceRetry = retry
            let projector = Projector(engine: engine, source: eventSource, options: options, logger: logger)
            let result: ProjectorRun
            do {
                result = try await withThrowingTaskGroup(of: ProjectorRun?.self) { group in
                    group.addTask { try await projector.run() }
                    group.addTask {
                        try await shutdown.wait()
                        projector.requestStop()
                        interruption.interrupt()
                        return nil
                    }
                    defer { group.cancelAll() }
                    while let next = try await group.next() {
                        if let run = next { return run }
                    }
                    throw CancellationError()
                }
            } catch let error as ProjectionError {
                if shutdown.isRequested {
                    // Stopped while a server was unreachable: nothing uncommitted is lost, the
                    // next run resumes from the checkpoint.
                    logger.warning("projector stopped while retrying", metadata: ["error": "\(error)"])
                    print("projector stopped while retrying (\(error)); resumes from the committed checkpoint")
                    return
                }
                if error.code == .redisKeysLost {
                    // Its own exit status, so a supervisor can tell "rebuild the keys" apart.
                    printError("error: \(error)")
                    throw ExitCode(ProjectCommand.keysLostStatus)
                }
                throw CLIError("\(error)")
            }
            print(summary(result))
        }

        /// Runs the blocking `body` (connecting the sinks, which may wait for a server) on a
        /// thread of its own, and interrupts its retries once a stop is requested; nil when
        /// the stop ended it (nothing was started, so there is nothing to checkpoint).
        private static func waitingForStop<T: Sendable>(
            _ shutdown: ShutdownSignal, _ interruption: RetryInterruption, logger: Logger, _ body: @escaping @Sendable () throws -> T
        ) async throws -> T? {
            let watcher = Task {
                try await shutdown.wait()
                interruption.interrupt()
            }
            defer { watcher.cancel() }
            do {
                return try await withCheckedThrowingContinuation { continuation in
                    Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
                }
            } catch where shutdown.isRequested {
                logger.warning("projector stopped before it started", metadata: ["error": "\(error)"])
                print("projector stopped before it started (\(error))")
                return nil
            }
        }

        private func makeSource(interruption: RetryInterruption, logger: Logger) throws -> any ProjectorSource {
            switch source {
            case .log:
                return LogEventSource(log: try connections.openLog(.readOnly))
            case .kafka:
                let servers = try connections.kafkaServers()
                let prefix = try connections.topicPrefix().value
                do {
                    return try KafkaEventSource(
                        kafka: KafkaConfig(bootstrapServers: servers.value),
                        options: KafkaEventSource.Options(naming: TopicNaming(prefix: prefix), interruption: interruption), logger: logger)
                } catch {
                    throw CLIError("Kafka at \(servers): \(error)")
                }
            }
        }

        private func summary(_ run: ProjectorRun) -> String {
            let progress = run.progress
            let positions = progress.positions.sorted { $0.key < $1.key }
            if json {
                let fields = positions.map { "{\"partition\":\($0.key.partition),\"position\":\($0.value),\"source\":\(ProjectCommand.jsonString($0.key.source))}" }
                return "{\"events\":\(progress.events),\"invalidMessages\":\(progress.invalidMessages),\"lastSeq\":\(progress.lastSeq.map(String.init) ?? "null"),"
                    + "\"positions\":[\(fields.joined(separator: ","))],\"reason\":\"\(run.reason.rawValue)\",\"rejects\":\(progress.rejects),"
                    + "\"rowsWritten\":\(progress.rowsWritten),\"schema\":\(ProjectCommand.jsonString(schema))}"
            }
            let at = positions.isEmpty ? "nothing to read" : positions.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return "projected \(progress.events) events in \(progress.batches) batches (\(run.reason.rawValue)); "
                + "\(progress.rowsWritten) rows written, \(progress.rejects) rejects; at \(at)"
        }
    }

    /// The engine of `projections` writing to `schema` and the Redis `namespace`.
    static func engine(
        connections: ConnectionOptions, projections: [any Projection], schema: String, namespace: String, retry: RetryPolicy = .standard
    ) throws -> ProjectionEngine {
        let postgres = try connections.postgres()
        let redisURL = try connections.redisURL()
        let tables = projections.flatMap(\.tables)
        let postgresSink: PostgresSink
        do {
            postgresSink = try PostgresSink(conninfo: postgres.value, schema: schema, tables: tables, retry: retry)
        } catch {
            throw CLIError("PostgreSQL (connection string from \(postgres.origin)): \(error)")
        }
        let redisSink: RedisSink
        do {
            redisSink = try RedisSink(url: redisURL.value, namespace: namespace, retry: retry)
        } catch {
            throw CLIError("Redis (URL from \(redisURL.origin)): \(error)")
        }
        return ProjectionEngine(projections: projections, postgres: postgresSink, redis: redisSink)
    }
}

/// The projector's metrics: counters advanced from its progress reports, the position, and
/// the lag computed when scraped.
private final class ProjectorMetrics: Sendable {
    private let events: Counter
    private let batches: Counter
    private let rows: Counter
    private let rejects: Counter
    private let invalid: Counter
    private let position: Gauge
    private let batchSize: Gauge
    private let caughtUp: Gauge
    private let health: HealthState
    /// The last cumulative figures seen, to turn them into counter increments.
    private let last = Mutex((events: 0, batches: 0, rows: 0, rejects: 0, invalid: 0))
    private let applied = Atomic<UInt64>(0)

    init(_ telemetry: ServiceTelemetry, source: any ProjectorSource) {
        let registry = telemetry.registry
        events = registry.counter("tickfold_projector_events_total", help: "Events folded and committed.")
        batches = registry.counter("tickfold_projector_batches_total", help: "Batches committed.")
        rows = registry.counter("tickfold_projector_rows_written_total", help: "PostgreSQL rows written.")
        rejects = registry.counter("tickfold_projector_rejects_total", help: "Events a fold could not apply (projection_rejects).")
        invalid = registry.counter("tickfold_projector_invalid_messages_total", help: "Kafka messages rejected as not genuine events.")
        position = registry.gauge("tickfold_projector_position_seq", help: "The last committed seq.")
        batchSize = registry.gauge("tickfold_projector_batch_size", help: "Events per batch, as currently sized.")
        caughtUp = registry.gauge("tickfold_projector_caught_up", help: "1 when the last read reached the source's end.")
        health = telemetry.health
        if let log = (source as? LogEventSource)?.log {
            telemetry.gauge("tickfold_projector_lag_events", help: "Events in the log not yet committed.") { [self] in
                let last = try log.lastSeq()
                return Double(last - min(last, applied.load(ordering: .relaxed)))
            }
            telemetry.gauge("tickfold_projector_lag_seconds", help: "Event time between the log's newest event and the last committed one.") { [self] in
                try logLag(applied: applied.load(ordering: .relaxed), in: log).seconds
            }
        } else {
            telemetry.gauge("tickfold_projector_lag_events", help: "Messages in the source not yet read.") {
                try source.backlog().map { Double($0) }
            }
        }
    }

    func record(_ progress: ProjectorProgress) {
        let increments = last.withLock { last in
            defer { last = (progress.events, progress.batches, progress.rowsWritten, progress.rejects, progress.invalidMessages) }
            return (progress.events - last.events, progress.batches - last.batches, progress.rowsWritten - last.rows,
                    progress.rejects - last.rejects, progress.invalidMessages - last.invalid)
        }
        events.increment(by: UInt64(max(0, increments.0)))
        batches.increment(by: UInt64(max(0, increments.1)))
        rows.increment(by: UInt64(max(0, increments.2)))
        rejects.increment(by: UInt64(max(0, increments.3)))
        invalid.increment(by: UInt64(max(0, increments.4)))
        if let seq = progress.lastSeq {
            position.set(Double(seq))
            applied.store(seq, ordering: .relaxed)
        }
        batchSize.set(Double(progress.batchSize))
        caughtUp.set(progress.caughtUp ? 1 : 0)
        // A committed batch means both servers answered.
        health.update(.healthy)
    }
}
