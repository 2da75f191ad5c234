import Events
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

/// The Redis side of projections: pipelined, seq-guarded writes of whole hashes.
///
/// `KeyWrite`s run through one Lua script (EVALSHA, 50 keys a call; loaded once, reloaded on
/// NOSCRIPT) that replaces a hash only if the incoming `seq` is higher than its `_seq`, so a
/// key never goes back to an older event and re-delivery is harmless; a changed key is
/// announced with PUBLISH on `keyChannel`. Derived hash fields are written by a second script
/// (see `write(derived:)`). Keys and channels carry the `namespace` prefix, so a replay can
/// build its keys beside the live ones. Layout: `schemas/redis.md`.
///
/// Synchronous and not thread-safe: one owner calls it from one thread at a time.
public final class RedisSink {
    /// Prefix of every channel, and of keys until a namespace pointer says otherwise (empty
    /// for live).
    public let namespace: String
    /// Prefix of every key: `namespace`, or the namespace its pointer names after a replay's
    /// swap (`RedisNamespacePointer`, resolved by `resolveNamespace()`).
    public internal(set) var keyPrefix: String
    public let pipelineDepth: Int
    public let retry: RetryPolicy
    /// Whether changed keys are announced on `keyChannel`.
    public let notifications: Bool
    let connection: RedisConnection
    private let logger: Logger
    private var keyScriptSHA = ""
    private var derivedScriptSHA = ""

    /// The channel announcing changed `latest:*` keys (message: the full key name).
    public var keyChannel: String { namespace + RedisLayout.keyChannel }

    /// Connects to `url` and loads the scripts.
    public init(url: String, namespace: String = "", pipelineDepth: Int = 1000, notifications: Bool = true, retry: RetryPolicy = .standard, logger: Logger = Logger(label: "tickfold.projections.redis")) throws {
        precondition(pipelineDepth >= 1, "pipeline depth must be at least 1")
        self.namespace = namespace
        keyPrefix = namespace
        self.pipelineDepth = pipelineDepth
        self.notifications = notifications
        self.retry = retry
        self.logger = logger
        do {
            connection = try RedisConnection(url: url, clientName: "tickfold-projector")
        } catch let error as RedisError {
            throw ProjectionError(.redis, operation: "open Redis sink", message: "\(error)", underlying: error)
        }
        _ = try withRetry(operation: "load scripts") { try loadScripts() }
        try resolveNamespace()
    }

    /// Writes every key whose `seq` is higher than what Redis holds. Keys go `keysPerCall` to
    /// one script call (amortizing the script's start-up, which dominates a one-key call) and
    /// `pipelineDepth` keys to one round trip.
    @discardableResult
    public func write(_ batch: [KeyWrite]) throws -> RedisWriteSummary {
        let channel = notifications ? keyChannel : ""
        // Only each key's highest seq can win; a stream of trades rewrites the same few
        // hundred `latest:*` keys, so this usually removes most of the work.
        var best: [String: Int] = [:]
        best.reserveCapacity(batch.count)
        for (index, write) in batch.enumerated() {
            if let kept = best[write.key], batch[kept].seq >= write.seq { continue }
            best[write.key] = index
        }
        let writes = best.count == batch.count ? batch : best.values.sorted().map { batch[$0] }
        var summary = RedisWriteSummary()
        summary.superseded = batch.count - writes.count
        var start = 0
        while start < writes.count {
            let chunk = writes[start..<min(start + pipelineDepth, writes.count)]
            let calls = stride(from: chunk.startIndex, to: chunk.endIndex, by: Self.keysPerCall).map { chunk[$0..<min($0 + Self.keysPerCall, chunk.endIndex)] }
            summary.add(try run(operation: "write keys", sizes: calls.map(\.count)) { sha in
                calls.map { call -> [any RedisArgument] in
                    var command: [any RedisArgument] = ["EVALSHA", sha, call.count]
                    command.reserveCapacity(4 + call.count * 26)
                    for write in call { command.append(keyPrefix + write.key) }
                    command.append(channel)
                    for write in call {
                        command.append(write.fields.count)
                        command.append(RedisLayout.seqField)
                        command.append(String(write.seq))
                        command.append(RedisLayout.eventIDField)
                        command.append(HexArgument(write.eventID))
                        for field in write.fields {
                            command.append(field.name)
                            command.append(field.value)
                        }
                    }
                    return command
                }
            } script: { $0.keyScriptSHA })
            start += chunk.count
        }
        return summary
    }

    /// Keys handled by one call of the key script.
    static let keysPerCall = 50

    /// Writes derived hash fields computed from converged rows. A value replaces a different
    /// one (it is a function of the latest merged state, see `DerivedHash`); a changed field is
    /// announced on the hash's channel with the field name as message.
    @discardableResult
    public func write(derived values: [DerivedValue]) throws -> RedisWriteSummary {
        var summary = RedisWriteSummary()
        var start = 0
        while start < values.count {
            let chunk = values[start..<min(start + pipelineDepth, values.count)]
            summary.add(try run(operation: "write derived fields", sizes: Array(repeating: 1, count: chunk.count)) { sha in
                chunk.map { value -> [any RedisArgument] in
                    let hash = keyPrefix + value.hash
                    return ["EVALSHA", sha, "1", hash, value.field, value.value, notifications ? namespace + value.channel : ""]
                }
            } script: { $0.derivedScriptSHA })
            start += chunk.count
        }
        return summary
    }

    /// Sends one pipeline of script calls (each reply: how many of its `sizes` keys changed), reloading the scripts after NOSCRIPT and
    /// reconnecting after a lost connection; every call is idempotent, so resending is safe.
    private func run(operation: String, sizes: [Int], commands: (String) -> [[any RedisArgument]], script: (RedisSink) -> String) throws -> RedisWriteSummary {
        var summary = RedisWriteSummary()
        var reloaded = false
        let (replies, retries) = try withRetry(operation: operation) { () throws -> [RedisReply] in
            while true {
                let replies = try connection.pipeline(commands(script(self)))
                if !reloaded, replies.contains(where: { $0.errorMessage?.hasPrefix("NOSCRIPT") == true }) {
                    // The server lost its script cache (restart, SCRIPT FLUSH): load and resend.
                    try loadScripts()
                    reloaded = true
                    continue
                }
                return replies
            }
        }
        summary.retries = retries
        for (reply, size) in zip(replies, sizes) {
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
        return summary
    }

    private func loadScripts() throws {
        keyScriptSHA = try connection.command("SCRIPT", "LOAD", RedisLayout.keyScript).string ?? ""
        derivedScriptSHA = try connection.command("SCRIPT", "LOAD", RedisLayout.derivedScript).string ?? ""
    }

    func withRetry<T>(operation: String, _ body: () throws -> T) throws -> (value: T, retries: Int) {
        var failures = 0
        while true {
            do {
                return (try body(), failures)
            } catch let error as RedisError where (error.code == .connectionLost || error.code == .connectionFailed) && failures + 1 < retry.attempts {
                failures += 1
                logger.warning("Redis \(operation) failed, retrying", metadata: ["error": "\(error)", "attempt": "\(failures)"])
                retry.wait(afterFailure: failures)
            } catch let error as RedisError {
                throw ProjectionError(.redis, operation: operation, message: "\(error)", underlying: error)
            }
        }
    }
}

/// Names and scripts of the Redis layout (`schemas/redis.md`).
public enum RedisLayout {
    /// Channel (after the namespace) announcing changed `latest:*` keys.
    public static let keyChannel = "tickfold:keys"
    /// Hash fields the sink adds to every projected key.
    public static let seqField = "_seq"
    public static let eventIDField = "_event_id"

    /// KEYS = the keys; ARGV = channel ('' = none), then per key: field count n, `_seq`, seq,
    /// `_event_id`, event id, then n field/value pairs, i.e. the HSET arguments, passed on with
    /// `unpack` (no Lua table is built per key). Replaces each hash whose `_seq` is lower than
    /// the incoming seq (or that does not exist) and announces it; returns how many it replaced.
    static let keyScript = """
        local channel = ARGV[1]
        local at = 2
        local changed = 0
        for k = 1, #KEYS do
          local key = KEYS[k]
          local last = at + 4 + 2 * tonumber(ARGV[at])
          local current = redis.call('HGET', key, '_seq')
          if not current or tonumber(current) < tonumber(ARGV[at + 2]) then
            if current then redis.call('DEL', key) end
            redis.call('HSET', key, unpack(ARGV, at + 1, last))
            if channel ~= '' then redis.call('PUBLISH', channel, key) end
            changed = changed + 1
          end
          at = last + 1
        end
        return changed
        """

    /// KEYS[1] = hash; ARGV = field, value, channel ('' = none). Sets the field when its
    /// value differs and announces it; returns 1 if it did.
    static let derivedScript = """
        if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 0 end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[1]) end
        return 1
        """
}

/// An event id sent as its 64 lowercase hex digits, encoded on the stack instead of through
/// a `String` per key.
struct HexArgument: RedisArgument {
    let id: EventID

    init(_ id: EventID) { self.id = id }

    func withRedisBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buffer in
            for (index, byte) in id.bytes.enumerated() {
                buffer[2 * index] = Self.digits[Int(byte >> 4)]
                buffer[2 * index + 1] = Self.digits[Int(byte & 0x0f)]
            }
            return try body(UnsafeRawBufferPointer(buffer))
        }
    }

    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)
}
