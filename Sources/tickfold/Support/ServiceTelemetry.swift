import ArgumentParser
import Events
import Logging
import Synchronization
import Telemetry

/// The `--metrics-address` option of the long-running services (`project run`, `relay`).
struct TelemetryOptions: ParsableArguments {
    @Option(name: .customLong("metrics-address"), help: ArgumentHelp(
        "Serve Prometheus metrics (/metrics) and health (/health liveness, /ready readiness) on HOST:PORT.",
        discussion: "For example 127.0.0.1:9464 or 0.0.0.0:9464; port 0 picks a free one (logged). Off by default."))
    var metricsAddress: String?
}

/// A service's metrics registry and health, served over HTTP when an address was given.
final class ServiceTelemetry: Sendable {
    let registry = MetricsRegistry()
    let health = HealthState()
    private let server: TelemetryServer?

    init(_ options: TelemetryOptions, logger: Logger) throws {
        guard let address = options.metricsAddress else {
            server = nil
            return
        }
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw ValidationError("--metrics-address must be HOST:PORT, not \(address)")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let server = TelemetryServer(host: host.isEmpty ? "0.0.0.0" : host, port: port, registry: registry, health: health)
        do {
            try server.start()
        } catch {
            throw CLIError("\(error)")
        }
        logger.info("serving metrics and health", metadata: ["address": "\(server.address)"])
        self.server = server
    }

    /// Marks the service stopping (readiness and liveness fail) and closes the server.
    func stop() {
        health.update(.stopping)
        server?.stop()
    }

    /// A gauge read at scrape time from a function that may fail (NaN then: the scrape shows
    /// the value is unknown rather than a stale one).
    func gauge(_ name: String, help: String, _ value: @escaping @Sendable () throws -> Double?) {
        registry.computedGauge(name, help: help) { ((try? value()) ?? nil) ?? .nan }
    }
}

/// The occurrence time of the event at `seq`, nil when it cannot be read.
func eventTime(at seq: UInt64, in log: EventLog) -> Timestamp? {
    guard seq > 0, let stored = try? log.event(at: seq) else { return nil }
    return try? Event.decode(stored.canonicalJSON, verification: .trustStored).occurredAt
}

/// How far `applied` trails the log's newest event, in events and in seconds of event time
/// (never below 0: event time is not ordered by seq).
func logLag(applied: UInt64, in log: EventLog) throws -> (events: UInt64, seconds: Double?) {
    let last = try log.lastSeq()
    guard last > applied else { return (0, 0) }
    guard let newest = eventTime(at: last, in: log), let reached = eventTime(at: max(applied, 1), in: log) else {
        return (last - applied, nil)
    }
    return (last - applied, Double(max(0, newest.millisecondsSinceEpoch - reached.millisecondsSinceEpoch)) / 1000)
}
