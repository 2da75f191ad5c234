/// A failure of a replay: a bad position, a log or server failure, or a swap that could not
/// be made. Messages name the schema, namespace or setting involved, never credentials.
public struct ReplayError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; a struct so new codes do not break callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        /// A `--from`/`--to` that is not a seq, an RFC 3339 time or `kafka:TOPIC:PARTITION:OFFSET`,
        /// or a combination the replay cannot honour.
        public static let invalidPosition = Code(name: "invalidPosition")
        /// A position names something the log (or the broker) does not hold.
        public static let notFound = Code(name: "notFound")
        /// Reading the event log failed.
        public static let log = Code(name: "log")
        /// PostgreSQL failed.
        public static let postgres = Code(name: "postgres")
        /// Redis failed.
        public static let redis = Code(name: "redis")
        /// A projection sink or fold failed.
        public static let projection = Code(name: "projection")
        /// The swap could not take the lock or flip the namespace pointer; nothing was swapped.
        public static let swap = Code(name: "swap")
        /// The replay was asked to stop before its swap; its shadow was dropped.
        public static let interrupted = Code(name: "interrupted")
        /// The caller asked for something unsupported (an unknown or partial projection set).
        public static let invalidArgument = Code(name: "invalidArgument")
    }

    public let code: Code
    /// What was being done (`resolve --from`, `copy live rows`, `swap`).
    public let operation: String
    public let message: String
    /// The error of the layer below, if any.
    public let underlying: (any Error & Sendable)?

    public init(_ code: Code, operation: String, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.operation = operation
        self.message = message
        self.underlying = underlying
    }

    public var description: String { "replay \(operation) failed (\(code)): \(message)" }
}
