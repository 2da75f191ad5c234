/// A failure reported by libpq or the PostgreSQL server.
///
/// `message` is libpq's or the server's own text (with any password redacted); `sqlState`
/// is the five-character SQLSTATE when the server sent one, so callers can react to
/// specific conditions (`23505` unique violation, `40001` serialization failure, ...).
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; a struct so new codes do not break callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        /// The server could not be reached or refused the connection.
        public static let connectionFailed = Code(name: "connectionFailed")
        /// The server rejected the credentials.
        public static let authenticationFailed = Code(name: "authenticationFailed")
        /// The connection broke while in use; `reset()` reconnects.
        public static let connectionLost = Code(name: "connectionLost")
        /// The server rejected a statement.
        public static let queryFailed = Code(name: "queryFailed")
        /// A COPY failed (a malformed row, a constraint violation, ...).
        public static let copyFailed = Code(name: "copyFailed")
        /// A transaction could not commit (for example it had already been aborted).
        public static let transactionFailed = Code(name: "transactionFailed")
        /// The caller asked for something this API cannot do (a NUL byte in a parameter,
        /// a COPY statement passed to `query`, a nested transaction, ...).
        public static let invalidArgument = Code(name: "invalidArgument")
    }

    public let code: Code
    /// The operation that failed, e.g. `connect`, `query`, `copyIn`.
    public let operation: String
    public let message: String
    /// The server's SQLSTATE (`PG_DIAG_SQLSTATE`) when the failure came from the server.
    public let sqlState: String?

    public init(_ code: Code, operation: String, message: String, sqlState: String? = nil) {
        self.code = code
        self.operation = operation
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String {
        let state = sqlState.map { " [SQLSTATE \($0)]" } ?? ""
        return "PostgreSQL \(operation) failed (\(code))\(state): \(message)"
    }
}
