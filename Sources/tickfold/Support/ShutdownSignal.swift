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
}
