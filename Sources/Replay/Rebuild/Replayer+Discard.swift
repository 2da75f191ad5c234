import Postgres
import Projections

/// What `Replayer.discard(id:)` removed.
public struct ReplayDiscardResult: Sendable, Equatable {
    /// Schemas dropped: the kept shadow and, after a swap whose clean-up failed, the retired copy.
    public let droppedSchemas: [String]
    /// Keys removed under the replay's shadow prefix.
    public let droppedKeys: Int
}

extension Replayer {
    /// Removes what replay `id` left beside live: the point-in-time copy a `--to` replay keeps
    /// (`SCHEMA_rID` and the keys under `tickfold:ns:ID:`), or the retired schema of a swap
    /// whose clean-up failed. Refuses while another replay of the live schema runs and when the
    /// namespace pointer names the replay's keys (they are live since its swap).
    public func discard(id: String) throws -> ReplayDiscardResult {
        try Self.validate(id: id)
        let live = options.schema
        let lock = String(Self.replayLockKey(live))
        let taken = try Self.wrap(.postgres, "take the replay lock of \(live)") {
            try admin.query("SELECT pg_try_advisory_lock($1)", [lock]).value(0, 0) == "t"
        }
        guard taken else {
            throw ReplayError(.swap, operation: "discard \(id)", message: "a replay of schema \(live) is running; discard its copy after it ends")
        }
        defer { _ = try? admin.query("SELECT pg_advisory_unlock($1)", [lock]) }
        let pointer = RedisNamespacePointer(namespace: options.namespace)
        let prefix = pointer.shadowPrefix(id: id)
        if let redis {
            let active = try Self.wrap(.redis, "resolve namespace pointer") { try pointer.resolve(redis) }
            guard active != prefix else {
                throw ReplayError(.invalidArgument, operation: "discard \(id)",
                    message: "the keys under \"\(prefix)\" are live (\(pointer.key) points at them): replay \(id) was swapped in")
            }
        }
        var dropped: [String] = []
        for schema in ["\(live)_r\(id)", "\(live)_old_\(id)"] {
            let exists = try Self.wrap(.postgres, "look up schema \(schema)") {
                try admin.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]).rows.count == 1
            }
            guard exists else { continue }
            try Self.wrap(.postgres, "drop \(schema)") { try admin.execute("DROP SCHEMA \(try quoted(schema)) CASCADE") }
            dropped.append(schema)
        }
        let keys = try redis.map { redis in
            try Self.wrap(.redis, "drop keys under \"\(prefix)\"") { try dropKeys(redis, prefix: prefix) }
        } ?? 0
        return ReplayDiscardResult(droppedSchemas: dropped, droppedKeys: keys)
    }

    /// Replay ids name schemas and key prefixes: lowercase ASCII letters and digits only.
    static func validate(id: String) throws {
        guard !id.isEmpty, id.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x7a).contains($0) }) else {
            throw ReplayError(.invalidArgument, operation: "start", message: "replay id \"\(id)\" must be lowercase letters and digits")
        }
    }
}
