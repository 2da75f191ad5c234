import ArgumentParser
import Events
import Kafka
import Foundation
import Logging
import Telemetry

/// `tickfold relay`: publishes the event log to Kafka.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Publish the event log to Kafka in seq order, resuming from its checkpoint.",
        discussion: """
            Runs beside the process that appends (it takes no writer lock) and keeps its checkpoint \
            in the log's LMDB environment. When the broker lost acknowledged events (a restarted \
            in-memory broker, a deleted topic), the affected topics are published again. \
            SIGTERM or SIGINT: finish the step, wait for acknowledgements, checkpoint, exit 0.
            """)

    @OptionGroup(title: "Connections") var connection: ConnectionOptions

    @Flag(help: "One pass to the end of the log, then exit.")
    var once = false

    @Option(help: "Partitions of topics the relay creates.")
    var partitions = 6

    @Option(help: "Replication factor of topics the relay creates; -1 takes the broker's default.replication.factor.")
    var replicationFactor = -1

    @Option(name: .customLong("topic-config"), help: ArgumentHelp(
        "A topic-level setting of topics the relay creates, as KEY=VALUE (repeatable).",
        discussion: "Defaults: retention.ms=-1, retention.bytes=-1 (keep every message); a KEY given here replaces its default."))
    var topicConfig: [String] = []

    @Flag(help: "Print the final summary as JSON.")
    var json = false

    @OptionGroup(title: "Telemetry")
    var telemetryOptions: TelemetryOptions

    func run() async throws {
        // Installed first, so a signal during start-up is also a graceful stop.
        let shutdown = ShutdownSignal()
        let logger = Logger(label: "tickfold.relay")
        defer { shutdown.logStop(logger) }  // first in, so it runs last
        guard (1...Int(Int32.max)).contains(partitions) else {
            throw ValidationError("--partitions must be between 1 and \(Int32.max)")
        }
        guard replicationFactor == -1 || (1...Int(Int16.max)).contains(replicationFactor) else {
            throw ValidationError("--replication-factor must be -1 (the broker's default) or between 1 and \(Int16.max)")
        }
        let topicSettings = try Self.topicSettings(topicConfig)
        let log = try connection.openLog(.checkpointer)
        let servers = try connection.kafkaServers()
        let prefix = try connection.topicPrefix().value
        let telemetry = try ServiceTelemetry(telemetryOptions, logger: logger)
        defer { telemetry.stop() }
        let checkpointName = "relay/\(prefix)"
        telemetry.gauge("tickfold_relay_checkpoint_seq", help: "Every seq up to this one is acknowledged by the broker.") {
            try log.checkpoint(named: checkpointName).map { Double($0) } ?? 0
        }
        telemetry.gauge("tickfold_relay_log_last_seq", help: "The log's newest seq.") { Double(try log.lastSeq()) }
        telemetry.gauge("tickfold_relay_lag_events", help: "Events in the log not yet acknowledged by the broker.") {
            let last = try log.lastSeq()
            return Double(last - min(last, try log.checkpoint(named: checkpointName) ?? 0))
        }
        let failuresTotal = telemetry.registry.counter("tickfold_relay_failures_total", help: "Relay passes that failed (broker unreachable, delivery refused) and were retried.")
        var options = KafkaRelay.Options(naming: TopicNaming(prefix: prefix), partitions: partitions)
        options.replicationFactor = replicationFactor
        options.topicConfig = topicSettings
        options.onCheckpoint = { [health = telemetry.health] _ in health.update(.healthy) }
        var total = KafkaRelay.Report()
        var stoppedWhileFailing = false
        var failures = 0
        // Stopped while failing: the failed relay checkpointed what the broker acknowledged.
        func stopWhileFailing(_ error: any Error) throws {
            logger.warning("relay stopped while the broker was failing", metadata: ["error": "\(error)"])
            total.checkpoint = try log.checkpoint(named: checkpointName) ?? 0
            stoppedWhileFailing = true
        }
        while true {
            let attemptStarted = ContinuousClock.now
            do {
                // A fresh relay (and producer) per attempt: a failed one may hold a fatal
                // producer error or undeliverable messages; the checkpoint is where it resumes.
                let relay = try KafkaRelay(log: log, kafka: KafkaConfig(bootstrapServers: servers.value), options: options, logger: logger)
                let report = try await relay.run(following: !once, until: { shutdown.isRequested })
                total.published += report.published
                total.republished += report.republished
                total.lostTopics = Array(Set(total.lostTopics).union(report.lostTopics)).sorted()
                total.checkpoint = report.checkpoint
                // Stopped in a wait on a broker that had already failed this run: a stop while failing too.
                stoppedWhileFailing = report.stoppedWhileWaiting && failures > 0
                break
            } catch let error as EventLogError {
                throw CLIError("relay: \(error)")
            } catch {
                // The broker is down or refused a delivery. A one-shot pass reports it; a
                // following relay (a service) waits and tries again, as SPEC §10 asks.
                guard !once else { throw CLIError("relay to Kafka at \(servers): \(error)") }
                if shutdown.isRequested {
                    try stopWhileFailing(error)
                    break
                }
                // A relay that ran a while before failing starts its backoff over.
                failures = ContinuousClock.now - attemptStarted > .seconds(60) ? 1 : failures + 1
                failuresTotal.increment()
                telemetry.health.update(.degraded(reason: "relay failed, retrying (attempt \(failures)): \(error)"))
                let delay = RelayBackoff.delay(afterFailure: failures)
                logger.warning("relay failed; retrying", metadata: [
                    "error": "\(error)", "attempt": "\(failures)", "retryInMs": "\(delay.wholeMilliseconds)",
                ])
                try await shutdown.wait(atMost: delay)
                if shutdown.isRequested {
                    try stopWhileFailing(error)
                    break
                }
            }
        }
        if json {
            try printJSON(RelaySummary(
                published: total.published, republished: total.republished, lostTopics: total.lostTopics,
                checkpoint: total.checkpoint, stoppedWhileFailing: stoppedWhileFailing))
            return
        }
        var line = "relayed \(total.published) events; checkpoint \(total.checkpoint)"
        if !total.lostTopics.isEmpty {
            line += "; broker had lost \(total.lostTopics.joined(separator: ", ")): \(total.republished) re-published"
        }
        print(line)
    }
}

/// `tickfold relay --json`: what the run published, and the checkpoint it left.
private struct RelaySummary: Encodable {
    let published: Int
    let republished: Int
    /// Topics the broker had lost, re-published.
    let lostTopics: [String]
    /// Every seq up to it is acknowledged by the broker.
    let checkpoint: UInt64
    /// SIGTERM arrived while the broker was failing: the checkpoint is the last acknowledged.
    let stoppedWhileFailing: Bool
}

extension RelayCommand {
    /// The relay's default topic settings with each `--topic-config KEY=VALUE` applied.
    static func topicSettings(_ arguments: [String]) throws -> [String: String] {
        var settings = KafkaRelay.Options.keepEverything
        for argument in arguments {
            let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[0].contains(where: \.isWhitespace),
                  !parts[1].trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ValidationError("--topic-config wants KEY=VALUE (e.g. retention.ms=604800000), not '\(argument)'")
            }
            settings[String(parts[0])] = String(parts[1]).trimmingCharacters(in: .whitespaces)
        }
        return settings
    }
}

/// How long a following relay waits after its `n`-th consecutive failure: 0.5 s, doubling
/// up to 30 s.
enum RelayBackoff {
    static func delay(afterFailure failures: Int) -> Duration {
        .milliseconds(min(30_000, 500 << min(max(failures - 1, 0), 6)))
    }
}
