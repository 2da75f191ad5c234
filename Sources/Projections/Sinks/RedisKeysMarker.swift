import Redis

/// What a projection's Redis keys look like next to its PostgreSQL checkpoint.
///
/// Redis can lose every key while PostgreSQL keeps the checkpoint (a server restarted
/// without persistence, a `FLUSHDB`): the projector would then say "caught up" and write only
/// the keys of new events. So the sink keeps a small marker per projection under the active
/// key prefix (`RedisLayout.markerKey`), written with every batch; a checkpoint without its
/// marker means the keys are gone. Layout and procedure: `schemas/redis.md`, "Marker keys".
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

    /// The state from the facts, each looked up only when needed: `marker` is the marker's
    /// value (nil when absent), `keysExist` scans.
    public static func assess(hasCheckpoint: Bool, marker: () throws -> String?, keysExist: () throws -> Bool) rethrows -> RedisKeysState {
        guard hasCheckpoint else { return .fresh }
        if let value = try marker() { return value == RedisLayout.lostMarkerValue ? .lost : .present }
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

    /// What happened, what was checked and the way out, for an error or a status note.
    public static func message(projection: String, markerKey: String, checkpoint: String, schema: String, namespace: String) -> String {
        "the Redis keys of projection \(projection) are lost: the checkpoint in schema \(schema) says they were written through \(checkpoint), "
            + "but Redis no longer holds the marker \(markerKey) that every batch writes (a Redis restarted without persistence, or FLUSHDB). "
            + "The projector refuses to carry on writing only the keys of new events; rebuild them with `\(remedy(schema: schema, namespace: namespace))`"
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
/// the sink knows it was written before under the same prefix.
public struct RedisMarker: Sendable, Hashable {
    public let projection: String
    public let value: String
    public let mustExist: Bool

    public init(projection: String, value: String, mustExist: Bool) {
        self.projection = projection
        self.value = value
        self.mustExist = mustExist
    }
}

/// A batch's marker script found a marker gone (see `RedisSink.write(_:derived:markers:retry:)`).
public struct RedisMarkerMissing: Error, Sendable {
    /// The full key of the missing marker.
    public let key: String
}

/// Looks a projection's marker and keys up on a plain connection (`project status`, replays).
public enum RedisKeysProbe {
    /// The state of `projection`'s keys under `prefix`. `derivedKeys` are the projection's
    /// derived hashes (names without prefix). The scan for keys runs only when a checkpoint
    /// has no marker, and stops at the first key found.
    public static func state(_ connection: RedisConnection, prefix: String, projection: any Projection, hasCheckpoint: Bool) throws -> RedisKeysState {
        try RedisKeysState.assess(hasCheckpoint: hasCheckpoint) {
            try connection.command("GET", prefix + RedisLayout.markerKey(projection: projection.name)).string
        } keysExist: {
            try keysExist(connection, prefix: prefix, projection: projection)
        }
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

    /// The state of `projection`'s keys under the active prefix (resolving the pointer first).
    public func keysState(projection: any Projection, hasCheckpoint: Bool) throws -> RedisKeysState {
        try withRetry(operation: "check the marker of \(projection.name)") {
            try resolveNamespace()
            return try RedisKeysProbe.state(connection, prefix: keyPrefix, projection: projection, hasCheckpoint: hasCheckpoint)
        }.value
    }
}
