import Events

/// Where a `Projector` reads events from: the LMDB log (`LogEventSource`) or the relay's Kafka
/// topics (`KafkaEventSource`).
///
/// A source is driven by one projector, one step at a time. `start` and `read` block (LMDB
/// reads, librdkafka polls) and are called on the projector's own thread, never on the
/// cooperative pool; `waitForEvents` is the only async step, used when caught up and following.
public protocol ProjectorSource: AnyObject, Sendable {
    /// `log` or `kafka`, for logs and status.
    var kind: String { get }

    /// Positions reading after `committed` (the projections' checkpoints, keyed by source
    /// partition, each the last applied position). Partitions absent from it start at their
    /// beginning. Called once, before the first `read`.
    func start(after committed: [CheckpointKey: Int64]) throws

    /// `start(after:)` knowing, for checkpoints that carry one, the seq of the event at the
    /// committed position (`CheckpointPosition.seq`): a source whose positions can come to
    /// name other events (a Kafka partition written again) checks them. The projector calls
    /// this one.
    func start(after committed: [CheckpointKey: Int64], seqs: [CheckpointKey: UInt64]) throws

    /// Up to `max` events in this source's delivery order, each with its `seq`, and where the
    /// read ended in every partition it advanced. Events whose seq is above `stopAfter` are
    /// neither returned nor passed (a partition stops there). Waits at most briefly.
    func read(max: Int, stopAfter: UInt64?) throws -> SourceBatch

    /// Returns once more events may be readable (the log grew; for Kafka, at once, since
    /// `read` itself waits a little). Throws `CancellationError` when cancelled.
    func waitForEvents() async throws

    /// How many events are available but not yet read, if the source can tell cheaply enough
    /// for a progress line (nil otherwise). Blocking.
    func backlog() throws -> Int64?

    /// Whether `error`, thrown by `start` or `read`, means the source's server is unreachable
    /// for now: a following projector waits and tries again (`Projector.Options.sourceRetry`).
    func isOutage(_ error: any Error) -> Bool
}

extension ProjectorSource {
    /// A local source (the log) has no outages: every error is final.
    public func isOutage(_ error: any Error) -> Bool { false }

    /// A source whose positions always name the same events (the log) needs no seqs.
    public func start(after committed: [CheckpointKey: Int64], seqs: [CheckpointKey: UInt64]) throws {
        try start(after: committed)
    }
}

/// One `ProjectorSource.read`.
public struct SourceBatch: Sendable {
    /// Events to fold, in delivery order, each carrying its `seq`.
    public var events: [Event]
    /// Per source partition advanced by this read, the last position read (the next read
    /// starts after it); committed as checkpoints together with the events' rows.
    public var positions: [CheckpointPosition]
    /// Messages skipped because they are not valid events (Kafka only; logged by the source).
    public var invalidMessages: Int
    /// Source partitions whose committed checkpoints must be dropped before `positions` are
    /// committed: the source found them written again and reads them from the start (Kafka
    /// only, see `KafkaEventSource`).
    public var resets: [CheckpointKey]
    public var status: Status

    /// What the source knows after the read.
    public enum Status: Sendable, Hashable {
        /// More may be available right away (a full batch, or a partition not yet at its end).
        case more
        /// Everything available now has been read.
        case caughtUp
        /// Every partition reached `stopAfter`: nothing more will be read.
        case reachedStop
    }

    public init(events: [Event], positions: [CheckpointPosition], invalidMessages: Int = 0, resets: [CheckpointKey] = [], status: Status) {
        self.events = events
        self.positions = positions
        self.invalidMessages = invalidMessages
        self.resets = resets
        self.status = status
    }

    /// Whether the read produced anything to apply (events, advanced positions or resets).
    public var isEmpty: Bool { events.isEmpty && positions.isEmpty && resets.isEmpty }
}
