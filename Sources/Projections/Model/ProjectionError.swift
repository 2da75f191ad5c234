/// A failure of a projection sink, a migration or the engine.
public struct ProjectionError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; a struct so new codes do not break callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        /// The database holds a migration version newer than this build knows.
        public static let schemaTooNew = Code(name: "schemaTooNew")
        /// The target schema lacks migrations this build needs (run `tickfold project migrate`).
        public static let schemaNotMigrated = Code(name: "schemaNotMigrated")
        /// An applied migration's text differs from this build's.
        public static let migrationChanged = Code(name: "migrationChanged")
        /// PostgreSQL failed (after retries, when the failure was retryable).
        public static let postgres = Code(name: "postgres")
        /// Redis failed (after retries, when the failure was retryable) or refused a write.
        public static let redis = Code(name: "redis")
        /// The caller passed something unusable (an event without seq, an unknown projection).
        public static let invalidArgument = Code(name: "invalidArgument")
        /// A replay swapped in another version of a projection this process runs.
        public static let projectionVersionChanged = Code(name: "projectionVersionChanged")
    }

    public let code: Code
    /// What was being done (`migrate`, `apply batch`, `write keys`).
    public let operation: String
    public let message: String
    /// The error from the wrapper module (`PostgresError`, `RedisError`), if any.
    public let underlying: (any Error & Sendable)?

    public init(_ code: Code, operation: String, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.operation = operation
        self.message = message
        self.underlying = underlying
    }

    public var description: String { "projection \(operation) failed (\(code)): \(message)" }
}
