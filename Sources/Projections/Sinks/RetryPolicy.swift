import Foundation

/// Bounded exponential backoff for sinks whose server went away: `attempts` tries in all,
/// waiting `initialDelay`, then twice as long each time, never more than `maxDelay`.
public struct RetryPolicy: Sendable, Hashable {
    public var attempts: Int
    public var initialDelay: Duration
    public var maxDelay: Duration

    public init(attempts: Int, initialDelay: Duration, maxDelay: Duration) {
        precondition(attempts >= 1, "a retry policy needs at least one attempt")
        self.attempts = attempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    /// 10 attempts from 50 ms up to 5 s: rides out a server restart of ~15 s.
    public static let standard = RetryPolicy(attempts: 10, initialDelay: .milliseconds(50), maxDelay: .seconds(5))
    /// One attempt: failures surface at once.
    public static let none = RetryPolicy(attempts: 1, initialDelay: .zero, maxDelay: .zero)

    /// How long to wait after the `failures`-th consecutive failure (1-based).
    public func delay(afterFailure failures: Int) -> Duration {
        var delay = initialDelay
        for _ in 1..<max(1, failures) where delay < maxDelay { delay *= 2 }
        return min(delay, maxDelay)
    }

    /// Blocks the calling thread (sinks are synchronous; async callers run them off the pool).
    func wait(afterFailure failures: Int) {
        let delay = delay(afterFailure: failures)
        let (seconds, attoseconds) = delay.components
        Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
    }
}
