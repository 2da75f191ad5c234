import Dispatch
import Foundation

/// An async operation started from synchronous code, whose result a thread can wait for.
///
/// The operation runs on a dedicated executor, not on the cooperative pool, so a caller that
/// blocks one of the pool's (few) threads while it waits cannot starve the very operation it
/// waits for. Its continuations resume on that executor; `Task.sleep` and `Task.yield` do not
/// (swiftlang/swift#74395), so an operation that must not need a pool thread avoids them.
///
/// `@unchecked Sendable`: `result` is written once under `lock` before `done` is signalled.
public final class BlockingTask<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, any Error>?

    public init(_ operation: @escaping @Sendable () async throws -> T) {
        Task(executorPreference: DedicatedExecutor(label: "tickfold.blocking-task")) { [self] in
            let outcome: Result<T, any Error>
            do { outcome = .success(try await operation()) } catch { outcome = .failure(error) }
            lock.withLock { result = outcome }
            done.signal()
        }
    }

    /// Blocks until the operation ends; returns its value or rethrows its error.
    public func value() throws -> T {
        done.wait()
        done.signal()
        return try lock.withLock { result! }.get()
    }
}

/// A task executor on a serial dispatch queue of its own.
final class DedicatedExecutor: TaskExecutor {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Blocking work started on a dispatch queue, whose result one async caller awaits (now or
/// later), without holding a thread of the cooperative pool meanwhile.
///
/// `@unchecked Sendable`: `result` and `waiter` are only touched under `lock`.
final class QueuedWork<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?
    private var waiter: CheckedContinuation<T, any Error>?

    init(on queue: DispatchQueue, _ body: @escaping @Sendable () throws -> T) {
        queue.async { [self] in
            let outcome = Result { try body() }
            let waiting: CheckedContinuation<T, any Error>? = lock.withLock {
                result = outcome
                defer { waiter = nil }
                return waiter
            }
            waiting?.resume(with: outcome)
        }
    }

    /// The body's value, once it has run.
    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<T, any Error>? = lock.withLock {
                if let result { return result }
                waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
