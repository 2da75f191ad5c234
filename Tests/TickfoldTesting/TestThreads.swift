import Foundation
import Testing

/// A task executor of plain threads for tests whose bodies block (synchronous clients, child
/// processes, generating and logging events). Swift Testing starts every test at once on the
/// cooperative pool, which has one thread per core: two blocking tests hold it, and every
/// other test, including the awaits of timing-sensitive ones, queues behind them for tens of
/// seconds. Suites marked `.onTestThreads` run their tests here instead. (`Task.sleep`
/// resumes on the cooperative pool whatever the preference, swiftlang/swift#74395: code
/// that blocks right after a sleep runs there until its next suspension.)
public final class TestThreadPool: TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: `jobs` and `next` are only touched while holding `condition`.
    public static let shared = TestThreadPool(threads: 12)

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var next = 0

    private init(threads: Int) {
        for index in 0..<threads {
            let thread = Thread { [unowned self] in work() }
            thread.name = "tickfold-test-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.withLock {
            jobs.append(job)
            condition.signal()
        }
    }

    private func work() {
        while true {
            condition.lock()
            while next == jobs.count { condition.wait() }
            let job = jobs[next]
            next += 1
            // Drop the jobs taken: all of them once drained, or the taken prefix once it is
            // large, so a queue that never drains does not grow without bound.
            if next == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                next = 0
            } else if next >= 1_024 {
                jobs.removeFirst(next)
                next = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs each test of the suite with a preference for `TestThreadPool`: its body, and the
/// structured tasks it starts, run on those threads, not on the cooperative pool.
public struct OnTestThreads: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> OnTestThreads? {
        testCase == nil ? nil : self
    }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(TestThreadPool.shared) { try await function() }
    }
}

extension Trait where Self == OnTestThreads {
    /// See `OnTestThreads`.
    public static var onTestThreads: Self { OnTestThreads() }
}
