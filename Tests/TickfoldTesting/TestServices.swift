import Foundation

/// Where the real servers started by `./dev up` listen. Integration suites are
/// enabled only when these are set (`./dev test` always sets them), so a plain
/// `swift test` on a laptop without services skips them instead of hanging.
public enum TestServices {
    public static let postgres = ProcessInfo.processInfo.environment["TICKFOLD_PG"]
    public static let redis = ProcessInfo.processInfo.environment["TICKFOLD_REDIS"]
    public static let kafka = ProcessInfo.processInfo.environment["TICKFOLD_KAFKA"]
    /// The Python virtual environment with `rfc8785`, `psycopg`, `redis`, `confluent-kafka`.
    public static let python = ProcessInfo.processInfo.environment["TICKFOLD_PYTHON"]

    public static var hasPostgres: Bool { postgres != nil }
    public static var hasRedis: Bool { redis != nil }
    public static var hasKafka: Bool { kafka != nil }
    public static var hasPython: Bool { python != nil }

    /// A name no other test run has used: tests share long-lived servers, so every
    /// schema, key prefix and topic a test creates carries one of these.
    public static func uniqueName(_ prefix: String) -> String {
        let suffix = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        return "\(prefix)_\(suffix)"
    }
}

/// A temporary directory removed when the value is dropped.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(_ prefix: String = "tickfold-test") throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/\(prefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
