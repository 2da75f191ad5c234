import Dispatch
import Foundation
import Synchronization

/// Turns SIGTERM and SIGINT into a flag long-running commands poll between steps, so
/// they drain, checkpoint and exit 0 instead of dying mid-batch.
final class ShutdownSignal: @unchecked Sendable {  // `sources` is written only in init; the flag is atomic
    private let requested = Atomic<Bool>(false)
    private var sources: [any DispatchSourceSignal] = []

    init() {
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in requested.store(true, ordering: .relaxed) }
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
}
