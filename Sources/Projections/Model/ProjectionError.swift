import Events

/// A failure of a projection sink, a migration or the engine.
public typealias ProjectionError = OperationError<Projecting>

/// Names `ProjectionError` in messages.
public enum Projecting: ErrorDomain {
    public static let name = "projection"
}

extension ProjectionError.Code {
    /// The database holds a migration version newer than this build knows.
    public static let schemaTooNew = Self(name: "schemaTooNew")
    /// The target schema lacks migrations this build needs (run `tickfold project migrate`).
    public static let schemaNotMigrated = Self(name: "schemaNotMigrated")
    /// An applied migration's text differs from this build's.
    public static let migrationChanged = Self(name: "migrationChanged")
    /// PostgreSQL failed (after retries, when the failure was retryable).
    public static let postgres = Self(name: "postgres")
    /// Redis failed (after retries, when the failure was retryable) or refused a write.
    public static let redis = Self(name: "redis")
    /// The caller passed something unusable (an event without seq, an unknown projection).
    public static let invalidArgument = Self(name: "invalidArgument")
    /// A committed checkpoint is past the end of its source (another log, or a log restored
    /// from an older copy): the projection holds events the source lacks.
    public static let checkpointPastSource = Self(name: "checkpointPastSource")
    /// Redis lost a projection's keys (restarted without persistence, flushed) while its
    /// checkpoint says they were written: the marker is gone (`RedisKeysState.lost`).
    public static let redisKeysLost = Self(name: "redisKeysLost")
    /// A replay swapped in another version of a projection this process runs.
    public static let projectionVersionChanged = Self(name: "projectionVersionChanged")
}
