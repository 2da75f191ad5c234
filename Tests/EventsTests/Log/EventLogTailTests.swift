import Events
import Foundation
import Testing
import TickfoldTesting

@Suite("EventLog tailing", .onTestThreads)
struct EventLogTailTests {
    @Test("a waiting tailer wakes as soon as an in-process append commits")
    func wakesOnAppend() async throws {
        let (temporary, path) = try LogFixtures.directory()
        // noSync: the measured latency is then the log's, not the shared disk's fsync.
        let log = try EventLog(directory: path, options: EventLogOptions(durability: .noSync))
        _ = try await log.append(LogFixtures.records(0..<3))
        #expect(try await log.waitForEvents(after: 2) == 3)

        let clock = ContinuousClock()
        let waiter = Task { () -> (UInt64, ContinuousClock.Instant) in
            let seq = try await log.waitForEvents(after: 3)
            return (seq, clock.now)
        }
        try await Task.sleep(for: .milliseconds(50))
        _ = try await log.append([LogFixtures.record(3)])
        let appendedAt = clock.now
        let (seq, wokeAt) = try await waiter.value
        #expect(seq == 4)
        // The writer resumes waiters when it commits, before it completes the append itself;
        // the bound is loose because parallel tests can hold the (2-thread) cooperative pool.
        #expect(wokeAt - appendedAt < .seconds(5))
        _ = temporary
    }

    @Test("cancelling a waiting tailer ends its wait with CancellationError; closing the log ends the others")
    func cancelAndClose() async throws {
        let (temporary, path) = try LogFixtures.directory()
        let log = try EventLog(directory: path)
        let cancelled = Task { try await log.waitForEvents(after: 0) }
        let closed = Task { try await log.waitForEvents(after: 0) }
        try await Task.sleep(for: .milliseconds(20))
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        log.close()
        let error = await #expect(throws: EventLogError.self) { try await closed.value }
        #expect(error?.code == .closed)
        _ = temporary
    }

    @Test("a read-only log sees appends made by another process")
    func otherProcessAppends() async throws {
        let (temporary, path) = try LogFixtures.directory()
        let writer = try EventLog(directory: path, options: EventLogOptions(compressionLevel: nil))
        _ = try await writer.append(LogFixtures.records(0..<3))
        writer.close()

        let reader = try EventLog(directory: path, options: .readOnly)
        let waiter = Task { try await reader.waitForEvents(after: 3) }
        try await Task.sleep(for: .milliseconds(30))

        // Another process (LMDB's own mdb_load) appends seq 4 as an uncompressed record.
        let record = LogFixtures.record(3)
        let value = [UInt8(0)] + record.id.bytes + record.canonicalJSON
        try LogFixtures.load([(LogFixtures.key(4), value)], into: "events", of: path)

        #expect(try await waiter.value == 4)
        #expect(try reader.event(at: 4)?.canonicalJSON == record.canonicalJSON)
        _ = temporary
    }
}
