import Events

/// Reads the LMDB event log in `seq` order: checkpoint source `log`, partition 0, position =
/// the last applied seq. Tails the log with `EventLog.waitForEvents(after:)`, which wakes on
/// commits in the writing process and sleeps with a short backoff in a reader process.
///
/// `@unchecked Sendable`: its mutable state (`next`) is touched only by the one
/// projector that drives it, one step at a time (see `ProjectorSource`).
public final class LogEventSource: ProjectorSource, @unchecked Sendable {
    /// The checkpoint key of the log.
    public static let checkpointKey = CheckpointKey(source: "log", partition: 0)

    public let log: EventLog
    public var kind: String { "log" }
    /// The seq the next read starts at.
    public private(set) var next: UInt64 = 1

    public init(log: EventLog) {
        self.log = log
    }

    /// Refuses a checkpoint past the log's last seq: the events it covers were read from
    /// another log (or this one before it was restored from an older copy), and reading on
    /// from there would pass over this log's events up to it, reported as caught up.
    public func start(after committed: [CheckpointKey: Int64]) throws {
        let position = UInt64(max(committed[Self.checkpointKey] ?? 0, 0))
        if position > 0 {
            let last = try log.lastSeq()
            guard position <= last else {
                throw ProjectionError(.checkpointPastSource, operation: "start reading the log", message:
                    "the checkpoint \(Self.checkpointKey) = \(position) is past the last seq \(last) of the log at \(log.directory): "
                    + "another log, or one restored from an older copy; point --log at the log the projection was built from, "
                    + "or rebuild it from this log with `tickfold replay --from 1`")
            }
        }
        next = position + 1
    }

    public func read(max: Int, stopAfter: UInt64?) throws -> SourceBatch {
        precondition(max > 0, "read(max:) needs a positive max")
        if let stopAfter, next > stopAfter {
            return SourceBatch(events: [], positions: [], status: .reachedStop)
        }
        let end = min(next &+ UInt64(max) &- 1, stopAfter ?? .max)
        let events = try log.events(from: next, through: end, limit: max)
        guard let last = events.last?.seq else {
            return SourceBatch(events: [], positions: [], status: .caughtUp)
        }
        next = last + 1
        let position = CheckpointPosition(source: Self.checkpointKey.source, partition: Self.checkpointKey.partition, position: Int64(last))
        let status: SourceBatch.Status
        if let stopAfter, last >= stopAfter {
            status = .reachedStop
        } else if events.count == max {
            status = .more
        } else {
            status = .caughtUp
        }
        return SourceBatch(events: events, positions: [position], status: status)
    }

    public func waitForEvents() async throws {
        _ = try await log.waitForEvents(after: next - 1)
    }

    public func backlog() throws -> Int64? {
        let last = try log.lastSeq()
        return last >= next ? Int64(last - next + 1) : 0
    }
}
