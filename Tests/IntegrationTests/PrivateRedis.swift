import Foundation
import Redis
import Testing
import TickfoldTesting

/// A Redis server of a test's own on a free loopback port, without persistence (`--save ''
/// --appendonly no`), so a test can flush or restart it without touching the shared one that
/// other suites use at the same time. `restart()` kills it and starts an empty one on the same
/// port: what a production Redis without persistence does after a crash.
final class PrivateRedis: @unchecked Sendable {  // the process is only touched by the owning test
    let port: Int
    var url: String { "redis://127.0.0.1:\(port)/0" }
    private var process: Process

    private init(port: Int) throws {
        self.port = port
        process = try Self.launch(port: port)
    }

    private static func launch(port: Int) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = ["--bind", "127.0.0.1", "--port", "\(port)", "--save", "", "--appendonly", "no", "--dir", NSTemporaryDirectory()]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server") }

    /// Starts one on a free port and waits until it answers PING.
    static func start() async throws -> PrivateRedis {
        let redis = try PrivateRedis(port: try closedLocalPort())
        try await redis.waitReady()
        return redis
    }

    /// Kills the server (SIGKILL: nothing saved) and starts an empty one on the same port.
    func restart() async throws {
        try await onThread { self.kill() }
        process = try Self.launch(port: port)
        try await waitReady()
    }

    /// A new connection to it.
    func connect() throws -> RedisConnection {
        try RedisConnection(url: url)
    }

    private func waitReady() async throws {
        let ready = try await eventually(timeout: .seconds(10)) {
            (try? RedisConnection(url: url).command("PING").string) == "PONG"
        }
        guard ready else {
            kill()
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "the private redis-server did not answer on port \(port)"])
        }
    }

    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
