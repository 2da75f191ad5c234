import HTTPServing

/// Serves a service's metrics and health over HTTP for Prometheus and probes:
/// `GET /metrics` (text format 0.0.4), `GET /health` (liveness: 200 unless stopping) and
/// `GET /ready` (readiness: 200 only when healthy), with HEAD for each. Health answers are
/// small JSON objects, e.g. `{"status":"degraded","reason":"PostgreSQL unreachable"}`.
public final class TelemetryServer: Sendable {
    public let registry: MetricsRegistry
    public let health: HealthState
    private let listener: HTTPListener

    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// A server for `registry` and `health` on `host`:`port` (port 0 picks a free one).
    /// `onAcceptFailure` hears why accepting ended if it ends before `stop()`.
    public init(host: String = "127.0.0.1", port: UInt16 = 0, registry: MetricsRegistry, health: HealthState,
                onAcceptFailure: @escaping @Sendable (String) -> Void = { _ in }) {
        self.registry = registry
        self.health = health
        listener = HTTPListener(host: host, port: port, threadName: "telemetry", idleTimeoutSeconds: 10, onAcceptFailure: onAcceptFailure) { request in
            Self.respond(to: request, registry: registry, health: health)
        }
    }

    deinit { stop() }

    /// The bound port after `start()` (the requested one before).
    public var port: Int { listener.port }

    /// `host:port` as bound.
    public var address: String { listener.address }

    /// Binds and starts serving on threads of its own; returns once the port is bound.
    public func start() throws(TelemetryError) {
        do { try listener.start() } catch { throw TelemetryError(error) }
    }

    /// Stops serving and waits for the accept thread; the port is free when it returns.
    public func stop() { listener.stop() }

    static func respond(to request: HTTPServerRequest, registry: MetricsRegistry, health: HealthState) -> HTTPServerResponse {
        let path = request.pathAndQuery.path
        guard ["/metrics", "/health", "/ready"].contains(path) else {
            return HTTPServerResponse(status: 404, headers: [("Content-Type", "text/plain; charset=utf-8")],
                                      body: Array("not found; try /metrics, /health or /ready\n".utf8))
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return HTTPServerResponse(status: 405, headers: [("Allow", "GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8")],
                                      body: Array("\(request.method) not allowed; use GET or HEAD\n".utf8))
        }
        if path == "/metrics" {
            return HTTPServerResponse(status: 200, headers: [("Content-Type", metricsContentType)], body: Array(registry.render().utf8))
        }
        let status = health.status
        let ok = path == "/ready" ? status.isReady : status.isLive
        return HTTPServerResponse(status: ok ? 200 : 503, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                                  body: Array(json(status).utf8))
    }

    /// `{"status":"…"}`, plus `"reason"` when degraded.
    static func json(_ status: HealthStatus) -> String {
        guard case .degraded(let reason) = status else { return #"{"status":"\#(status.name)"}"# }
        let escaped = reason.escaping { scalar in
            switch scalar {
            case "\"": return "\\\""
            case "\\": return "\\\\"
            case "\n": return "\\n"
            case "\r": return "\\r"
            case "\t": return "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: return nil
            }
        }
        return #"{"status":"degraded","reason":"\#(escaped)"}"#
    }
}
