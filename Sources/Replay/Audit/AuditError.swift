import Events

/// A failure of an audit command: a bad target, a table that cannot be digested, a row or
/// event that cannot be found, or a server error underneath (kept as `underlying`).
public typealias AuditError = OperationError<Auditing>

/// Names `AuditError` in messages.
public enum Auditing: ErrorDomain {
    public static let name = "audit"
}

extension AuditError.Code {
    /// A target specification could not be parsed or names no configured target.
    public static let invalidTarget = Self(name: "invalidTarget")
    /// An argument is outside what the audit can do (bucket bits, a key of the wrong arity, …).
    public static let invalidArgument = Self(name: "invalidArgument")
    /// A table, row, schema or event the command needs does not exist.
    public static let notFound = Self(name: "notFound")
    /// PostgreSQL answered with an error or could not be reached.
    public static let postgres = Self(name: "postgres")
    /// Redis answered with an error or could not be reached.
    public static let redis = Self(name: "redis")
    /// The event log could not be read, or an event in it could not be decoded.
    public static let eventLog = Self(name: "eventLog")
}
