import Events
import Foundation
import Logging

/// What one `ProjectionEngine.apply` did.
public struct ApplySummary: Sendable, Hashable {
    public var events = 0
    public var postgres = PostgresApplySummary()
    public var redisKeys = RedisWriteSummary()
    public var derivedFields = RedisWriteSummary()
    /// Rejects produced by the folds (recorded once; re-delivered rejects are not recounted
    /// in `postgres.rejectsRecorded`).
    public var rejects = 0
}

/// Runs the folds of selected projections over batches of logged events and writes their
/// changes: PostgreSQL rows, rejects and checkpoints in one transaction, and the Redis keys
/// and derived fields just before its COMMIT.
///
/// Replays swap rebuilt outputs in under a running engine (`ProjectionSwap`): the batch
/// transaction takes the swap lock and refuses a schema holding other projection versions
/// before anything reaches Redis, and the Redis scripts refuse a namespace pointer that moved
/// (the sink then follows it), so keys of an old version never reach a swapped-in namespace.
///
/// Write order and crashes: Redis writes are idempotent and seq-guarded, so they happen
/// before the COMMIT that advances the checkpoint. A crash between the two leaves Redis ahead
/// of the checkpoint; the projector then re-delivers the batch from the committed checkpoint,
/// Redis refuses the equal seqs, and PostgreSQL gets its rows. The reverse order could lose
/// Redis writes whose checkpoint already committed. Derived hashes (`sp500_market_data`) are
/// computed inside the transaction, from the merged rows, and go out with the keys.
///
/// Lost keys: every batch also sets each projection's marker key in Redis (`RedisKeysState`),
/// and once a marker is known written (checked by `verifyRedisKeys()` at start, or written by
/// a batch) a batch that finds it gone fails with `redisKeysLost` instead of writing only the
/// new events' keys into a Redis that restarted empty or was flushed. The check runs in the
/// batch's own round trip, so a reconnect to a restarted server is noticed by its first batch.
/// The marker carries the projection's batch count, advanced in the batch's transaction
/// (`projection_batches`); a batch whose marker holds a count below PostgreSQL's committed one
/// (a Redis restored from an older snapshot) fails with `redisKeysLost` as well. The count
/// advances only in transactions that write Redis (a replay without Redis carries the live
/// count over at its swap instead, see `Replayer.swap`).
///
/// `@unchecked Sendable`: the sinks are used only under `lock`, one batch at a time, so the
/// projector service may own the engine from any (dedicated, blocking) thread.
public final class ProjectionEngine: @unchecked Sendable {
    public let projections: [any Projection]
    public let postgres: PostgresSink
    /// `nil` runs PostgreSQL only; key writes are then dropped.
    public let redis: RedisSink?
    private let lock = NSLock()
    private let logger: Logger
    /// Projections whose marker is known written under the sink's prefix: their next batch
    /// requires it to be there.
    private var markersWritten = Set<String>()

    public init(projections: [any Projection], postgres: PostgresSink, redis: RedisSink?, logger: Logger = Logger(label: "tickfold.projections.engine")) {
        self.projections = projections
        self.postgres = postgres
        self.redis = redis
        self.logger = logger
    }

    /// Checks, for every projection with a committed checkpoint, that Redis still holds its
    /// keys (the projector calls it before its first batch); throws `redisKeysLost` naming the
    /// replay that rebuilds them when it does not, or when they are older than the checkpoint
    /// (`RedisKeysState.stale`). A projection without a checkpoint is new, not an error; keys
    /// written before markers existed get their marker now.
    public func verifyRedisKeys() throws {
        guard let redis else { return }
        try lock.withLock {
            for projection in projections {
                let checkpoint = try postgres.checkpoint(projection: projection.name)
                let batches = try postgres.batchCount(projection: projection.name)
                switch try redis.keysState(projection: projection, hasCheckpoint: !checkpoint.isEmpty, batches: batches) {
                case .fresh:
                    markersWritten.remove(projection.name)
                case .present:
                    markersWritten.insert(projection.name)
                case .unmarked:
                    logger.notice("Redis keys without a marker (written before markers existed); writing it", metadata: [
                        "projection": "\(projection.name)", "marker": "\(redis.markerKey(projection: projection.name))",
                    ])
                    let value = RedisLayout.markerValue(label: projection.label, batch: batches > 0 ? batches : nil)
                    _ = try redis.write([], derived: [], markers: [RedisMarker(projection: projection.name, value: value, mustExist: false)])
                    markersWritten.insert(projection.name)
                case .lost:
                    throw keysLost(projection.name, checkpoint: checkpoint, redis: redis)
                case .stale:
                    throw keysStale(projection.name, markerBatch: try redis.markerBatch(projection: projection.name), redis: redis)
                }
            }
        }
    }

    /// Between batches (a following projector with nothing to do): checks that the markers
    /// known written are still there, as a batch would, without writing anything else; throws
    /// `redisKeysLost` when one is gone. Without it an idle projector would learn of a Redis
    /// restart only with its next event, which may be days away (a weekend, a closed market).
    /// It checks that the markers exist, not their batch counts: a replay may swap in another
    /// schema and prefix (with counts of their own) between two checks, while a batch reads
    /// the count in the transaction that holds the swap lock. A Redis restored from an older
    /// snapshot is therefore noticed by the next batch, or the next start.
    public func checkRedisKeys() throws {
        guard let redis else { return }
        try lock.withLock {
            let markers = projections.filter { markersWritten.contains($0.name) }.map {
                RedisMarker(projection: $0.name, value: nil, mustExist: true)
            }
            guard !markers.isEmpty else { return }
            do {
                _ = try redis.write([], derived: [], markers: markers)
            } catch let missing as RedisMarkerMissing {
                throw keysLost(missing, redis: redis)
            }
        }
    }

    /// Every projection's marker for a batch whose transaction advanced the batch counts to
    /// `batches` (called under `lock`): a marker known written must hold at least the count
    /// committed before (one less; the batch's own when it was written before a COMMIT that
    /// did not happen).
    private func markers(batches: [String: Int64]) -> [RedisMarker] {
        projections.map { projection in
            let batch = batches[projection.name]
            return RedisMarker(
                projection: projection.name, value: RedisLayout.markerValue(label: projection.label, batch: batch),
                mustExist: markersWritten.contains(projection.name), minimumBatch: batch.map { $0 - 1 })
        }
    }

    /// The `redisKeysLost` error for the projection whose marker `missing` names (called
    /// under `lock`, after the batch's transaction rolled back).
    private func keysLost(_ missing: RedisMarkerMissing, redis: RedisSink) -> ProjectionError {
        let projection = projection(markerKey: missing.key, redis: redis)
        return keysLost(projection, checkpoint: (try? postgres.checkpoint(projection: projection)) ?? [:], redis: redis)
    }

    /// The projection whose marker is `key` (the key itself when none is).
    private func projection(markerKey key: String, redis: RedisSink) -> String {
        projections.first { redis.markerKey(projection: $0.name) == key }?.name ?? key
    }

    /// A checkpoint as the loss messages name it.
    private static func describe(_ checkpoint: [CheckpointKey: Int64]) -> String {
        checkpoint.isEmpty ? "its last batch" : checkpoint.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// The `redisKeysLost` error for a marker holding the batch count `markerBatch`, below
    /// PostgreSQL's (called under `lock`, after any batch transaction rolled back).
    private func keysStale(_ projection: String, markerBatch: Int64?, redis: RedisSink) -> ProjectionError {
        ProjectionError(.redisKeysLost, operation: "check Redis keys", message: RedisKeysLoss.staleMessage(
            projection: projection, markerKey: redis.markerKey(projection: projection), markerBatch: markerBatch,
            batches: (try? postgres.batchCount(projection: projection)) ?? 0,
            checkpoint: Self.describe((try? postgres.checkpoint(projection: projection)) ?? [:]), schema: postgres.schema, namespace: redis.namespace))
    }

    /// The `redisKeysLost` error for `projection`, naming its remedy.
    private func keysLost(_ projection: String, checkpoint: [CheckpointKey: Int64], redis: RedisSink) -> ProjectionError {
        ProjectionError(.redisKeysLost, operation: "check Redis keys", message: RedisKeysLoss.message(
            projection: projection, markerKey: redis.markerKey(projection: projection), checkpoint: Self.describe(checkpoint),
            schema: postgres.schema, namespace: redis.namespace))
    }

    /// The changes the projections' folds make for `batch`, events in order. Every event must
    /// carry its `seq`.
    public static func fold(_ batch: [Event], projections: [any Projection]) throws(ProjectionError) -> ProjectionChanges {
        try fold(batch[...], projections: projections)
    }

    /// `fold` of a slice of a batch (a thread's share, see `ParallelFold`).
    static func fold(_ batch: ArraySlice<Event>, projections: [any Projection]) throws(ProjectionError) -> ProjectionChanges {
        var changes = ProjectionChanges()
        // Events are passed by index, not iterated: iterating copies each event (a retain
        // and release of its arrays), a measurable share of a rebuild's CPU.
        for index in batch.indices {
            guard let seq = batch[index].seq else {
                throw ProjectionError(.invalidArgument, operation: "fold batch", message: "event \(batch[index].id) (\(batch[index].type)) has no seq; only logged events can be projected")
            }
            for projection in projections {
                projection.fold(batch[index], seq: seq, into: &changes)
            }
        }
        return changes
    }

    /// Folds `batch` and writes the result; `positions` are where the batch ends in each
    /// source partition, committed as every selected projection's checkpoint together with
    /// the rows. Lost connections are retried with backoff inside; if this throws, nothing of
    /// the PostgreSQL part is committed and the caller re-delivers from `checkpoint(...)`.
    @discardableResult
    public func apply(batch: [Event], positions: [CheckpointPosition]) throws -> ApplySummary {
        try apply(changes: try Self.fold(batch, projections: projections), events: batch.count, positions: positions)
    }

    /// Writes `changes` that `fold(_:projections:)` made from `events` events with this
    /// engine's projections, as `apply(batch:positions:)` does; lets a caller fold the next
    /// batch on another thread while this one is written (rebuilds). The checkpoints of the
    /// `resetting` partitions are dropped first, in the same transaction (`SourceBatch.resets`).
    @discardableResult
    public func apply(changes: ProjectionChanges, events: Int, positions: [CheckpointPosition], resetting: [CheckpointKey] = []) throws -> ApplySummary {
        try lock.withLock {
            var summary = ApplySummary()
            summary.events = events
            summary.rejects = changes.rejects.count
            var checkpoints: [String: [CheckpointPosition]] = [:]
            for projection in projections { checkpoints[projection.name] = positions }
            let derived = redis == nil ? [] : projections.flatMap { $0.derivedHashes }
            // A lost Redis connection fails the transaction at once (it holds the swap lock and
            // row locks); the backoff happens here, outside it, and the batch runs again.
            do {
                let retries = try (redis?.retry ?? .none).run(
                    "Redis write", logger: logger, warning: "Redis write failed, retrying the batch",
                    isRetryable: { ($0 as? ProjectionError)?.isLostRedisConnection ?? false }
                ) {
                    summary.postgres = try postgres.apply(
                        rows: changes.rows, rejects: changes.rejects, checkpoints: checkpoints, resetting: resetting, derived: derived,
                        versionsOf: projections, countingBatches: redis == nil ? [] : projections.map(\.name)
                    ) { values, batches in
                        // Under the swap lock, after the version check, before COMMIT: see the
                        // type's documentation. One round trip for keys and derived fields.
                        guard let redis else { return }
                        (summary.redisKeys, summary.derivedFields) = try redis.write(
                            changes.keys, derived: values, markers: markers(batches: batches), retry: RetryPolicy.none)
                    }
                }.retries
                summary.redisKeys.retries += retries
                if redis != nil { markersWritten.formUnion(projections.map(\.name)) }
                return summary
            } catch let missing as RedisMarkerMissing {
                // Rolled back: nothing of this batch is committed.
                guard let redis else { throw missing }
                throw keysLost(missing, redis: redis)
            } catch let stale as RedisMarkerStale {
                guard let redis else { throw stale }
                throw keysStale(projection(markerKey: stale.key, redis: redis), markerBatch: stale.batch, redis: redis)
            }
        }
    }

    /// The committed checkpoint of `projection` (position per source partition).
    public func checkpoint(projection: String) throws -> [CheckpointKey: Int64] {
        try lock.withLock { try postgres.checkpoint(projection: projection) }
    }

    /// The committed checkpoint of `projection` with each position's seq.
    public func committedPositions(projection: String) throws -> [CheckpointKey: CheckpointPosition] {
        try lock.withLock { try postgres.committedPositions(projection: projection) }
    }
}
