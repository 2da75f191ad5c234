import Foundation

/// A token bucket: holds at most `capacity` tokens and gains `refill` tokens every
/// `interval` seconds, continuously. One request costs one token.
public struct TokenBucketSpec: Sendable, Codable, Equatable {
    public var capacity: Double
    public var refill: Double
    public var interval: TimeInterval

    public init(capacity: Double, refill: Double, interval: TimeInterval) {
        self.capacity = capacity
        self.refill = refill
        self.interval = interval
    }

    /// `count` requests per `interval` seconds, allowing a burst of `count`.
    public static func perInterval(_ count: Double, seconds: TimeInterval) -> TokenBucketSpec {
        TokenBucketSpec(capacity: count, refill: count, interval: seconds)
    }

    var ratePerSecond: Double { refill / interval }
}

/// How fast one source may be called: configuration, not code (SPEC §3). Missing fields in
/// a JSON policy mean "no such limit".
public struct RateLimitPolicy: Sendable, Codable, Equatable {
    /// Shared by every key of the source.
    public var sourceBucket: TokenBucketSpec?
    /// One bucket per API key.
    public var keyBucket: TokenBucketSpec?
    /// Seconds between any two requests of the source (yfinance: 5 s between tickers).
    public var minimumSpacing: TimeInterval
    /// Requests per key per UTC day, enforced across restarts by the `QuotaLedger`.
    public var dailyQuotaPerKey: Int?
    /// The longest a fetch sleeps for a permit; a later permit is reported as "stopped
    /// until" so the caller can move on and retry next run.
    public var maxWait: TimeInterval
    /// Whether 200 bodies are checked for Alpha Vantage style rate-limit notes.
    public var bodyNotes: Bool

    public init(sourceBucket: TokenBucketSpec? = nil, keyBucket: TokenBucketSpec? = nil, minimumSpacing: TimeInterval = 0,
                dailyQuotaPerKey: Int? = nil, maxWait: TimeInterval = 300, bodyNotes: Bool = false) {
        self.sourceBucket = sourceBucket
        self.keyBucket = keyBucket
        self.minimumSpacing = minimumSpacing
        self.dailyQuotaPerKey = dailyQuotaPerKey
        self.maxWait = maxWait
        self.bodyNotes = bodyNotes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(sourceBucket: try c.decodeIfPresent(TokenBucketSpec.self, forKey: .sourceBucket),
                  keyBucket: try c.decodeIfPresent(TokenBucketSpec.self, forKey: .keyBucket),
                  minimumSpacing: try c.decodeIfPresent(TimeInterval.self, forKey: .minimumSpacing) ?? 0,
                  dailyQuotaPerKey: try c.decodeIfPresent(Int.self, forKey: .dailyQuotaPerKey),
                  maxWait: try c.decodeIfPresent(TimeInterval.self, forKey: .maxWait) ?? 300,
                  bodyNotes: try c.decodeIfPresent(Bool.self, forKey: .bodyNotes) ?? false)
    }

    /// No limits at all.
    public static let unlimited = RateLimitPolicy()
    /// Yahoo Finance: 5 s between tickers, as the seed collector learned the hard way.
    public static let yahooFinance = RateLimitPolicy(minimumSpacing: 5)
    /// Alpha Vantage free keys: 5 calls a minute and 25 a day, per key; notes in 200 bodies.
    public static let alphaVantage = RateLimitPolicy(keyBucket: .perInterval(5, seconds: 60), dailyQuotaPerKey: 25, bodyNotes: true)
}
