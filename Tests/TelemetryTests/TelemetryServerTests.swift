import Foundation
import HTTPServing
import Testing
@testable import Telemetry

@Suite("Telemetry server", .timeLimit(.minutes(5)))
struct TelemetryServerTests {
    /// A started server on 127.0.0.1 with a free port, its registry and health, and a client.
    private func running(_ status: HealthStatus = .starting) throws -> (TelemetryServer, RawHTTPClient) {
        let server = TelemetryServer(registry: MetricsRegistry(), health: HealthState(status))
        try server.start()
        return (server, RawHTTPClient(port: server.port))
    }

    @Test("GET /metrics answers the registry's rendering with the 0.0.4 content type")
    func metrics() throws {
        let (server, client) = try running()
        defer { server.stop() }
        server.registry.counter("tickfold_relay_published_total", help: "Events published.", labels: ["topic": "ticks"]).increment(by: 12)
        server.registry.computedGauge("tickfold_lag_events", help: "Lag.") { 3 }
        let response = try client.request("GET", "/metrics")
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.header("Connection") == "close")
        #expect(response.body == server.registry.render())
        #expect(response.body.contains("tickfold_relay_published_total{topic=\"ticks\"} 12\n"))
        #expect(response.body.contains("tickfold_lag_events 3\n"))
        #expect(response.header("Content-Length") == "\(response.body.utf8.count)")
        #expect(try client.request("GET", "/metrics?name[]=x").status == 200)
    }

    @Test("/health is live unless stopping; /ready only when healthy", arguments: [
        (HealthStatus.starting, 200, #"{"status":"starting"}"#, 503),
        (HealthStatus.healthy, 200, #"{"status":"healthy"}"#, 200),
        (HealthStatus.degraded(reason: #"PostgreSQL unreachable, retrying (attempt 4) "q"\"#), 200,
         #"{"status":"degraded","reason":"PostgreSQL unreachable, retrying (attempt 4) \"q\"\\"}"#, 503),
        (HealthStatus.stopping, 503, #"{"status":"stopping"}"#, 503),
    ])
    func healthAndReadiness(status: HealthStatus, liveCode: Int, body: String, readyCode: Int) throws {
        let (server, client) = try running(status)
        defer { server.stop() }
        let live = try client.request("GET", "/health")
        #expect(live.status == liveCode)
        #expect(live.header("Content-Type") == "application/json")
        #expect(live.body == body)
        let ready = try client.request("GET", "/ready")
        #expect(ready.status == readyCode)
        #expect(ready.body == body)
        #expect(try JSONSerialization.jsonObject(with: Data(body.utf8)) is [String: String])
    }

    @Test("readiness follows updates to the health state")
    func followsUpdates() throws {
        let (server, client) = try running()
        defer { server.stop() }
        #expect(try client.request("GET", "/ready").status == 503)
        server.health.update(.healthy)
        #expect(try client.request("GET", "/ready").status == 200)
        server.health.update(.degraded(reason: "Redis unreachable\nretrying"))
        let degraded = try client.request("GET", "/ready")
        #expect(degraded.status == 503)
        #expect(degraded.body == #"{"status":"degraded","reason":"Redis unreachable\nretrying"}"#)
        server.health.update(.degraded(reason: "tab\there\u{1}"))
        #expect(try client.request("GET", "/health").body == #"{"status":"degraded","reason":"tab\there\u0001"}"#)
    }

    @Test("other paths get 404, other methods 405 with Allow")
    func notFoundAndNotAllowed() throws {
        let (server, client) = try running(.healthy)
        defer { server.stop() }
        #expect(try client.request("GET", "/").status == 404)
        #expect(try client.request("GET", "/metrics/extra").status == 404)
        #expect(try client.request("DELETE", "/nothing").status == 404)
        for path in ["/metrics", "/health", "/ready"] {
            let response = try client.request("POST", path)
            #expect(response.status == 405)
            #expect(response.header("Allow") == "GET, HEAD")
        }
    }

    @Test("HEAD answers status and headers without a body")
    func head() throws {
        let (server, client) = try running(.healthy)
        defer { server.stop() }
        server.registry.gauge("g", help: "A gauge.").set(1)
        let response = try client.request("HEAD", "/metrics")
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
        #expect(response.header("Content-Length") == "\(server.registry.render().utf8.count)")
        let ready = try client.request("HEAD", "/ready")
        #expect(ready.status == 200)
        #expect(ready.body.isEmpty)
    }

    @Test("keep-alive connections get several answers; malformed requests get 400")
    func keepAliveAndMalformed() throws {
        let (server, client) = try running(.healthy)
        defer { server.stop() }
        let both = try client.exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(both.components(separatedBy: "HTTP/1.1 200 OK\r\n").count == 3)
        #expect(both.contains("Connection: keep-alive\r\n"))
        let malformed = try RawHTTPClient.parse(client.exchange("NONSENSE\r\n\r\n"))
        #expect(malformed.status == 400)
    }

    @Test("stop() frees the port: connections are refused, and a new server can bind it")
    func stopFreesPort() throws {
        let (server, client) = try running(.healthy)
        let port = server.port
        #expect(try client.request("GET", "/health").status == 200)
        server.stop()
        server.stop()
        #expect(throws: RawHTTPClient.Failure.self) { _ = try client.connect() }
        let again = TelemetryServer(port: UInt16(port), registry: MetricsRegistry(), health: HealthState(.healthy))
        try again.start()
        defer { again.stop() }
        #expect(again.port == port)
        #expect(try client.request("GET", "/ready").status == 200)
    }

    @Test("binding a port in use fails with an error naming the address and the system's reason")
    func portInUse() throws {
        let (server, _) = try running()
        defer { server.stop() }
        let second = TelemetryServer(port: UInt16(server.port), registry: MetricsRegistry(), health: HealthState())
        let error = try #require(throws: TelemetryError.self) { try second.start() }
        #expect(error.code == .bind)
        #expect(error.description == "telemetry server cannot listen on 127.0.0.1:\(server.port): Address already in use")
    }

    @Test("an unknown host fails with a resolver error naming it")
    func unknownHost() throws {
        let server = TelemetryServer(host: "no-such-host.invalid", port: 0, registry: MetricsRegistry(), health: HealthState())
        let error = try #require(throws: TelemetryError.self) { try server.start() }
        #expect(error.code == .resolve)
        #expect(error.description.hasPrefix("telemetry server cannot resolve no-such-host.invalid:0: "))
    }
}
