import Foundation
import Redis
import Testing
import TickfoldTesting

/// A Redis server of a test's own on a free loopback port, without persistence (`--save ''
/// --appendonly no`), so a test can flush or restart it without touching the shared one that
/// other suites use at the same time. `restart()` kills it and starts an empty one on the same
/// port: what a production Redis without persistence does after a crash. Its directory is its
/// own, so a `SAVE` writes a snapshot that `restart(fromSnapshot: true)` loads: a Redis that
/// restarts from an older RDB file.
final class PrivateRedis: @unchecked Sendable {  // the process is only touched by the owning test
    let port: Int
    var url: String { "redis://127.0.0.1:\(port)/0" }
    /// The server's directory (its `dump.rdb`).
    let directory: URL
    private var process: Process

    private init(port: Int) throws {
        self.port = port
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tickfold-redis-\(port)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        process = try Self.launch(port: port, directory: directory)
    }

    private static func launch(port: Int, directory: URL) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = ["--bind", "127.0.0.1", "--port", "\(port)", "--save", "", "--appendonly", "no", "--dir", directory.path]
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

    /// Kills the server (SIGKILL: nothing saved) and starts one on the same port: empty, or
    /// `fromSnapshot` with what the last `SAVE` wrote.
    func restart(fromSnapshot: Bool = false) async throws {
        try await onThread { self.kill() }
        if !fromSnapshot { try? FileManager.default.removeItem(at: directory.appendingPathComponent("dump.rdb")) }
        process = try Self.launch(port: port, directory: directory)
        try await waitReady()
    }

    /// A new connection to it.
    func connect() throws -> RedisConnection {
        try RedisConnection(url: url)
    }

    private func waitReady() async throws {
        let ready = try await eventually(timeout: .seconds(60)) {
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

    /// Kills the server and removes its directory.
    func remove() {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }
}
