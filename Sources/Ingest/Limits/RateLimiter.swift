import Foundation

/// A token bucket's state; reservations may lie in the future (the bucket then runs a
/// debt that refilling pays back), so concurrent callers get distinct, ordered slots.
struct TokenBucket: Sendable {
    let spec: TokenBucketSpec
    private(set) var tokens: Double
    private(set) var updated: Date?

    init(_ spec: TokenBucketSpec) {
        self.spec = spec
        tokens = spec.capacity
    }

    /// The earliest instant at or after `now` when one token is there.
    func earliest(_ now: Date) -> Date {
        let start = max(now, updated ?? now)
        let available = tokens(at: start)
        if available >= 1 { return start }
        return start + (1 - available) / spec.ratePerSecond
    }

    /// Takes one token at `instant`, which must not precede `earliest`.
    mutating func take(at instant: Date) {
        tokens = tokens(at: instant) - 1
        updated = max(instant, updated ?? instant)
    }

    private func tokens(at instant: Date) -> Double {
        guard let updated, instant > updated else { return tokens }
        return min(spec.capacity, tokens + instant.timeIntervalSince(updated) * spec.ratePerSecond)
    }
}

/// Why and until when a key or a whole source may not be used.
public struct SourceStop: Sendable, Equatable, CustomStringConvertible {
    public let source: String
    /// When the source may be tried again: the earliest instant any of its keys frees up.
    public let until: Date
    public let reason: String

    public var description: String { "\(source) stopped until \(ISO8601DateFormatter().string(from: until)): \(reason)" }
}

/// The pure decision logic of rate limiting for one source: token buckets, minimum spacing,
/// daily quotas and the key ring (round robin, skipping keys that are blocked or spent).
/// It performs no I/O and reads no clock: callers pass `now` and the ledger's counts.
public struct RateLimiter: Sendable {
    /// A granted slot: send with `key` at `at` (sleep until then).
    public struct Permit: Sendable, Equatable {
        public let key: KeyFingerprint
        public let at: Date
    }

    public enum Decision: Sendable, Equatable {
        case proceed(Permit)
        case stopped(until: Date, reason: String)
    }

    public let source: String
    public let policy: RateLimitPolicy
    /// The ring, in configuration order; `[.anonymous]` for sources without keys.
    public let keys: [KeyFingerprint]
    private var sourceBucket: TokenBucket?
    private var keyBuckets: [KeyFingerprint: TokenBucket]
    private var lastSlot: Date?
    private var cursor = 0
    private var blocks: [KeyFingerprint: (until: Date, reason: String)] = [:]

    public init(source: String, policy: RateLimitPolicy, keys: [KeyFingerprint]) {
        self.source = source
        self.policy = policy
        self.keys = keys.isEmpty ? [.anonymous] : keys
        sourceBucket = policy.sourceBucket.map(TokenBucket.init)
        var buckets: [KeyFingerprint: TokenBucket] = [:]
        if let spec = policy.keyBucket { for key in self.keys { buckets[key] = TokenBucket(spec) } }
        keyBuckets = buckets
    }

    /// Picks a key and a slot. Starting after the key used last, it skips keys blocked past
    /// `now` or whose `spent(key, day)` reached the daily quota, and takes the key with the
    /// earliest slot (ring order breaks ties). With `only`, it considers that key alone (a
    /// retry keeps its key). A slot further than `maxWait` away, or no usable key, stops
    /// the source until the earliest time something frees up.
    public mutating func reserve(now: Date, only: KeyFingerprint? = nil, spent: (KeyFingerprint, UTCDay) -> Int) -> Decision {
        var best: (index: Int, at: Date)?
        var stop: (until: Date, reason: String)?
        func noteStop(_ until: Date, _ reason: String) {
            if stop == nil || until < stop!.until { stop = (until, reason) }
        }
        for offset in 0..<keys.count {
            let index = (cursor + offset) % keys.count
            let key = keys[index]
            if let only, key != only { continue }
            if let block = blocks[key], block.until > now {
                noteStop(block.until, block.reason)
                continue
            }
            if let quota = policy.dailyQuotaPerKey, spent(key, UTCDay(now)) >= quota {
                noteStop(UTCDay(now).end, "daily quota of \(quota) spent")
                continue
            }
            var at = now
            if let bucket = sourceBucket { at = max(at, bucket.earliest(now)) }
            if let bucket = keyBuckets[key] { at = max(at, bucket.earliest(now)) }
            if let lastSlot, policy.minimumSpacing > 0 { at = max(at, lastSlot + policy.minimumSpacing) }
            if let quota = policy.dailyQuotaPerKey, UTCDay(at) != UTCDay(now), spent(key, UTCDay(at)) >= quota {
                noteStop(UTCDay(at).end, "daily quota of \(quota) spent")
                continue
            }
            if best == nil || at < best!.at { best = (index, at) }
        }
        guard let best else {
            let (until, reason) = stop ?? (now + RateLimitDetector.defaultPause, "no usable key")
            return .stopped(until: until, reason: reason)
        }
        if best.at.timeIntervalSince(now) > policy.maxWait {
            return .stopped(until: best.at, reason: "next permit is \(Int(best.at.timeIntervalSince(now).rounded(.up))) s away")
        }
        let key = keys[best.index]
        sourceBucket?.take(at: best.at)
        keyBuckets[key]?.take(at: best.at)
        lastSlot = max(best.at, lastSlot ?? best.at)
        cursor = (best.index + 1) % keys.count
        return .proceed(Permit(key: key, at: best.at))
    }

    /// Keeps `key` out of the ring until `until`.
    public mutating func block(_ key: KeyFingerprint, until: Date, reason: String) {
        if let existing = blocks[key], existing.until >= until { return }
        blocks[key] = (until, reason)
    }

    /// Whether `key` is blocked at `now`, and until when.
    public func blockedUntil(_ key: KeyFingerprint, now: Date) -> Date? {
        guard let block = blocks[key], block.until > now else { return nil }
        return block.until
    }
}
