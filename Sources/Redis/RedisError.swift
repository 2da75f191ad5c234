/// A failure talking to Redis: an unusable URL, a server that cannot be reached, a broken
/// connection, or an error reply to a single command.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; a struct so new codes do not break callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        /// The URL is not `redis://[user:password@]host[:port][/db]`.
        public static let invalidURL = Code(name: "invalidURL")
        /// The server could not be reached, or refused AUTH or SELECT while loading its data.
        public static let connectionFailed = Code(name: "connectionFailed")
        /// The connection failed during a call (I/O error, timeout, server closed it); the
        /// next call opens a new one.
        public static let connectionLost = Code(name: "connectionLost")
        /// The server answered a single command with an error reply (pipelines return
        /// error replies as `RedisReply.error` values instead), or refused AUTH or SELECT when
        /// connecting (a wrong password, a database index it does not have).
        public static let serverError = Code(name: "serverError")
        /// The server sent something the caller's request cannot have produced.
        public static let protocolError = Code(name: "protocolError")
    }

    public let code: Code
    /// The operation that failed, e.g. `connect`, `command`, `pipeline`, `subscribe`.
    public let operation: String
    /// hiredis's or the server's own text; never contains a password.
    public let message: String

    public init(_ code: Code, operation: String, message: String) {
        self.code = code
        self.operation = operation
        self.message = message
    }

    public var description: String { "Redis \(operation) failed (\(code)): \(message)" }
}
