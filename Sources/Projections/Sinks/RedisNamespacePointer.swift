import Redis

/// The Redis key that says where a logical key namespace currently lives, so a replay can
/// build a whole new set of keys beside the live ones and switch every reader and the live
/// projector to it with one `SET` (SPEC §5). Layout: `schemas/redis.md`.
///
/// The pointer is `NAMESPACE + "tickfold:namespace"` and holds the active key prefix; when it
/// does not exist the keys live under `NAMESPACE` itself. Pub/sub channels always stay under
/// the logical namespace, so subscribers keep listening across swaps.
public struct RedisNamespacePointer: Sendable, Hashable {
    /// The logical namespace (the prefix a projector is configured with; empty for live).
    public let namespace: String

    public init(namespace: String) {
        self.namespace = namespace
    }

    /// The pointer key.
    public var key: String { namespace + "tickfold:namespace" }

    /// The prefix of the keys a replay with identifier `id` builds (`tickfold:ns:ID:` under
    /// the logical namespace): never a prefix of a projected key family, so live families
    /// and shadows do not overlap.
    public func shadowPrefix(id: String) -> String { namespace + "tickfold:ns:" + id + ":" }

    /// The active key prefix: the pointer's value, or `namespace` when there is no pointer.
    public func resolve(_ connection: RedisConnection) throws -> String {
        try connection.command("GET", key).string ?? namespace
    }

    /// Points the namespace at `prefix` (`namespace` itself removes the pointer).
    public func set(_ prefix: String, _ connection: RedisConnection) throws {
        _ = prefix == namespace ? try connection.command("DEL", key) : try connection.command("SET", key, prefix)
    }
}

extension RedisSink {
    /// The pointer this sink follows.
    public var pointer: RedisNamespacePointer { RedisNamespacePointer(namespace: namespace) }

    /// Re-reads the namespace pointer and moves `keyPrefix` to what it names; returns whether
    /// it moved (a replay swapped a rebuilt namespace in since the last call).
    @discardableResult
    public func resolveNamespace() throws -> Bool {
        let prefix = try withRetry(operation: "resolve namespace pointer") { try pointer.resolve(connection) }.value
        guard prefix != keyPrefix else { return false }
        keyPrefix = prefix
        return true
    }
}
