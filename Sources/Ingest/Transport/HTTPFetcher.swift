import Foundation
import Logging

/// How `HTTPFetcher` retries: bounded attempts, exponential backoff with jitter.
public struct RetryPolicy: Sendable, Codable, Equatable {
    /// Attempts in total, the first included.
    public var maxAttempts: Int
    /// The backoff before the second attempt, in seconds; doubles each time.
    public var baseDelay: TimeInterval
    /// The longest backoff, in seconds.
    public var maxDelay: TimeInterval
    /// A 429 whose Retry-After is at most this many seconds is waited out and retried;
    /// a longer one is handed back so the source stops until then.
    public var maxRetryAfter: TimeInterval

    public init(maxAttempts: Int = 4, baseDelay: TimeInterval = 0.5, maxDelay: TimeInterval = 30, maxRetryAfter: TimeInterval = 5) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// Decodes a configuration object; absent fields keep their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = RetryPolicy()
        self.init(maxAttempts: try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? defaults.maxAttempts,
                  baseDelay: try c.decodeIfPresent(TimeInterval.self, forKey: .baseDelay) ?? defaults.baseDelay,
                  maxDelay: try c.decodeIfPresent(TimeInterval.self, forKey: .maxDelay) ?? defaults.maxDelay,
                  maxRetryAfter: try c.decodeIfPresent(TimeInterval.self, forKey: .maxRetryAfter) ?? defaults.maxRetryAfter)
    }

    /// The backoff after failed attempt number `attempt` (1-based): the exponential step
    /// capped at `maxDelay`, scaled by a jitter in [0.5, 1) so clients that failed together
    /// do not retry together.
    public func delay(afterAttempt attempt: Int, unit: Double) -> TimeInterval {
        let exponential = baseDelay * pow(2, Double(max(0, attempt - 1)))
        return min(maxDelay, exponential) * (0.5 + 0.5 * unit)
    }
}

/// Sends requests through a transport and retries what is worth retrying: transport
/// failures and 5xx, with jittered exponential backoff, and 429 when its Retry-After is
/// short. Never retries other 4xx. Time and jitter come from injected sources.
public struct HTTPFetcher: Sendable {
    public let transport: any HTTPTransport
    public let retry: RetryPolicy
    public let clock: any WallClock
    public let random: any RandomUnitSource
    public let redactor: Redactor
    public let logger: Logger

    public init(transport: any HTTPTransport, retry: RetryPolicy = RetryPolicy(), clock: any WallClock = SystemWallClock(),
                random: any RandomUnitSource = SystemRandomUnitSource(), redactor: Redactor = Redactor(), logger: Logger) {
        self.transport = transport
        self.retry = retry
        self.clock = clock
        self.random = random
        self.redactor = redactor
        self.logger = logger
    }

    /// Fetches `request`. Returns the final response, whatever its status (a 5xx once the
    /// attempts are spent, a 429 whose wait is too long for a retry). Throws the last
    /// transport `FetchError` when no attempt got a response, or whatever `beforeAttempt`
    /// throws: it runs before every attempt, so a caller can take a rate-limit permit or
    /// refuse further attempts.
    public func fetch(_ request: HTTPRequest, source: String = "http",
                      beforeAttempt: @Sendable (Int) async throws -> Void = { _ in }) async throws -> HTTPResponse {
        var attempt = 0
        while true {
            attempt += 1
            try await beforeAttempt(attempt)
            let outcome: Result<HTTPResponse, FetchError>
            do {
                outcome = .success(try await transport.send(request))
            } catch let error as FetchError {
                outcome = .failure(FetchError(code: error.code, source: source, request: redactor.describe(request),
                                              status: error.status, detail: redactor.redact(error.detail), attempts: attempt))
            }
            let wait: TimeInterval
            switch outcome {
            case .success(let response):
                if response.status == 429, let after = RateLimitDetector.retryAfter(response.headers, now: clock.now()),
                   after.timeIntervalSince(clock.now()) <= retry.maxRetryAfter, attempt < retry.maxAttempts {
                    wait = max(0, after.timeIntervalSince(clock.now()))
                } else if (500..<600).contains(response.status), attempt < retry.maxAttempts {
                    wait = retry.delay(afterAttempt: attempt, unit: random.nextUnit())
                } else {
                    return response
                }
                logger.warning("retrying after HTTP status", metadata: [
                    "source": "\(source)", "request": "\(redactor.describe(request))", "status": "\(response.status)",
                    "attempt": "\(attempt)", "delay_s": "\(Self.format(wait))",
                ])
            case .failure(let error):
                guard attempt < retry.maxAttempts else { throw error }
                wait = retry.delay(afterAttempt: attempt, unit: random.nextUnit())
                logger.warning("retrying after transport failure", metadata: [
                    "source": "\(source)", "request": "\(redactor.describe(request))", "error": "\(error.detail)",
                    "attempt": "\(attempt)", "delay_s": "\(Self.format(wait))",
                ])
            }
            try await clock.sleep(until: clock.now() + wait)
        }
    }

    private static func format(_ seconds: TimeInterval) -> String { String(format: "%.3f", seconds) }
}
