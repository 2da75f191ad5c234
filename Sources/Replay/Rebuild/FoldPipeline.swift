import Events
import Foundation
import Projections

/// Reads and folds log ranges on a thread of its own, one batch ahead of the caller that
/// writes them, so folding (CPU in this process) overlaps the sinks' writes (mostly waiting
/// on PostgreSQL). At most one folded batch waits, so memory stays at about two batches.
///
/// `@unchecked Sendable`: `slots`, `finished` and `cancelled` are only touched under `condition`.
final class FoldPipeline: @unchecked Sendable {
    /// One folded batch: the changes, how many events they came from, the last seq.
    struct Folded: Sendable {
        let changes: ProjectionChanges
        let events: Int
        let last: UInt64
    }

    private let condition = NSCondition()
    private var slots: [Result<Folded, any Error>] = []
    private var finished = false
    private var cancelled = false
    private let done = DispatchGroup()

    /// Starts folding `from`…`through` in batches of `batchSize` with `projections`.
    init(log: EventLog, projections: [any Projection], from: UInt64, through: UInt64, batchSize: Int) {
        done.enter()
        let thread = Thread { [self] in
            defer { done.leave() }
            var decoder = EventDecoder()
            var batch: [Event] = []
            batch.reserveCapacity(batchSize)
            var next = from
            while next <= through {
                let end = min(through, next + UInt64(batchSize) - 1)
                batch.removeAll(keepingCapacity: true)
                let item: Result<Folded, any Error> = Result {
                    try log.forEach(from: next, through: end) { view in
                        var event = try decoder.decode(view.canonicalJSON, verification: .trustStored)
                        event.seq = view.seq
                        batch.append(event)
                    }
                    guard let last = batch.last?.seq else { throw EndOfLog() }
                    return Folded(changes: try ProjectionEngine.fold(batch, projections: projections), events: batch.count, last: last)
                }
                if case .failure(let error) = item, error is EndOfLog { break }
                guard put(item) else { return }
                guard case .success(let folded) = item else { return }
                next = folded.last + 1
            }
            finish()
        }
        thread.stackSize = 4 << 20
        thread.start()
    }

    /// The next folded batch, nil at the end of the range; rethrows a read or fold failure.
    func next() throws -> Folded? {
        condition.lock()
        defer { condition.unlock() }
        while slots.isEmpty && !finished { condition.wait() }
        guard !slots.isEmpty else { return nil }
        let item = slots.removeFirst()
        condition.broadcast()
        return try item.get()
    }

    /// Stops the folding thread and waits for it (it may be reading the log).
    func close() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
        done.wait()
    }

    /// Queues `item` once the slot is free; false when cancelled.
    private func put(_ item: Result<Folded, any Error>) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !slots.isEmpty && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        slots.append(item)
        condition.broadcast()
        return true
    }

    private func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The log ended before `through` (it cannot shrink, so only a caller's overshoot).
    private struct EndOfLog: Error {}
}
