import Foundation
import Logging
import Synchronization

/// Exponential backoff for sinks whose server went away: up to `attempts` tries in all,
/// waiting `initialDelay`, then twice as long each time, never more than `maxDelay`. A
/// service uses `unbounded` (it waits out an outage however long, as SPEC §10 asks) with an
/// `interruption` that its shutdown sets, so a stop request ends the waiting.
public struct RetryPolicy: Sendable, Equatable {
    public var attempts: Int
    public var initialDelay: Duration
    public var maxDelay: Duration
    /// When set and interrupted, no further attempt is made and waits end at once.
    public var interruption: RetryInterruption?
    /// Told of every failure that will be retried (what failed, the attempt, the error), so
    /// a service can report itself degraded.
    public var observer: (@Sendable (_ operation: String, _ attempt: Int, _ error: String) -> Void)?

    public init(attempts: Int, initialDelay: Duration, maxDelay: Duration, interruption: RetryInterruption? = nil) {
        precondition(attempts >= 1, "a retry policy needs at least one attempt")
        self.attempts = attempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.interruption = interruption
    }

    /// 10 attempts from 50 ms up to 5 s: rides out a server restart of ~15 s.
    public static let standard = RetryPolicy(attempts: 10, initialDelay: .milliseconds(50), maxDelay: .seconds(5))
    /// One attempt: failures surface at once.
    public static let none = RetryPolicy(attempts: 1, initialDelay: .zero, maxDelay: .zero)

    /// Retries until the server is back or `interruption` is set: from 100 ms up to 10 s.
    public static func unbounded(interruption: RetryInterruption) -> RetryPolicy {
        RetryPolicy(attempts: .max, initialDelay: .milliseconds(100), maxDelay: .seconds(10), interruption: interruption)
    }

    /// Whether another attempt follows the `failures`-th consecutive failure (1-based).
    public func allowsAttempt(afterFailure failures: Int) -> Bool {
        failures < attempts && !(interruption?.isInterrupted ?? false)
    }

    /// How long to wait after the `failures`-th consecutive failure (1-based).
    public func delay(afterFailure failures: Int) -> Duration {
        var delay = initialDelay
        for _ in 1..<min(max(1, failures), 64) where delay < maxDelay { delay *= 2 }
        return min(delay, maxDelay)
    }

    /// Runs `body` until it returns, retrying after each error `isRetryable` accepts while the
    /// policy allows another attempt: each retried failure is logged as `warning` (with the
    /// error and the attempt) and told to the observer as `operation`, then waited out. Any
    /// other error, or the last one, is thrown as it is. Returns the value and the retries.
    func run<T>(
        _ operation: String, logger: Logger, warning: @autoclosure () -> Logger.Message, metadata: Logger.Metadata = [:],
        isRetryable: (any Error) -> Bool, _ body: () throws -> T
    ) throws -> (value: T, retries: Int) {
        var failures = 0
        while true {
            do {
                return (try body(), failures)
            } catch where isRetryable(error) && allowsAttempt(afterFailure: failures + 1) {
                failures += 1
                logger.warning(warning(), metadata: metadata.merging(["error": "\(error)", "attempt": "\(failures)"]) { $1 })
                observer?(operation, failures, "\(error)")
                wait(afterFailure: failures)
            }
        }
    }

    /// Blocks the calling thread (sinks are synchronous; async callers run them off the
    /// pool), in short slices so that an interruption ends the wait.
    func wait(afterFailure failures: Int) {
        let deadline = ContinuousClock.now + delay(afterFailure: failures)
        while ContinuousClock.now < deadline, !(interruption?.isInterrupted ?? false) {
            let left = deadline - ContinuousClock.now
            let slice = min(left, .milliseconds(50))
            let (seconds, attoseconds) = slice.components
            Thread.sleep(forTimeInterval: max(0, Double(seconds) + Double(attoseconds) / 1e18))
        }
    }

    public static func == (lhs: RetryPolicy, rhs: RetryPolicy) -> Bool {
        lhs.attempts == rhs.attempts && lhs.initialDelay == rhs.initialDelay && lhs.maxDelay == rhs.maxDelay
            && lhs.interruption === rhs.interruption
    }
}

/// A one-way latch a service's shutdown sets to end the sinks' retries during an outage.
public final class RetryInterruption: Sendable {
    private let interrupted = Atomic<Bool>(false)

    public init() {}

    public var isInterrupted: Bool { interrupted.load(ordering: .relaxed) }

    public func interrupt() { interrupted.store(true, ordering: .relaxed) }
}
