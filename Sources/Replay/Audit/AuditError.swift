/// A failure of an audit command: a bad target, a table that cannot be digested, a row or
/// event that cannot be found, or a server error underneath (kept as `underlying`).
public struct AuditError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; a struct so new codes do not break callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        /// A target specification could not be parsed or names no configured target.
        public static let invalidTarget = Code(name: "invalidTarget")
        /// An argument is outside what the audit can do (bucket bits, a key of the wrong arity, …).
        public static let invalidArgument = Code(name: "invalidArgument")
        /// A table, row, schema or event the command needs does not exist.
        public static let notFound = Code(name: "notFound")
        /// PostgreSQL answered with an error or could not be reached.
        public static let postgres = Code(name: "postgres")
        /// Redis answered with an error or could not be reached.
        public static let redis = Code(name: "redis")
        /// The event log could not be read, or an event in it could not be decoded.
        public static let eventLog = Code(name: "eventLog")
    }

    public let code: Code
    /// The audit step that failed, e.g. `digest tickfold.bars`, `trace`.
    public let operation: String
    public let message: String
    /// The error thrown by the layer underneath (`PostgresError`, `RedisError`, …), if any.
    public let underlying: (any Error & Sendable)?

    public init(_ code: Code, operation: String, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.operation = operation
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        "audit \(operation) failed (\(code)): \(message)"
    }
}
