import Foundation
import Logging

/// Every log line a logger wrote, rendered with its metadata, for assertions.
public final class LogCapture: @unchecked Sendable {
    // @unchecked Sendable: `lines` is only touched while holding `lock`.
    private let lock = NSLock()
    private var lines: [String] = []

    public init() {}

    public var all: [String] { lock.withLock { lines } }

    public func append(_ line: String) { lock.withLock { lines.append(line) } }

    /// Whether any line written so far contains `text`.
    public func contains(_ text: String) -> Bool { lock.withLock { lines.contains { $0.contains(text) } } }

    /// A logger at trace level writing into this capture.
    public func logger(_ label: String = "test") -> Logger {
        var logger = Logger(label: label) { label in CapturingLogHandler(label: label, capture: self) }
        logger.logLevel = .trace
        return logger
    }
}

struct CapturingLogHandler: LogHandler {
    let label: String
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        capture.append("\(event.level) \(label): \(event.message) \(rendered)")
    }
}
