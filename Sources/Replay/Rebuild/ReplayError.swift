import Events

/// A failure of a replay: a bad position, a log or server failure, or a swap that could not
/// be made. Messages name the schema, namespace or setting involved, never credentials.
public typealias ReplayError = OperationError<Replaying>

/// Names `ReplayError` in messages.
public enum Replaying: ErrorDomain {
    public static let name = "replay"
}

extension ReplayError.Code {
    /// A `--from`/`--to` that is not a seq, an RFC 3339 time or `kafka:TOPIC:PARTITION:OFFSET`,
    /// or a combination the replay cannot honour.
    public static let invalidPosition = Self(name: "invalidPosition")
    /// A position names something the log (or the broker) does not hold.
    public static let notFound = Self(name: "notFound")
    /// Reading the event log failed.
    public static let log = Self(name: "log")
    /// PostgreSQL failed.
    public static let postgres = Self(name: "postgres")
    /// Redis failed.
    public static let redis = Self(name: "redis")
    /// A projection sink or fold failed.
    public static let projection = Self(name: "projection")
    /// The swap could not take the lock or flip the namespace pointer; nothing was swapped.
    public static let swap = Self(name: "swap")
    /// The replay was asked to stop before its swap; its shadow was dropped.
    public static let interrupted = Self(name: "interrupted")
    /// The caller asked for something unsupported (an unknown or partial projection set).
    public static let invalidArgument = Self(name: "invalidArgument")
}
