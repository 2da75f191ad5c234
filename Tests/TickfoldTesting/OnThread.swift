import Foundation

/// Runs long blocking test work (generating and logging events, publishing, waiting for a
/// child process) on a thread of its own instead of a cooperative thread: a full parallel run
/// keeps the two cooperative threads busy for seconds.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
