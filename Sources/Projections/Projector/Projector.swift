import Dispatch
import Events
import Logging

/// The projector service: reads batches from a `ProjectorSource` and applies them through a
/// `ProjectionEngine` (rows, rejects and checkpoints in one PostgreSQL transaction, keys in
/// Redis), resuming after the engine's committed checkpoints.
///
/// Batches grow while the source is behind and shrink once it is caught up (`BatchSizing`).
/// `run()` ends when the source is caught up (unless `Options.follow`), when every partition
/// reached `Options.stopAfter`, or on a stop request (`requestStop()` or cancelling the task
/// that runs it): the batch in hand is applied and checkpointed first, nothing is dropped.
///
/// Reading and folding run one batch ahead of writing: while the sinks write batch N
/// (mostly waiting on PostgreSQL), batch N+1 is read from the source and folded, so the fold
/// (CPU in this process) overlaps the server's work; the fold itself runs on one thread per
/// core (`ParallelFold`), and a batch keeps only its changes once folded. At most one folded
/// batch waits, and a batch read ahead is simply dropped on a stop (checkpoints only move
/// with written batches).
/// Every blocking call runs on one of the projector's two serial dispatch queues (the source
/// and the folds on one, the sinks on the other), never on the cooperative pool.
///
/// Replays reuse it to fold a log range into another schema and key namespace: build the
/// engine on the target `PostgresSink(schema:)`/`RedisSink(namespace:)`, pass a
/// `LogEventSource`, `Options.startAfter` = the range's start − 1 and `Options.stopAfter` =
/// its end, and watch `Options.onProgress` for events/s and the backlog (ETA).
public final class Projector: Sendable {
    public struct Options: Sendable {
        /// Keep reading after catching up (tail the log / keep polling Kafka).
        public var follow: Bool
        /// The last seq to apply; nil reads to the end of the source.
        public var stopAfter: UInt64?
        /// Where partitions without a committed checkpoint start: the last position to treat
        /// as applied (e.g. `LogEventSource.checkpointKey: from - 1` for a replay range).
        public var startAfter: [CheckpointKey: Int64]
        public var batch: BatchSizing
        /// How often a progress line is logged (and `onProgress` called at least).
        public var progressInterval: Duration
        /// Called after every applied batch and at the end, from the task running `run()`.
        public var onProgress: (@Sendable (ProjectorProgress) -> Void)?
        /// How `start` and `read` are retried when the source reports an outage
        /// (`ProjectorSource.isOutage`: a Kafka broker gone). `.none` fails at once; a
        /// following service passes `.unbounded`, whose interruption its shutdown sets: then
        /// the run ends as stopped, with everything written so far checkpointed.
        public var sourceRetry: RetryPolicy = .none
        /// How often a following projector with nothing to do checks that Redis still holds
        /// the keys (`ProjectionEngine.checkRedisKeys`); batches check it themselves.
        public var redisCheckInterval: Duration = .seconds(5)

        public init(
            follow: Bool = false, stopAfter: UInt64? = nil, startAfter: [CheckpointKey: Int64] = [:],
            batch: BatchSizing = BatchSizing(), progressInterval: Duration = .seconds(5),
            onProgress: (@Sendable (ProjectorProgress) -> Void)? = nil
        ) {
            self.follow = follow
            self.stopAfter = stopAfter
            self.startAfter = startAfter
            self.batch = batch
            self.progressInterval = progressInterval
            self.onProgress = onProgress
        }
    }

    /// Why `run()` returned.
    public enum StopReason: String, Sendable, Hashable {
        case caughtUp
        case reachedStop
        case stopRequested
    }

    public let engine: ProjectionEngine
    public let source: any ProjectorSource
    public let options: Options
    private let logger: Logger
    private let stop = StopRequest()
    /// Source reads, folds and backlog queries.
    private let readQueue: DispatchQueue
    /// Sink writes.
    private let writeQueue: DispatchQueue

    public init(engine: ProjectionEngine, source: any ProjectorSource, options: Options = Options(), logger: Logger = Logger(label: "tickfold.projector")) {
        self.engine = engine
        self.source = source
        self.options = options
        self.logger = logger
        readQueue = DispatchQueue(label: "tickfold.projector.\(source.kind).read")
        writeQueue = DispatchQueue(label: "tickfold.projector.\(source.kind).write")
    }

    /// Asks `run()` to stop after the batch in hand is applied and checkpointed.
    public func requestStop() {
        stop.request()
    }

    /// The position to start from per source partition: for each, the lowest committed
    /// checkpoint among the engine's projections (re-applying to one that is ahead is
    /// idempotent), else `Options.startAfter`.
    public func startPositions() throws -> [CheckpointKey: Int64] {
        try startCheckpoints().mapValues(\.position)
    }

    /// `startPositions()` with the seq each chosen position was committed with (from the
    /// projection whose checkpoint it is; nil from `Options.startAfter`).
    func startCheckpoints() throws -> [CheckpointKey: CheckpointPosition] {
        let committed = try engine.projections.map { try engine.committedPositions(projection: $0.name) }
        var keys = Set(options.startAfter.keys)
        for checkpoint in committed { keys.formUnion(checkpoint.keys) }
        var positions: [CheckpointKey: CheckpointPosition] = [:]
        for key in keys {
            let each = committed.map { $0[key] ?? options.startAfter[key].map { CheckpointPosition(source: key.source, partition: key.partition, position: $0) } }
            guard !each.isEmpty, each.allSatisfy({ $0 != nil }) else { continue }
            positions[key] = each.compactMap { $0 }.min { $0.position < $1.position }
        }
        return positions
    }

    /// `run()` for synchronous callers (replays, benchmarks): blocks the calling thread, which
    /// must not be one of the cooperative pool's.
    public func runBlocking() throws -> ProjectorRun {
        try BlockingTask { try await self.run() }.value()
    }

    /// Runs until caught up (or forever with `follow`), the stop seq, or a stop request;
    /// returns the final progress. Throws when the source or a sink fails past its retries;
    /// everything committed before stays committed and a restart resumes from it.
    public func run() async throws -> ProjectorRun {
        try await withTaskCancellationHandler {
            try await loop()
        } onCancel: {
            stop.request()
        }
    }

    /// One source read, folded: its events are dropped once folded, so a batch waiting to be
    /// written holds only its changes.
    private struct Prepared: Sendable {
        let batch: ReadSummary
        let changes: ProjectionChanges
    }

    private func loop() async throws -> ProjectorRun {
        let clock = ContinuousClock()
        let started = clock.now
        let start: [CheckpointKey: Int64]
        do {
            start = try await blocking(on: readQueue) { [self] in
                let checkpoints = try startCheckpoints()
                let positions = checkpoints.mapValues(\.position)
                // Before anything is written: a Redis that lost the keys is refused here.
                try engine.verifyRedisKeys()
                try retryingOutages("start reading") { try source.start(after: positions, seqs: checkpoints.compactMapValues(\.seq)) }
                return positions
            }
        } catch where stop.isRequested && source.isOutage(error) {
            logger.warning("projector stopped before its source answered", metadata: ["error": "\(error)"])
            return ProjectorRun(reason: .stopRequested, progress: ProjectorProgress(source: source.kind, positions: [:]))
        }
        var progress = ProjectorProgress(source: source.kind, positions: start)
        var sizing = options.batch
        var lastLog = started
        var lastRedisCheck = started
        logger.info("projector started", metadata: [
            "source": "\(source.kind)", "projections": "\(engine.projections.map(\.label).joined(separator: ","))",
            "from": "\(Self.describe(start))", "follow": "\(options.follow)",
        ])
        var ahead: QueuedWork<Prepared>?
        let reason: StopReason
        do {
            while true {
                if stop.isRequested {
                    reason = .stopRequested
                    break
                }
                let prepared: Prepared
                do {
                    if let next = ahead {
                        ahead = nil
                        prepared = try await next.value()
                    } else {
                        prepared = try await prepare(size: sizing.current)
                    }
                } catch where stop.isRequested && source.isOutage(error) {
                    // Stopped while the source was out: what was written is checkpointed.
                    logger.warning("projector stopped while its source was unreachable", metadata: ["error": "\(error)"])
                    reason = .stopRequested
                    break
                }
                let batch = prepared.batch
                sizing.adjust(read: batch.events + batch.invalidMessages, status: batch.status)
                if batch.status == .more && !stop.isRequested {
                    ahead = prepareAhead(size: sizing.current)
                }
                if !batch.isEmpty {
                    let summary = try await blocking(on: writeQueue) { [engine] in
                        try engine.apply(changes: prepared.changes, events: batch.events, positions: batch.positions, resetting: batch.resets)
                    }
                    progress.record(batch, summary)
                }
                progress.batchSize = sizing.current
                progress.caughtUp = batch.status != .more
                progress.elapsed = clock.now - started
                if !batch.isEmpty { options.onProgress?(progress) }
                // An idle wake-up (the Redis check's) reads nothing and logs nothing.
                if !batch.isEmpty || batch.status == .more, clock.now - lastLog >= options.progressInterval {
                    lastLog = clock.now
                    await logProgress(progress)
                }
                switch batch.status {
                case .more:
                    continue
                case .reachedStop:
                    reason = .reachedStop
                case .caughtUp where !options.follow:
                    reason = .caughtUp
                case .caughtUp:
                    if !batch.isEmpty {
                        lastRedisCheck = clock.now
                    } else if clock.now - lastRedisCheck >= options.redisCheckInterval {
                        lastRedisCheck = clock.now
                        try await blocking(on: writeQueue) { [engine] in try engine.checkRedisKeys() }
                    }
                    try await waitForEventsOrStop(atMost: options.redisCheckInterval)
                    continue
                }
                break
            }
        } catch {
            // The source must be idle before the caller may reuse or close it.
            _ = try? await ahead?.value()
            throw error
        }
        _ = try? await ahead?.value()
        progress.elapsed = clock.now - started
        options.onProgress?(progress)
        logger.info("projector stopped", metadata: progress.metadata.merging(["reason": "\(reason.rawValue)"]) { $1 })
        return ProjectorRun(reason: reason, progress: progress)
    }

    /// Reads up to `size` events and folds them, on the read queue.
    private func prepare(size: Int) async throws -> Prepared {
        try await prepareAhead(size: size).value()
    }

    /// Starts reading and folding up to `size` events on the read queue.
    private func prepareAhead(size: Int) -> QueuedWork<Prepared> {
        let stopAfter = options.stopAfter
        return QueuedWork(on: readQueue) { [self, source, engine] in
            let batch = try retryingOutages("read") { try source.read(max: size, stopAfter: stopAfter) }
            return Prepared(batch: ReadSummary(batch), changes: try ParallelFold.fold(batch.events, projections: engine.projections))
        }
    }

    /// Runs `body` (a source call, on the read queue), waiting out outages by
    /// `Options.sourceRetry`: each retried failure is logged and told to the policy's observer.
    private func retryingOutages<T>(_ operation: String, _ body: () throws -> T) throws -> T {
        let (source, stop) = (source, stop)
        return try options.sourceRetry.run("\(source.kind) \(operation)", logger: logger, warning: "\(source.kind) source unavailable; retrying",
                                           metadata: ["operation": "\(operation)"], isRetryable: { source.isOutage($0) && !stop.isRequested }, body).value
    }

    /// Sleeps until the source may have more, a stop is requested, or `limit` has passed.
    private func waitForEventsOrStop(atMost limit: Duration) async throws {
        let source = source
        let stop = stop
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.waitForEvents() }
            group.addTask { await stop.wait() }
            group.addTask { try await Task.sleep(for: limit) }
            defer { group.cancelAll() }
            do {
                try await group.next()
            } catch is CancellationError {
                // The other task won, or the run was cancelled: the loop checks the stop request.
            }
        }
    }

    private func logProgress(_ progress: ProjectorProgress) async {
        var metadata = progress.metadata
        if let backlog = try? await blocking(on: readQueue, { [source] in try source.backlog() }) {
            metadata["backlog"] = "\(backlog)"
        }
        logger.info("projector progress", metadata: metadata)
    }

    /// Runs `body` on `queue` and resumes with its result.
    private func blocking<T: Sendable>(on queue: DispatchQueue, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await QueuedWork(on: queue, body).value()
    }

    static func describe(_ positions: [CheckpointKey: Int64]) -> String {
        positions.isEmpty ? "beginning" : positions.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

/// What a projector did so far.
public struct ProjectorProgress: Sendable, Hashable {
    public var source: String
    /// The last applied position per source partition (the start positions until a batch lands).
    public var positions: [CheckpointKey: Int64]
    public var events = 0
    public var batches = 0
    public var rowsWritten = 0
    public var keysChanged = 0
    /// Rejects the folds produced (re-delivered ones included).
    public var rejects = 0
    public var invalidMessages = 0
    /// The highest seq applied so far.
    public var lastSeq: UInt64?
    public var batchSize = 0
    /// Whether the last read found the source caught up (or at the stop).
    public var caughtUp = false
    public var elapsed: Duration = .zero

    public init(source: String, positions: [CheckpointKey: Int64]) {
        self.source = source
        self.positions = positions
    }

    public var eventsPerSecond: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return seconds > 0 ? Double(events) / seconds : 0
    }

    mutating func record(_ batch: ReadSummary, _ summary: ApplySummary) {
        batches += 1
        events += batch.events
        invalidMessages += batch.invalidMessages
        rowsWritten += summary.postgres.rowsWritten
        keysChanged += summary.redisKeys.changed
        rejects += summary.rejects
        for key in batch.resets { positions[key] = nil }
        for position in batch.positions { positions[position.key] = position.position }
        if let last = batch.lastSeq, last > lastSeq ?? 0 { lastSeq = last }
    }

    /// Structured fields of a progress log line.
    public var metadata: Logger.Metadata {
        [
            "source": "\(source)", "events": "\(events)", "batches": "\(batches)", "events_per_s": "\(Int(eventsPerSecond))",
            "rows_written": "\(rowsWritten)", "keys_changed": "\(keysChanged)", "rejects": "\(rejects)",
            "invalid_messages": "\(invalidMessages)", "last_seq": "\(lastSeq.map(String.init) ?? "-")", "batch_size": "\(batchSize)",
            "positions": "\(Projector.describe(positions))",
        ]
    }
}

/// What the projector keeps of a `SourceBatch` once its events are folded.
struct ReadSummary: Sendable {
    let events: Int
    let invalidMessages: Int
    let positions: [CheckpointPosition]
    let resets: [CheckpointKey]
    let status: SourceBatch.Status
    /// The highest seq among the events.
    let lastSeq: UInt64?

    init(_ batch: SourceBatch) {
        events = batch.events.count
        invalidMessages = batch.invalidMessages
        positions = batch.positions
        resets = batch.resets
        status = batch.status
        lastSeq = batch.events.lazy.compactMap(\.seq).max()
    }

    /// Whether the read produced anything to apply (events, advanced positions or resets).
    var isEmpty: Bool { events == 0 && positions.isEmpty && resets.isEmpty }
}

/// How a `Projector.run()` ended.
public struct ProjectorRun: Sendable, Hashable {
    public let reason: Projector.StopReason
    public let progress: ProjectorProgress
}
