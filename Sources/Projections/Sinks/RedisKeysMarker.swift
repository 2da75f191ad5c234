import Redis

/// What a projection's Redis keys look like next to its PostgreSQL checkpoint.
///
/// Redis can lose every key while PostgreSQL keeps the checkpoint (a server restarted
/// without persistence, a `FLUSHDB`): the projector would then say "caught up" and write only
/// the keys of new events. So the sink keeps a small marker per projection under the active
/// key prefix (`RedisLayout.markerKey`), written with every batch; a checkpoint without its
/// marker means the keys are gone. The marker also carries the projection's batch count, which
/// PostgreSQL advances with the checkpoint (`projection_batches`): a Redis restored from an
/// older snapshot keeps a marker with an older count. Layout and procedure: `schemas/redis.md`,
/// "Marker keys".
public enum RedisKeysState: String, Sendable, Hashable, Codable {
    /// No checkpoint yet: nothing was written, nothing can be missing.
    case fresh
    /// The marker is there: the keys written so far are in this Redis.
    case present
    /// No marker, but keys of the projection's families are there: written by a build from
    /// before markers, adopted (the marker is written) rather than refused.
    case unmarked
    /// A checkpoint and neither marker nor keys, or a marker a batch found gone and set to
    /// `RedisLayout.lostMarkerValue`: Redis lost them.
    case lost
    /// The marker's batch count is below PostgreSQL's: Redis was restored from an older
    /// snapshot (or a machine restarted with an older dump), and the keys of the batches
    /// between are missing.
    case stale

    /// The state from the facts, each looked up only when needed: `batches` is PostgreSQL's
    /// batch count (0 when it has none), `marker` the marker's value (nil when absent),
    /// `keysExist` scans. A marker may be one batch ahead of PostgreSQL (a batch whose COMMIT
    /// did not happen after its Redis write), or further (PostgreSQL restored, or a middle
    /// replay's copied marker): Redis holding more is not a loss.
    public static func assess(hasCheckpoint: Bool, batches: Int64 = 0, marker: () throws -> String?, keysExist: () throws -> Bool) rethrows -> RedisKeysState {
        guard hasCheckpoint else { return .fresh }
        if let value = try marker() {
            if value == RedisLayout.lostMarkerValue { return .lost }
            if let held = RedisLayout.markerBatch(value), held < batches { return .stale }
            return .present
        }
        return try keysExist() ? .unmarked : .lost
    }
}

/// The refusal when a projection's Redis keys are gone, and its remedy.
public enum RedisKeysLoss {
    /// The command that rebuilds the keys (and the tables) beside live and swaps them in: a
    /// replay from 1, since every key may be missing (a middle `--from` copies live keys).
    public static func remedy(schema: String, namespace: String) -> String {
        var command = "tickfold replay --from 1"
        if schema != "tickfold" { command += " --schema " + shellQuoted(schema) }
        if !namespace.isEmpty { command += " --namespace " + shellQuoted(namespace) }
        return command
    }

    /// The close of both messages: why the projector stops, and the replay that mends it.
    private static func refusal(schema: String, namespace: String) -> String {
        "The projector refuses to carry on writing only the keys of new events; rebuild them with `\(remedy(schema: schema, namespace: namespace))`"
    }

    /// What happened, what was checked and the way out, for an error or a status note.
    public static func message(projection: String, markerKey: String, checkpoint: String, schema: String, namespace: String) -> String {
        "the Redis keys of projection \(projection) are lost: the checkpoint in schema \(schema) says they were written through \(checkpoint), "
            + "but Redis no longer holds the marker \(markerKey) that every batch writes (a Redis restarted without persistence, or FLUSHDB). "
            + refusal(schema: schema, namespace: namespace)
    }

    /// What happened when Redis holds the keys as of an older batch than PostgreSQL's
    /// checkpoint, and the way out.
    public static func staleMessage(projection: String, markerKey: String, markerBatch: Int64?, batches: Int64, checkpoint: String, schema: String, namespace: String) -> String {
        "the Redis keys of projection \(projection) are stale: Redis holds them as of batch \(markerBatch.map(String.init) ?? "?") (marker \(markerKey)), "
            + "the checkpoint in schema \(schema) is at batch \(batches) (\(checkpoint)): a Redis restored from an older snapshot (an RDB or AOF file "
            + "older than its last writes, or a machine restarted with both), so the keys written since are missing. "
            + refusal(schema: schema, namespace: namespace)
    }

    /// `text` as one shell word (quoted only when it needs to be).
    static func shellQuoted(_ text: String) -> String {
        let plain = !text.isEmpty && text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "_-.:/@%+=,".unicodeScalars.contains(scalar))
        }
        return plain ? text : "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}

/// One projection's marker in a batch's pipeline: written, and first required to exist when
/// the sink knows it was written before under the same prefix, with a batch count of at
/// least `minimumBatch`.
public struct RedisMarker: Sendable, Hashable {
    public let projection: String
    /// The value to set (`RedisLayout.markerValue`); nil leaves it as it is (a check alone).
    public let value: String?
    public let mustExist: Bool
    /// The lowest batch count a marker that must exist may hold: PostgreSQL's committed count
    /// (the batch's own is one more). Nil checks that it exists, not its count.
    public let minimumBatch: Int64?

    public init(projection: String, value: String?, mustExist: Bool, minimumBatch: Int64? = nil) {
        self.projection = projection
        self.value = value
        self.mustExist = mustExist
        self.minimumBatch = minimumBatch
    }
}

/// A batch's marker script found a marker gone (see `RedisSink.write(_:derived:markers:retry:)`).
public struct RedisMarkerMissing: Error, Sendable {
    /// The full key of the missing marker.
    public let key: String
}

/// A batch's marker script found a marker holding an older batch count than PostgreSQL's
/// checkpoint: Redis was restored from an older snapshot.
public struct RedisMarkerStale: Error, Sendable {
    /// The full key of the marker.
    public let key: String
    /// The batch count it holds.
    public let batch: Int64
}

/// Looks a projection's marker and keys up on a plain connection (`project status`, replays).
public enum RedisKeysProbe {
    /// The state of `projection`'s keys under `prefix`, against PostgreSQL's batch count
    /// `batches`. The scan for keys runs only when a checkpoint has no marker, and stops at the
    /// first key found.
    public static func state(_ connection: RedisConnection, prefix: String, projection: any Projection, hasCheckpoint: Bool, batches: Int64 = 0) throws -> RedisKeysState {
        try RedisKeysState.assess(hasCheckpoint: hasCheckpoint, batches: batches) {
            try markerValue(connection, prefix: prefix, projection: projection.name)
        } keysExist: {
            try keysExist(connection, prefix: prefix, projection: projection)
        }
    }

    /// The value of `projection`'s marker under `prefix`, nil when absent.
    public static func markerValue(_ connection: RedisConnection, prefix: String, projection: String) throws -> String? {
        try connection.command("GET", prefix + RedisLayout.markerKey(projection: projection)).string
    }

    /// Whether any key of `projection`'s families (or a derived hash) exists under `prefix`.
    public static func keysExist(_ connection: RedisConnection, prefix: String, projection: any Projection) throws -> Bool {
        let derived = Set(projection.derivedHashes.map { prefix + $0.key }).sorted()
        if !derived.isEmpty, try (connection.command(["EXISTS"] + derived.map { $0 as any RedisArgument }).integer ?? 0) > 0 { return true }
        for family in RedisLayout.keyFamilies {
            let pattern = RedisLayout.escapedGlob(prefix) + family
            var cursor = "0"
            repeat {
                let reply = try connection.command("SCAN", cursor, "MATCH", pattern, "COUNT", "1000").array ?? []
                cursor = reply.first?.string ?? "0"
                if !(reply.last?.array ?? []).isEmpty { return true }
            } while cursor != "0"
        }
        return false
    }
}

extension RedisSink {
    /// The full key of `projection`'s marker under the active prefix.
    public func markerKey(projection: String) -> String {
        keyPrefix + RedisLayout.markerKey(projection: projection)
    }

    /// The state of `projection`'s keys under the active prefix (resolving the pointer first),
    /// against PostgreSQL's batch count `batches`.
    public func keysState(projection: any Projection, hasCheckpoint: Bool, batches: Int64 = 0) throws -> RedisKeysState {
        try withRetry(operation: "check the marker of \(projection.name)") {
            try resolveNamespace()
            return try RedisKeysProbe.state(connection, prefix: keyPrefix, projection: projection, hasCheckpoint: hasCheckpoint, batches: batches)
        }.value
    }

    /// The batch count `projection`'s marker holds under the active prefix, nil when it holds none.
    public func markerBatch(projection: String) throws -> Int64? {
        try withRetry(operation: "read the marker of \(projection)") {
            try RedisKeysProbe.markerValue(connection, prefix: keyPrefix, projection: projection).flatMap(RedisLayout.markerBatch)
        }.value
    }
}
