import Events
import Foundation
@testable import Projections
import Testing
import TickfoldTesting

@Suite("projector without servers")  // not .onTestThreads: a test here blocks the cooperative pool on purpose
struct ProjectorUnitTests {
    @Test("batches double while reads come back full, halve when caught up, and stay within bounds")
    func batchSizing() {
        var sizing = BatchSizing(minimum: 100, maximum: 1_000, initial: 200)
        sizing.adjust(read: 200, status: .more)
        #expect(sizing.current == 400)
        sizing.adjust(read: 400, status: .more)
        sizing.adjust(read: 800, status: .more)
        #expect(sizing.current == 1_000)
        sizing.adjust(read: 10, status: .more)
        #expect(sizing.current == 1_000, "a short read that is not caught up keeps the size")
        sizing.adjust(read: 3, status: .caughtUp)
        #expect(sizing.current == 500)
        for _ in 0..<10 { sizing.adjust(read: 0, status: .caughtUp) }
        #expect(sizing.current == 100)
        sizing.adjust(read: 100, status: .reachedStop)
        #expect(sizing.current == 100)
        #expect(BatchSizing(minimum: 10, maximum: 20, initial: 5).current == 10)
        #expect(BatchSizing(minimum: 10, maximum: 20, initial: 500).current == 20)
    }

    @Test("a batch folded in slices on several threads equals the one-thread fold, rejects and their order included")
    func parallelFold() throws {
        var events = try EventCodecBenchmark.sampleEvents(count: 12_000, seed: 42)
        events.insert(try Samples.raw(type: "bar.daily", version: 2, payload: ["close": "x"], seq: 0), at: 7_000)
        events.insert(try Samples.raw(type: "bar.weekly", version: 1, payload: ["close": "1"], seq: 0), at: 11)
        for index in events.indices { events[index].seq = UInt64(index + 1) }
        let projections: [any Projection] = [CollectedProjection()]
        let sequential = try ProjectionEngine.fold(events, projections: projections)
        #expect(sequential.rejects.count == 2 && sequential.rows.count > 10_000)
        for parts in [2, 3, 4] {
            #expect(try ParallelFold.fold(events, projections: projections, parts: parts) == sequential, "\(parts) slices")
        }
        let small = Array(events.prefix(ParallelFold.minimumEvents - 1))
        #expect(try ParallelFold.fold(small, projections: projections, parts: 4) == ProjectionEngine.fold(small, projections: projections))

        // An event without a seq fails the batch with the error the one-thread fold reports first.
        var unlogged = events
        unlogged[9_000].seq = nil
        unlogged[10_000].seq = nil
        let expected = try #require(throws: ProjectionError.self) { try ProjectionEngine.fold(unlogged, projections: projections) }
        let error = try #require(throws: ProjectionError.self) { try ParallelFold.fold(unlogged, projections: projections, parts: 4) }
        #expect(error.description == expected.description)
        #expect(error.message.contains(unlogged[9_000].id.hex))
    }

    @Test("runBlocking's BlockingTask finishes even when every cooperative thread is blocked waiting on one",
          .timeLimit(.minutes(5)))
    func blockingTaskOnBlockedPool() async throws {
        // Far more blocked waiters than the pool has threads: an operation that needed a pool
        // thread would never run, and this test would hit its time limit. The operation awaits
        // blocking work on a queue, as the projector's sinks do; not `Task.sleep`, whose wake-up
        // ignores the executor preference and needs a pool thread (swiftlang/swift#74395).
        let waiters = 4 * max(ProcessInfo.processInfo.activeProcessorCount, 2)
        let io = DispatchQueue(label: "test.blocking-io")
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<waiters {
                group.addTask {
                    try BlockingTask {
                        try await QueuedWork(on: io) {
                            Thread.sleep(forTimeInterval: 0.02)
                            return index
                        }.value()
                    }.value()
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(sum == (0..<waiters).reduce(0, +))
    }

    @Test("the log source reads in seq order from after the checkpoint, reports caught up and the stop seq")
    func logSource() throws {
        let directory = try TemporaryDirectory("log-source")
        let log = try EventLog(directory: directory.file("log"), options: EventLogOptions(durability: .noSync))
        defer { log.close() }
        let events = try (0..<25).map { try Samples.bar("SPY", "2025-03-\(String(format: "%02d", $0 % 28 + 1))", close: DecimalString("\(100 + $0)")!, seq: 0) }
        _ = try log.appendBlocking(events: events)
        let source = LogEventSource(log: log)
        try source.start(after: [LogEventSource.checkpointKey: 5])
        let first = try source.read(max: 10, stopAfter: nil)
        #expect(first.events.map(\.seq) == (6...15).map { Optional(UInt64($0)) })
        #expect(first.events.first?.id == events[5].id)
        #expect(first.positions == [CheckpointPosition(source: "log", partition: 0, position: 15)])
        #expect(first.status == .more)
        #expect(try source.backlog() == 10)
        let second = try source.read(max: 100, stopAfter: nil)
        #expect(second.events.count == 10 && second.status == .caughtUp)
        let empty = try source.read(max: 100, stopAfter: nil)
        #expect(empty.isEmpty && empty.status == .caughtUp)

        let bounded = LogEventSource(log: log)
        try bounded.start(after: [:])
        let upTo = try bounded.read(max: 100, stopAfter: 7)
        #expect(upTo.events.count == 7 && upTo.status == .reachedStop)
        #expect(try bounded.read(max: 100, stopAfter: 7).status == .reachedStop)

        // A checkpoint at the head resumes; one past it is another log's, refused by name.
        try LogEventSource(log: log).start(after: [LogEventSource.checkpointKey: 25])
        let error = #expect(throws: ProjectionError.self) { try LogEventSource(log: log).start(after: [LogEventSource.checkpointKey: 26]) }
        #expect(error?.code == .checkpointPastSource)
        #expect(error?.message.hasPrefix("the checkpoint log/0 = 26 is past the last seq 25 of the log at \(log.directory)") == true, "\(String(describing: error))")
    }

    @Test("the log source's wait returns when an append commits, and is cancellable")
    func logSourceWaits() async throws {
        let directory = try TemporaryDirectory("log-source-wait")
        let log = try EventLog(directory: directory.file("log"), options: EventLogOptions(durability: .noSync))
        defer { log.close() }
        let source = LogEventSource(log: log)
        try source.start(after: [:])
        let waiting = Task { try await source.waitForEvents() }
        try await Task.sleep(for: .milliseconds(50))
        _ = try await log.append(events: [try Samples.bar("QQQ", "2025-03-14", close: "480.10", seq: 0)])
        try await waiting.value
        #expect(try source.read(max: 10, stopAfter: nil).events.count == 1)

        let cancelled = Task { try await source.waitForEvents() }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
    }

    @Test("a stop request wakes waiters, including ones that arrive after it")
    func stopRequest() async {
        let stop = StopRequest()
        #expect(!stop.isRequested)
        let waiter = Task { await stop.wait() }
        try? await Task.sleep(for: .milliseconds(20))
        stop.request()
        await waiter.value
        await stop.wait()
        #expect(stop.isRequested)
        let other = StopRequest()
        let cancelled = Task { await other.wait() }
        cancelled.cancel()
        await cancelled.value
        #expect(!other.isRequested)
    }
}
