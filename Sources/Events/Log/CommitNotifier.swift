import Synchronization

/// Wakes tasks waiting for events past a seq as soon as the writer commits them, without
/// polling: the writer publishes each committed seq, waiters resume right away.
final class CommitNotifier: Sendable {
    private struct Waiter {
        let after: UInt64
        let continuation: CheckedContinuation<UInt64, any Error>
    }

    private enum Slot {
        case reserved
        case waiting(Waiter)
        case cancelled
    }

    private struct State {
        var lastSeq: UInt64
        var closed = false
        var nextID = 0
        var slots: [Int: Slot] = [:]
    }

    private let state: Mutex<State>

    init(lastSeq: UInt64) {
        state = Mutex(State(lastSeq: lastSeq))
    }

    /// The newest committed seq.
    var lastSeq: UInt64 { state.withLock { $0.lastSeq } }

    /// Records that everything up to `seq` is committed and resumes the waiters it satisfies.
    func publish(_ seq: UInt64) {
        let (ready, last): ([Waiter], UInt64) = state.withLock { state in
            state.lastSeq = max(state.lastSeq, seq)
            var ready: [Waiter] = []
            for (id, slot) in state.slots {
                if case .waiting(let waiter) = slot, waiter.after < state.lastSeq {
                    ready.append(waiter)
                    state.slots[id] = nil
                }
            }
            return (ready, state.lastSeq)
        }
        for waiter in ready { waiter.continuation.resume(returning: last) }
    }

    /// Fails every current and future wait with `error`.
    func close(with error: EventLogError) {
        let waiting: [Waiter] = state.withLock { state in
            state.closed = true
            let waiting = state.slots.values.compactMap { slot -> Waiter? in
                if case .waiting(let waiter) = slot { return waiter }
                return nil
            }
            state.slots.removeAll()
            return waiting
        }
        for waiter in waiting { waiter.continuation.resume(throwing: error) }
    }

    /// Returns the newest committed seq once it exceeds `seq`; throws `CancellationError`
    /// when the task is cancelled and `closedError` when the log closes first.
    func wait(after seq: UInt64, closedError: EventLogError) async throws -> UInt64 {
        let id = state.withLock { state in
            state.nextID += 1
            state.slots[state.nextID] = .reserved
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<UInt64, any Error>) in
                let immediate: Result<UInt64, any Error>? = state.withLock { state in
                    if case .cancelled? = state.slots[id] {
                        state.slots[id] = nil
                        return .failure(CancellationError())
                    }
                    if state.lastSeq > seq {
                        state.slots[id] = nil
                        return .success(state.lastSeq)
                    }
                    if state.closed {
                        state.slots[id] = nil
                        return .failure(closedError)
                    }
                    state.slots[id] = .waiting(Waiter(after: seq, continuation: continuation))
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter: Waiter? = state.withLock { state in
                switch state.slots[id] {
                case .waiting(let waiter)?:
                    state.slots[id] = nil
                    return waiter
                case .reserved?:
                    state.slots[id] = .cancelled
                    return nil
                case .cancelled?, nil:
                    return nil
                }
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }
}
