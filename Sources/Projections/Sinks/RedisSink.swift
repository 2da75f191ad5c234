import Logging
import Redis

/// What one `RedisSink` write call did.
public struct RedisWriteSummary: Sendable, Hashable {
    /// Keys (or hash fields) whose value changed, each announced on its channel.
    public var changed = 0
    /// Writes refused because the key already held an equal or higher `seq` (or the same value).
    public var unchanged = 0
    /// Writes dropped before reaching Redis because the same batch held a higher `seq` for
    /// the same key (what the server-side guard would have decided anyway).
    public var superseded = 0
    /// Connection failures ridden out by retrying.
    public var retries = 0

    public init() {}

    /// Adds `other`'s counts to these.
    public mutating func add(_ other: RedisWriteSummary) {
        changed += other.changed
        unchanged += other.unchanged
        superseded += other.superseded
        retries += other.retries
    }
}

/// The Redis side of projections: pipelined, seq-guarded writes of whole `latest:*` values.
///
/// `KeyWrite`s run through one Lua script (EVALSHA, `keysPerCall` keys a call; loaded once,
/// reloaded on NOSCRIPT) that SETs a key's canonical JSON value only if the incoming `seq` is
/// higher than the `_seq` the key holds, so a key never goes back to an older event and
/// re-delivery is harmless; a changed key is announced with PUBLISH on `keyChannel`. Derived
/// hash fields are written by a second script, in the same pipeline (`write(_:derived:)`).
/// Keys and channels carry the `namespace` prefix, so a replay can build its keys beside the
/// live ones; every call checks the namespace pointer first. Layout: `schemas/redis.md`,
/// `RedisLayout`.
///
/// Synchronous and not thread-safe: one owner calls it from one thread at a time.
public final class RedisSink {
    /// Prefix of every channel, and of keys until a namespace pointer says otherwise (empty
    /// for live).
    public let namespace: String
    /// Prefix of every key: `namespace`, or the namespace its pointer names after a replay's
    /// swap (`RedisNamespacePointer`, resolved by `resolveNamespace()`).
    public internal(set) var keyPrefix: String
    /// Keys sent in one round trip.
    public let pipelineDepth: Int
    /// Keys handled by one call of the key script.
    public let keysPerCall: Int
    /// The most keys one script call takes (`MSET` gets two values a key from `unpack`).
    public static let maximumKeysPerCall = 2000
    public let retry: RetryPolicy
    /// Whether changed keys are announced on `keyChannel`.
    public let notifications: Bool
    let connection: RedisConnection
    private let logger: Logger
    private let keyScriptSHA: String
    private let derivedScriptSHA: String
    private let markerScriptSHA: String

    /// The channel announcing changed `latest:*` keys (message: the full key name).
    public var keyChannel: String { namespace + RedisLayout.keyChannel }

    /// Connects to `url` (named `clientName` in `CLIENT LIST`) and loads the scripts.
    public init(url: String, namespace: String = "", pipelineDepth: Int = 1000, keysPerCall: Int = 100, notifications: Bool = true, retry: RetryPolicy = .standard, clientName: String = "tickfold-projector", logger: Logger = Logger(label: "tickfold.projections.redis")) throws {
        precondition(pipelineDepth >= 1 && keysPerCall >= 1, "pipeline depth and keys per call must be at least 1")
        // A script call unpacks its keys and values into one Lua call each, and Lua's stack
        // takes some 8,000 values.
        precondition(keysPerCall <= Self.maximumKeysPerCall, "keys per call must be at most \(Self.maximumKeysPerCall)")
        self.namespace = namespace
        keyPrefix = namespace
        self.pipelineDepth = pipelineDepth
        self.keysPerCall = keysPerCall
        self.notifications = notifications
        self.retry = retry
        self.logger = logger
        // An unreachable server is waited for like a lost connection (the policy decides how long).
        connection = try Self.withRetry(operation: "open Redis sink", retry: retry, logger: logger) {
            try RedisConnection(url: url, clientName: clientName)
        }.value
        let connection = connection
        (keyScriptSHA, derivedScriptSHA, markerScriptSHA) = try Self.withRetry(operation: "load scripts", retry: retry, logger: logger) {
            try Self.loadScripts(connection)
        }.value
        try resolveNamespace()
    }

    /// Writes every key whose `seq` is higher than what Redis holds. Keys go `keysPerCall` to
    /// one script call (amortizing the script's start-up, which dominates a one-key call) and
    /// `pipelineDepth` keys to one round trip. Throws, naming the key, when a key holds
    /// something the sink did not write (a hash of the old layout, a foreign string).
    @discardableResult
    public func write(_ batch: [KeyWrite]) throws -> RedisWriteSummary {
        try write(batch, derived: []).keys
    }

    /// Writes derived hash fields computed from converged rows. A value replaces a different
    /// one (it is a function of the latest merged state, see `DerivedHash`); a changed field is
    /// announced on the hash's channel with the field name as message.
    @discardableResult
    public func write(derived values: [DerivedValue]) throws -> RedisWriteSummary {
        try write([], derived: values).derived
    }

    /// Writes a batch's keys (as `write(_:)`) and derived fields (as `write(derived:)`) in
    /// one pipeline: one round trip for a batch of up to `pipelineDepth` keys and fields.
    ///
    /// Every script call first checks that the namespace pointer still names `keyPrefix`;
    /// when a replay has swapped a rebuilt namespace in, no call writes anything, the sink
    /// follows the pointer and sends the batch again under the new prefix. A caller holding
    /// the swap lock (`ProjectionEngine`) therefore never writes into a retired namespace.
    ///
    /// `markers` go out in the last round trip, after every key (`RedisKeysState`): each is
    /// set (unless its value is nil), and one that `mustExist` but is gone (Redis lost the keys
    /// since it was written) fails the call with `RedisMarkerMissing`, one holding a batch
    /// count below its `minimumBatch` (Redis restored from an older snapshot) with
    /// `RedisMarkerStale`, before any marker is written.
    ///
    /// `retry` replaces the sink's policy for lost connections (`RetryPolicy.none` lets a caller that
    /// holds locks retry after releasing them, as `ProjectionEngine` does).
    public func write(_ batch: [KeyWrite], derived values: [DerivedValue], markers: [RedisMarker] = [], retry: RetryPolicy? = nil) throws -> (keys: RedisWriteSummary, derived: RedisWriteSummary) {
        // Only each key's highest seq can win; a stream of trades rewrites the same few
        // hundred `latest:*` keys, so this usually removes most of the work.
        let newest = Self.newestPerKey(batch)
        let writes = newest.count == batch.count ? batch : newest.map { batch[$0] }
        var moves = 0
        while true {
            // Counted per attempt: an attempt the pointer cut short is sent again whole.
            var keys = RedisWriteSummary()
            keys.superseded = batch.count - writes.count
            var derived = RedisWriteSummary()
            do {
                try writeCalls(writes, derived: values, markers: markers, retry: retry ?? self.retry, keys: &keys, derivedSummary: &derived)
                return (keys, derived)
            } catch let moved as NamespaceMoved {
                // Every call of a pipeline checks the pointer before writing, so a moved
                // pointer means nothing of this attempt's unfinished calls was written.
                moves += 1
                guard moves < 3, try resolveNamespace() else {
                    throw ProjectionError(.redis, operation: "write keys", message: "the namespace pointer \(pointer.key) keeps moving (\(moved.message))")
                }
                logger.info("Redis namespace pointer moved; writing the batch under the new prefix", metadata: ["prefix": "\(keyPrefix)"])
            }
        }
    }

    /// Sends the key and derived-field calls, `pipelineDepth` keys or fields a round trip.
    private func writeCalls(_ writes: [KeyWrite], derived values: [DerivedValue], markers: [RedisMarker], retry: RetryPolicy, keys: inout RedisWriteSummary, derivedSummary: inout RedisWriteSummary) throws {
        guard !writes.isEmpty || !values.isEmpty || !markers.isEmpty else { return }
        let channel = notifications ? keyChannel : ""
        let prefix = KeyPrefix(keyPrefix)
        let pointerKey = pointer.key
        var keyStart = 0
        var derivedStart = 0
        repeat {
            let trip = writes[keyStart..<min(keyStart + pipelineDepth, writes.count)]
            let derivedTrip = values[derivedStart..<min(derivedStart + max(0, pipelineDepth - trip.count), values.count)]
            let keyCalls = calls(trip.indices)
            let derivedCalls = calls(derivedTrip.indices)
            var commands: [[any RedisArgument]] = []
            commands.reserveCapacity(keyCalls.count + derivedCalls.count)
            for call in keyCalls {
                var command: [any RedisArgument] = ["EVALSHA", keyScriptSHA, call.count + 1, pointerKey]
                command.reserveCapacity(7 + call.count * 3)
                for index in call { command.append(PrefixedKey(prefix: prefix, key: trip[index].key)) }
                command += [prefix.text, namespace, channel]
                for index in call {
                    command.append(DecimalArgument(trip[index].seq))
                    command.append(trip[index].value)
                }
                commands.append(command)
            }
            for call in derivedCalls {
                var command: [any RedisArgument] = ["EVALSHA", derivedScriptSHA, call.count + 1, pointerKey]
                command.reserveCapacity(6 + call.count * 4)
                for index in call { command.append(PrefixedKey(prefix: prefix, key: derivedTrip[index].hash)) }
                command += [prefix.text, namespace]
                for index in call {
                    let value = derivedTrip[index]
                    command += [value.field, value.value, notifications ? namespace + value.channel : ""]
                }
                commands.append(command)
            }
            // The markers go last, after every key of the batch: a snapshot taken between two
            // calls then holds the batch's new count only with all of its keys.
            let markerCall = keyStart + trip.count >= writes.count && derivedStart + derivedTrip.count >= values.count && !markers.isEmpty
            if markerCall {
                var command: [any RedisArgument] = ["EVALSHA", markerScriptSHA, markers.count + 1, pointerKey]
                for marker in markers { command.append(PrefixedKey(prefix: prefix, key: RedisLayout.markerKey(projection: marker.projection))) }
                command += [prefix.text, namespace]
                for marker in markers { command += [marker.mustExist ? "1" : "0", marker.minimumBatch.map(String.init) ?? "", marker.value ?? ""] }
                commands.append(command)
            }
            let (replies, retries) = try send(commands, operation: "write keys", retry: retry)
            keys.retries += retries
            if markerCall, let last = replies.last {
                switch last {
                case .error(let message) where message.hasPrefix(RedisLayout.lostCode):
                    throw RedisMarkerMissing(key: String(message.dropFirst(RedisLayout.lostCode.count + 1)))
                case .error(let message) where message.hasPrefix(RedisLayout.staleCode + " "):
                    let rest = message.dropFirst(RedisLayout.staleCode.count + 1)
                    let batch = rest.prefix { $0 != " " }
                    throw RedisMarkerStale(key: String(rest.dropFirst(batch.count + 1)), batch: Int64(batch) ?? 0)
                case .error(let message):
                    throw ProjectionError(.redis, operation: "write markers", message: "server refused a write: \(message)")
                default:
                    break
                }
            }
            for (reply, call) in zip(replies, keyCalls) { try Self.count(reply, size: call.count, into: &keys, operation: "write keys") }
            for (reply, call) in zip(replies.dropFirst(keyCalls.count), derivedCalls) {
                try Self.count(reply, size: call.count, into: &derivedSummary, operation: "write derived fields")
            }
            keyStart += trip.count
            derivedStart += derivedTrip.count
        } while keyStart < writes.count || derivedStart < values.count
    }

    /// `range` cut into script calls of `keysPerCall`.
    private func calls(_ range: Range<Int>) -> [Range<Int>] {
        stride(from: range.lowerBound, to: range.upperBound, by: keysPerCall).map { $0..<min($0 + keysPerCall, range.upperBound) }
    }

    /// The indices of `batch` holding each key's highest seq (the first of equal ones), in
    /// batch order. An open-addressing table of indices with a 64-bit FNV-1a hash of the key
    /// per slot: unlike a `[String: Int]` it neither retains the keys nor runs SipHash over
    /// them, which made the deduplication a third of the client's time per key.
    static func newestPerKey(_ batch: [KeyWrite]) -> [Int] {
        guard batch.count > 1 else { return Array(batch.indices) }
        var capacity = 1
        while capacity < 2 * batch.count { capacity <<= 1 }
        let mask = capacity - 1
        var slots = [Int32](repeating: -1, count: capacity)
        var hashes = [UInt64](repeating: 0, count: capacity)
        var kept = [Bool](repeating: true, count: batch.count)
        var duplicates = 0
        for index in batch.indices {
            let key = batch[index].key
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
            var slot = Int(truncatingIfNeeded: hash) & mask
            while true {
                let other = Int(slots[slot])
                if other < 0 {
                    slots[slot] = Int32(index)
                    hashes[slot] = hash
                    break
                }
                if hashes[slot] == hash, batch[other].key == key {
                    duplicates += 1
                    if batch[other].seq >= batch[index].seq {
                        kept[index] = false
                    } else {
                        kept[other] = false
                        slots[slot] = Int32(index)
                    }
                    break
                }
                slot = (slot + 1) & mask
            }
        }
        guard duplicates > 0 else { return Array(batch.indices) }
        return batch.indices.filter { kept[$0] }
    }

    /// Sends one pipeline of script calls, reloading the scripts after NOSCRIPT and
    /// reconnecting after a lost connection (every call is idempotent, so resending is safe);
    /// returns the replies and the retries it took. Throws `NamespaceMoved` when a call
    /// found the namespace pointer moved.
    private func send(_ commands: [[any RedisArgument]], operation: String, retry: RetryPolicy) throws -> (replies: [RedisReply], retries: Int) {
        let (replies, retries) = try Self.withRetry(operation: operation, retry: retry, logger: logger) { () throws -> [RedisReply] in
            // Per attempt: a reconnect may reach a restarted server without the scripts.
            var reloaded = false
            while true {
                let replies = try connection.pipeline(commands)
                if !reloaded, replies.contains(where: { $0.errorMessage?.hasPrefix("NOSCRIPT") == true }) {
                    // The server lost its script cache (restart, SCRIPT FLUSH): load and
                    // resend. A script's SHA is the SHA-1 of its text, so it does not change.
                    _ = try Self.loadScripts(connection)
                    reloaded = true
                    continue
                }
                return replies
            }
        }
        if let moved = replies.lazy.compactMap(\.errorMessage).first(where: { $0.hasPrefix(RedisLayout.movedCode) }) {
            throw NamespaceMoved(message: moved)
        }
        return (replies, retries)
    }

    /// Adds a script call's reply (how many of its `size` keys or fields changed) to `summary`.
    private static func count(_ reply: RedisReply, size: Int, into summary: inout RedisWriteSummary, operation: String) throws {
        switch reply {
        case .integer(let changed):
            summary.changed += Int(changed)
            summary.unchanged += size - Int(changed)
        case .error(let message):
            throw ProjectionError(.redis, operation: operation, message: "server refused a write: \(message)")
        case .status, .bulk, .null, .array:
            throw ProjectionError(.redis, operation: operation, message: "unexpected reply \(reply) from the write script")
        }
    }

    /// Loads the scripts; returns their SHAs (key script, derived script, marker script).
    private static func loadScripts(_ connection: RedisConnection) throws -> (String, String, String) {
        (try connection.command("SCRIPT", "LOAD", RedisLayout.keyScript).string ?? "",
         try connection.command("SCRIPT", "LOAD", RedisLayout.derivedScript).string ?? "",
         try connection.command("SCRIPT", "LOAD", RedisLayout.markerScript).string ?? "")
    }

    func withRetry<T>(operation: String, _ body: () throws -> T) throws -> (value: T, retries: Int) {
        try Self.withRetry(operation: operation, retry: retry, logger: logger, body)
    }

    private static func withRetry<T>(operation: String, retry: RetryPolicy, logger: Logger, _ body: () throws -> T) throws -> (value: T, retries: Int) {
        do {
            return try retry.run("Redis \(operation)", logger: logger, warning: "Redis \(operation) failed, retrying",
                                 isRetryable: { ($0 as? RedisError)?.isLostConnection ?? false }, body)
        } catch let error as RedisError {
            throw ProjectionError(.redis, operation: operation, message: "\(error)", underlying: error)
        }
    }
}

extension ProjectionError {
    /// A Redis write failed because the connection was lost or could not be made (worth
    /// retrying later, unlike a refused write).
    var isLostRedisConnection: Bool {
        guard code == .redis, let redis = underlying as? RedisError else { return false }
        return redis.isLostConnection
    }
}

extension RedisError {
    /// The connection was lost or could not be made: worth retrying later, unlike a refused command.
    var isLostConnection: Bool { code == .connectionLost || code == .connectionFailed }
}

/// A script found the namespace pointer moved (see `RedisSink.write(_:derived:)`).
private struct NamespaceMoved: Error {
    let message: String
}

/// A key prefix shared by every key argument of a batch (one reference, so a `PrefixedKey`
/// fits an existential's inline storage instead of taking an allocation per key).
final class KeyPrefix: Sendable {
    let text: String
    init(_ text: String) { self.text = text }
}

/// A key sent as prefix and name back to back, joined on the stack instead of in a `String`
/// per key.
struct PrefixedKey: RedisArgument {
    let prefix: KeyPrefix
    let key: String

    func withRedisBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var prefix = prefix.text
        var key = key
        return try prefix.withUTF8 { prefix in
            try key.withUTF8 { key in
                try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: prefix.count + key.count) { buffer in
                    _ = buffer.initialize(fromContentsOf: prefix)
                    _ = UnsafeMutableBufferPointer(rebasing: buffer[prefix.count...]).initialize(fromContentsOf: key)
                    return try body(UnsafeRawBufferPointer(buffer))
                }
            }
        }
    }
}

/// An unsigned integer sent as decimal digits, encoded on the stack.
struct DecimalArgument: RedisArgument {
    let value: UInt64

    init(_ value: UInt64) { self.value = value }

    func withRedisBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var rest = value
            var start = 20
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            return try body(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[start...])))
        }
    }
}
