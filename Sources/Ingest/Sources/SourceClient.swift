import Foundation
import Logging

/// One request to a source, relative to its base URL and without credentials: the client
/// adds the key at send time, so a `SourceRequest` is always safe to log or record.
public struct SourceRequest: Sendable {
    public var method: String
    /// Path below the base URL, unencoded, e.g. `/v8/finance/chart/^GSPC` (each segment is
    /// percent-encoded when the URL is built).
    public var path: String
    public var query: [(name: String, value: String)]
    public var headers: HTTPHeaders
    public var timeout: TimeInterval

    public init(method: String = "GET", path: String, query: [(name: String, value: String)] = [], headers: HTTPHeaders = [:], timeout: TimeInterval = 30) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.timeout = timeout
    }
}

/// What a fetch came to when it did not fail.
public enum FetchOutcome: Sendable {
    /// A successful response, and the key that paid for it.
    case fetched(HTTPResponse, key: KeyFingerprint)
    /// The source may not be called before `stop.until` (rate limited, quota spent, or the
    /// next permit too far away): progressive collection retries this request next run.
    case stopped(SourceStop)
}

/// A source's fetcher: builds requests against the configured base URL, puts the key on
/// them at send time, honours the rate-limit policy and key ring, counts quota in the
/// ledger, retries through `HTTPFetcher`, and turns rate-limit signals into stops.
public actor SourceClient {
    public let descriptor: SourceDescriptor
    public let baseURL: URL
    public let policy: RateLimitPolicy
    private let keys: [KeyFingerprint: APIKey]
    private var limiter: RateLimiter
    private let ledger: QuotaLedger?
    private let fetcher: HTTPFetcher
    private let redactor: Redactor
    private let logger: Logger

    private struct Stopped: Error {
        let stop: SourceStop
    }

    private struct SpentKey: Hashable {
        let key: KeyFingerprint
        let day: UTCDay
    }

    /// Daily counts kept in memory when no ledger is given (they do not survive a restart).
    private var unrecordedSpent: [SpentKey: Int] = [:]

    /// Throws `FetchError` `.missingCredentials` when the source needs keys and `keys` is
    /// empty. Stops recorded in `ledger` by a previous run are honoured.
    public init(descriptor: SourceDescriptor, baseURL: URL? = nil, keys: [APIKey] = [], policy: RateLimitPolicy? = nil,
                ledger: QuotaLedger? = nil, transport: any HTTPTransport, retry: RetryPolicy = RetryPolicy(),
                clock: any WallClock = SystemWallClock(), random: any RandomUnitSource = SystemRandomUnitSource(),
                logger: Logger) throws {
        if descriptor.credential != .none, keys.isEmpty {
            throw FetchError(code: .missingCredentials, source: descriptor.id, request: descriptor.id,
                             detail: "no API key: set \(descriptor.keyVariable ?? "a key variable") or \(descriptor.keyVariable ?? "it")_FILE")
        }
        self.descriptor = descriptor
        self.baseURL = baseURL ?? descriptor.defaultBaseURL
        self.policy = policy ?? descriptor.defaultPolicy
        var byFingerprint: [KeyFingerprint: APIKey] = [:]
        for key in keys { byFingerprint[key.fingerprint] = key }
        self.keys = byFingerprint
        redactor = Redactor(keys: keys)
        var limiter = RateLimiter(source: descriptor.id, policy: self.policy, keys: keys.map(\.fingerprint))
        for stop in ledger?.stops(source: descriptor.id, now: clock.now()) ?? [] {
            limiter.block(stop.key, until: stop.until, reason: stop.reason)
        }
        self.limiter = limiter
        self.ledger = ledger
        self.logger = logger
        fetcher = HTTPFetcher(transport: transport, retry: retry, clock: clock, random: random, redactor: redactor, logger: logger)
    }

    /// Fetches `request`: a successful response, a stop, or a `FetchError` (transport
    /// failure after retries, or a status that is neither success nor rate limit).
    public func fetch(_ request: SourceRequest) async throws -> FetchOutcome {
        for _ in 0...limiter.keys.count {
            let permit: RateLimiter.Permit
            do { permit = try reserve(only: nil) } catch let stopped as Stopped { return stop(stopped.stop) }
            try await fetcher.clock.sleep(until: permit.at)
            let httpRequest = try build(request, key: keys[permit.key])
            let response: HTTPResponse
            do {
                response = try await fetcher.fetch(httpRequest, source: descriptor.id) { attempt in
                    guard attempt > 1 else { return }
                    let retryPermit = try await self.reserve(only: permit.key)
                    try await self.fetcher.clock.sleep(until: retryPermit.at)
                }
            } catch let stopped as Stopped {
                return stop(stopped.stop)
            }
            let now = fetcher.clock.now()
            if let signal = RateLimitDetector.signal(in: response, now: now, bodyNotes: policy.bodyNotes) {
                try apply(signal, key: permit.key, now: now, request: httpRequest)
                if signal.kind == .refused { continue }
            }
            guard response.isSuccess else {
                var error = FetchError(code: .httpStatus, source: descriptor.id, request: redactor.describe(httpRequest),
                                       status: response.status, detail: bodyExcerpt(response.body))
                error.responseBody = response.body
                throw error
            }
            logger.debug("fetched", metadata: [
                "source": "\(descriptor.id)", "request": "\(redactor.describe(httpRequest))", "status": "\(response.status)",
                "key": "\(permit.key)", "bytes": "\(response.body.count)",
            ])
            return .fetched(response, key: permit.key)
        }
        let now = fetcher.clock.now()
        let until = limiter.keys.compactMap { limiter.blockedUntil($0, now: now) }.min() ?? now + RateLimitDetector.defaultPause
        return stop(SourceStop(source: descriptor.id, until: until, reason: "every key was refused"))
    }

    /// Takes a permit and counts it in the ledger in one step, so concurrent fetches can
    /// neither share a slot nor overspend a quota.
    private func reserve(only key: KeyFingerprint?) throws -> RateLimiter.Permit {
        switch limiter.reserve(now: fetcher.clock.now(), only: key, spent: spentCounter()) {
        case .stopped(let until, let reason):
            throw Stopped(stop: SourceStop(source: descriptor.id, until: until, reason: reason))
        case .proceed(let permit):
            if policy.dailyQuotaPerKey != nil {
                let day = UTCDay(permit.at)
                if let ledger {
                    try ledger.record(source: descriptor.id, key: permit.key, day: day)
                } else {
                    unrecordedSpent[SpentKey(key: permit.key, day: day), default: 0] += 1
                }
            }
            return permit
        }
    }

    private func spentCounter() -> (KeyFingerprint, UTCDay) -> Int {
        let ledger = ledger, source = descriptor.id, unrecorded = unrecordedSpent
        return { key, day in
            ledger?.spent(source: source, key: key, day: day) ?? unrecorded[SpentKey(key: key, day: day), default: 0]
        }
    }

    private func apply(_ signal: RateLimitSignal, key: KeyFingerprint, now: Date, request: HTTPRequest) throws {
        let until = max(signal.until, now + 1)
        let reason = redactor.redact(signal.reason)
        limiter.block(key, until: until, reason: reason)
        try ledger?.stop(source: descriptor.id, key: key, until: until, reason: reason)
        if signal.dailyQuotaSpent, let quota = policy.dailyQuotaPerKey {
            if let ledger {
                try ledger.markSpent(source: descriptor.id, key: key, day: UTCDay(now), quota: quota)
            } else {
                let spentKey = SpentKey(key: key, day: UTCDay(now))
                unrecordedSpent[spentKey] = max(unrecordedSpent[spentKey, default: 0], quota)
            }
        }
        logger.warning("rate limited", metadata: [
            "source": "\(descriptor.id)", "request": "\(redactor.describe(request))", "key": "\(key)",
            "until": "\(ISO8601DateFormatter().string(from: until))", "reason": "\(reason)",
        ])
    }

    private func stop(_ stop: SourceStop) -> FetchOutcome {
        logger.notice("source stopped", metadata: [
            "source": "\(descriptor.id)", "until": "\(ISO8601DateFormatter().string(from: stop.until))", "reason": "\(stop.reason)",
        ])
        return .stopped(stop)
    }

    private func build(_ request: SourceRequest, key: APIKey?) throws -> HTTPRequest {
        var query = request.query
        var headers = request.headers
        switch descriptor.credential {
        case .none: break
        case .query(let name): if let key { query.append((name, key.revealedValue)) }
        case .header(let name): if let key { headers.set(name, key.revealedValue) }
        case .bearer: if let key { headers.set("Authorization", "Bearer \(key.revealedValue)") }
        }
        if headers["User-Agent"] == nil { headers.set("User-Agent", "tickfold") }
        var base = baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let path = request.path.split(separator: "/").map { "/" + QueryString.percentEncode($0) }.joined()
        let text = query.isEmpty ? base + path : base + path + "?" + QueryString.encode(query)
        guard let url = URL(string: text) else {
            throw FetchError(code: .invalidRequest, source: descriptor.id, request: redactor.redact(text), detail: "not a valid URL")
        }
        return HTTPRequest(method: request.method, url: url, headers: headers, timeout: request.timeout)
    }

    private func bodyExcerpt(_ body: [UInt8]) -> String {
        let excerpt = String(decoding: body.prefix(300), as: UTF8.self)
        return redactor.redact(excerpt) + (body.count > 300 ? "…" : "")
    }
}
