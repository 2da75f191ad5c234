import Dispatch
import Foundation
import Logging
import Synchronization

/// Turns SIGTERM and SIGINT into a flag long-running commands poll between steps, so
/// they drain, checkpoint and exit 0 instead of dying mid-batch.
final class ShutdownSignal: @unchecked Sendable {  // `sources` is written only in init; the rest is atomic or locked
    private let requested = Atomic<Bool>(false)
    /// When the first signal was handled, to report how long the stop took.
    private let requestedAt = Mutex<ContinuousClock.Instant?>(nil)
    private var sources: [any DispatchSourceSignal] = []

    init() {
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in
                requestedAt.withLock { $0 = $0 ?? ContinuousClock.now }
                requested.store(true, ordering: .relaxed)
            }
            source.resume()
            sources.append(source)
        }
    }

    var isRequested: Bool { requested.load(ordering: .relaxed) }

    /// Returns once a stop is requested, or once `limit` has passed (a flag, so it looks a
    /// few times a second).
    func wait(atMost limit: Duration? = nil) async throws {
        let deadline = limit.map { ContinuousClock.now + $0 }
        while !isRequested, deadline.map({ ContinuousClock.now < $0 }) ?? true {
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Logs how long the command took to stop after the signal (`stop_ms`), when one came:
    /// the figure an operator (or a test) checks against a supervisor's grace period, free of
    /// the time the signal waited for the process to be scheduled.
    func logStop(_ logger: Logger) {
        guard let at = requestedAt.withLock({ $0 }) else { return }
        logger.info("stopped on request", metadata: ["stop_ms": "\((ContinuousClock.now - at).wholeMilliseconds)"])
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded down.
    var wholeMilliseconds: Int64 { components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000 }
}
