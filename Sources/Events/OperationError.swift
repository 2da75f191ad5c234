/// The shape of Tickfold's errors above the C wrappers: what kind of failure (`code`), what
/// was being done (`operation`), what went wrong in words (`message`) and the error of the
/// layer below. `Domain` names the subsystem in messages and owns the codes, which are
/// declared as `extension XError.Code { static let … }` beside the domain's type alias, so
/// new codes never break a caller's `switch`.
public struct OperationError<Domain: ErrorDomain>: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(name: String) { self.name = name }
        public var description: String { name }
    }

    public let code: Code
    /// What was being done (`migrate`, `resolve --from`, `digest tickfold.bars`).
    public let operation: String
    public let message: String
    /// The error from the layer below (`PostgresError`, `RedisError`, `EventLogError`), if any.
    public let underlying: (any Error & Sendable)?

    public init(_ code: Code, operation: String, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.operation = operation
        self.message = message
        self.underlying = underlying
    }

    public var description: String { "\(Domain.name) \(operation) failed (\(code)): \(message)" }
}

/// A subsystem whose failures are `OperationError`s.
public protocol ErrorDomain: Sendable {
    /// How messages name it (`projection`, `replay`, `audit`).
    static var name: String { get }
}
