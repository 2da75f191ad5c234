import Events
import Foundation
import Logging
import Postgres
import Projections
import Redis

/// Rebuilds projections from the event log beside the live ones and swaps the rebuild in
/// without downtime (SPEC §5).
///
/// A run: create and migrate a shadow schema and pick a shadow key prefix; for a middle
/// `--from`, copy the live state below it (see `ReplayPlan`); fold the log into the shadow
/// with a `ProjectionEngine` of its own while the live projector keeps serving and
/// advancing; chase the log head; then swap. The swap holds the live schema's swap lock
/// (`ProjectionSwap`, session level, so every live batch transaction waits), folds the last
/// events up to the head, copies the live projector's other source positions (Kafka
/// offsets), renames the live schema away and the shadow to the live name in one
/// transaction, flips the Redis namespace pointer, releases the lock, and drops the old
/// schema and keys. The live projector's statements name the schema, so its next batch
/// writes the new tables; it writes keys under the lock, and its scripts refuse a moved
/// pointer, so it follows the pointer before writing any. With `--to` the shadow is a point-in-time copy kept beside the live output.
///
/// Synchronous and blocking; one replay per instance.
public final class Replayer {
    public let options: ReplayOptions
    let log: EventLog
    let admin: PostgresConnection
    let redis: RedisConnection?
    let logger: Logger

    /// Opens the control connections (the shadow engine opens its own when the run starts).
    public init(log: EventLog, options: ReplayOptions, logger: Logger = Logger(label: "tickfold.replay")) throws {
        guard !options.projections.isEmpty else {
            throw ReplayError(.invalidArgument, operation: "start", message: "no projections to replay")
        }
        try Self.validate(id: options.id)
        self.log = log
        self.options = options
        self.logger = logger
        admin = try Self.wrap(.postgres, "connect to PostgreSQL") { try PostgresConnection(options.conninfo) }
        redis = try options.redisURL.map { url in
            try Self.wrap(.redis, "connect to Redis") { try RedisConnection(url: url, clientName: "tickfold-replay") }
        }
    }

    /// Decides what a replay of `from`…`through` (nil: to the head, then swap) will do,
    /// reading only: the log head, the live checkpoint and versions, the active key prefix.
    public func plan(from: UInt64, through: UInt64?) throws -> ReplayPlan {
        guard from >= 1 else {
            throw ReplayError(.invalidPosition, operation: "plan", message: "--from must be at least 1")
        }
        let head = try Self.wrap(.log, "read log head") { try log.lastSeq() }
        if let through {
            guard from == 1 else {
                throw ReplayError(.invalidPosition, operation: "plan",
                    message: "--to builds the projection as of seq \(through), which needs every event before it: use --from 1 (live rows cannot be cut back to an older position)")
            }
            guard through <= head else {
                throw ReplayError(.invalidPosition, operation: "plan", message: "--to seq \(through) is past the log head \(head)")
            }
        }
        guard from <= head + 1 else {
            throw ReplayError(.invalidPosition, operation: "plan", message: "--from seq \(from) is past the log head \(head)")
        }
        let live = options.schema
        // PostgreSQL cuts identifiers to 63 bytes: longer shadow names would collide silently.
        for name in ["\(live)_r\(options.id)", "\(live)_old_\(options.id)"] where name.utf8.count > 63 {
            throw ReplayError(.invalidArgument, operation: "plan", message:
                "schema name \(name) is \(name.utf8.count) bytes, over PostgreSQL's 63: use a shorter --schema or --id")
        }
        let exists = try Self.wrap(.postgres, "look up schema \(live)") {
            try admin.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [live]).rows.count == 1
        }
        var liveCheckpoint: UInt64?
        var liveVersions: [String: Int] = [:]
        if exists {
            // The shadow gets this build's migrations and replaces live: a live schema a newer
            // build migrated would be swapped for an older shape its projector cannot use.
            do {
                _ = try Migrator().version(admin, schema: live)
            } catch let error as ProjectionError where error.code == .schemaTooNew || error.code == .migrationChanged {
                throw ReplayError(.projection, operation: "plan", message:
                    "\(error.message). A replay by this build would swap in a schema of its own migrations in place of it: replay with the build that migrated \(live)",
                    underlying: error)
            } catch {
                throw ReplayError(.postgres, operation: "read migrations of \(live)", message: "\(error)", underlying: error)
            }
            liveCheckpoint = try readLiveCheckpoint()
            liveVersions = ProjectionSwap.versions(inComment: try Self.wrap(.postgres, "read versions of \(live)") {
                try ProjectionSwap.schemaComment(admin, schema: live)
            })
        }
        let pointer = RedisNamespacePointer(namespace: options.namespace)
        let liveKeyPrefix = try redis.map { connection in try Self.wrap(.redis, "resolve namespace pointer") { try pointer.resolve(connection) } }
        var notes: [String] = []
        var foldFrom = from
        var copyBelow: UInt64?
        if from > 1 {
            if let checkpoint = liveCheckpoint, checkpoint > 0 {
                if checkpoint + 1 < from {
                    foldFrom = checkpoint + 1
                    notes.append("the live projection is at seq \(checkpoint): refolding from \(foldFrom), not \(from), so no event is missed")
                }
                copyBelow = foldFrom
                if let lost = try lostKeys(prefix: liveKeyPrefix) {
                    // Copying keys below N from a Redis that lost them would leave them missing.
                    foldFrom = 1
                    copyBelow = nil
                    notes.append("the live Redis keys of \(lost) are lost (no marker under \"\(liveKeyPrefix ?? "")\", or one older than the checkpoint): nothing to copy, refolding from 1")
                }
            } else {
                foldFrom = 1
                notes.append("the live projection has no log checkpoint (never projected from the log, or fed from Kafka): nothing to copy, refolding from 1")
            }
        }
        for projection in options.projections {
            if let version = liveVersions[projection.name], version != projection.version {
                notes.append("live holds \(projection.name)@v\(version); this replay deploys \(projection.label) (the projector must run a build with v\(projection.version) after the swap)")
            }
        }
        return ReplayPlan(
            requestedFrom: from, foldFrom: foldFrom, through: through, head: head, copyBelow: copyBelow,
            liveCheckpoint: liveCheckpoint, liveSchema: live, liveSchemaExists: exists,
            shadowSchema: "\(live)_r\(options.id)", retiredSchema: "\(live)_old_\(options.id)",
            liveKeyPrefix: liveKeyPrefix, shadowKeyPrefix: redis == nil ? nil : pointer.shadowPrefix(id: options.id),
            pointerKey: redis == nil ? nil : pointer.key, projections: options.projections.map(\.label).sorted(),
            liveVersions: liveVersions, notes: notes)
    }

    /// The first replayed projection whose live keys under `prefix` are lost or stale
    /// (`RedisKeysState.lost`, `.stale`; asked only of a live projection with a checkpoint), if any.
    func lostKeys(prefix: String?) throws -> String? {
        guard let redis, let prefix else { return nil }
        let batches = try Self.wrap(.postgres, "read live batch counts") {
            try PostgresSink.batchCounts(admin, schema: try quoted(options.schema), projections: options.projections.map(\.name))
        }
        return try Self.wrap(.redis, "check the live markers") {
            try options.projections.first {
                let state = try RedisKeysProbe.state(redis, prefix: prefix, projection: $0, hasCheckpoint: true, batches: batches[$0.name] ?? 0)
                return state == .lost || state == .stale
            }?.name
        }
    }

    /// The replayed projections whose live copy is fed from Kafka: checkpoints of other
    /// sources and either none of the log or one their seqs have passed (left at the head by
    /// a swap before this rule). Kafka checkpoints without seqs leave it undecided: log-fed.
    func kafkaFedLiveProjections() throws -> Set<String> {
        let rows = try Self.wrap(.postgres, "read live checkpoint sources") {
            try admin.query(
                """
                SELECT projection FROM (
                    SELECT projection, position, seq, source = 'log' AND partition = 0 AS logged
                    FROM \(quoted(options.schema)).projection_checkpoints WHERE projection = ANY($1::text[])) c
                GROUP BY projection
                HAVING bool_or(NOT logged)
                   AND (NOT bool_or(logged) OR max(seq) FILTER (WHERE NOT logged) > max(position) FILTER (WHERE logged))
                """, [Self.textArray(options.projections.map(\.name))]).rows
        }
        return Set(rows.compactMap { $0[0] })
    }

    /// The smallest log checkpoint among `names` (the replayed projections unless given; nil
    /// if one has none).
    func readLiveCheckpoint(of names: [String]? = nil) throws -> UInt64? {
        let names = names ?? options.projections.map(\.name)
        let rows = try Self.wrap(.postgres, "read live checkpoints") {
            try admin.query(
                "SELECT projection, position FROM \(quoted(options.schema)).projection_checkpoints WHERE source = 'log' AND partition = 0 AND projection = ANY($1::text[])",
                [Self.textArray(names)]).rows
        }
        var positions: [String: UInt64] = [:]
        for row in rows {
            if let name = row[0], let position = row[1].flatMap(UInt64.init) { positions[name] = position }
        }
        guard names.allSatisfy({ positions[$0] != nil }) else { return nil }
        return positions.values.min()
    }

    /// Carries `plan` out. Reports progress after every batch and phase. On failure before
    /// the swap, the shadow is dropped and the live output is untouched.
    @discardableResult
    public func run(_ plan: ReplayPlan, progress: @escaping (ReplayProgress) -> Void = { _ in }) throws -> ReplayResult {
        let started = ContinuousClock.now
        var state = RunState(started: started, progress: progress)
        try beginExclusive(plan)
        defer { _ = try? admin.query("SELECT pg_advisory_unlock($1)", [String(Self.replayLockKey(plan.liveSchema))]) }
        do {
            try Self.wrap(.postgres, "create shadow schema \(plan.shadowSchema)") {
                _ = try Migrator().migrate(admin, schema: plan.shadowSchema)
                try admin.execute("COMMENT ON SCHEMA \(try quoted(plan.shadowSchema)) IS \(literal(ProjectionSwap.comment(for: options.projections)))")
            }
            var copiedRows = 0
            var copiedKeys = 0
            if let below = plan.copyBelow {
                state.report(.copying, target: plan.events)
                copiedRows = try copyLiveRows(plan, below: below)
                copiedKeys = try copyLiveKeys(plan, below: below)
            }
            let engine = try shadowEngine(plan)
            if plan.copyBelow != nil {
                // The copied rows came in beside the sink: its running totals start from them.
                try Self.wrap(.postgres, "compute trailing sums of \(plan.shadowSchema)") { try engine.postgres.recomputeTrailingSums() }
            }
            // A shadow that starts empty is bulk loaded up to the head known at the start
            // (see `PostgresSink.beginBulkLoad`); the rest merges as the live projector does.
            var bulkLoading = plan.copyBelow == nil
            if bulkLoading {
                try Self.wrap(.projection, "start bulk load of \(plan.shadowSchema)") { try engine.postgres.beginBulkLoad() }
            }
            var next = plan.foldFrom
            if let through = plan.through {
                next = try fold(engine, from: next, through: through, phase: .folding, state: &state)
                try finishBulkLoad(engine, plan: plan)
                state.report(.done, target: state.folded)
                return ReplayResult(
                    plan: plan, folded: state.folded, copiedRows: copiedRows, copiedKeys: copiedKeys, swappedAt: nil,
                    droppedKeys: 0, seconds: Self.seconds(since: started))
            }
            // Fold to the head, then chase it until the rest is small enough to fold while
            // holding the swap lock.
            var phase = ReplayProgress.Phase.folding
            while true {
                let head = try Self.wrap(.log, "read log head") { try log.lastSeq() }
                if head < next || (phase == .catchingUp && head - next + 1 <= options.swapLag) { break }
                next = try fold(engine, from: next, through: head, phase: phase, state: &state)
                if bulkLoading {
                    try finishBulkLoad(engine, plan: plan)
                    bulkLoading = false
                }
                phase = .catchingUp
            }
            if bulkLoading { try finishBulkLoad(engine, plan: plan) }
            let swappedAt = try swap(plan, engine: engine, next: next, state: &state)
            state.report(.dropping, target: state.folded)
            let dropped = try dropRetired(plan)
            state.report(.done, target: state.folded)
            return ReplayResult(
                plan: plan, folded: state.folded, copiedRows: copiedRows, copiedKeys: copiedKeys, swappedAt: swappedAt,
                droppedKeys: dropped, seconds: Self.seconds(since: started))
        } catch let error as SwapCommitted {
            // The shadow is live now; only dropping the old copy failed.
            throw error.underlying
        } catch {
            dropShadow(plan)
            throw error
        }
    }

    /// One replay of a live schema at a time: takes its replay lock (session level, on the
    /// control connection) or fails at once, and checks that live has not moved since `plan`.
    func beginExclusive(_ plan: ReplayPlan) throws {
        let key = String(Self.replayLockKey(plan.liveSchema))
        let taken = try Self.wrap(.postgres, "take the replay lock of \(plan.liveSchema)") {
            try admin.query("SELECT pg_try_advisory_lock($1)", [key]).value(0, 0) == "t"
        }
        guard taken else {
            throw ReplayError(.swap, operation: "start", message: "another replay of schema \(plan.liveSchema) is running")
        }
        if let redis, let planned = plan.liveKeyPrefix {
            let current = try Self.wrap(.redis, "resolve namespace pointer") { try RedisNamespacePointer(namespace: options.namespace).resolve(redis) }
            guard current == planned else {
                _ = try? admin.query("SELECT pg_advisory_unlock($1)", [key])
                throw ReplayError(.swap, operation: "start", message: "the live keys moved from \"\(planned)\" to \"\(current)\" since the replay was planned; plan again")
            }
        }
    }

    /// The replay lock of a live schema (distinct from its swap lock).
    static func replayLockKey(_ schema: String) -> Int64 {
        ProjectionSwap.lockKey(schema: schema) ^ 0x5265_706c_6179_0001
    }

    /// The swap lock was released after a committed swap, and a later step failed.
    struct SwapCommitted: Error {
        let underlying: any Error
    }

    /// Counts and reports folded events.
    struct RunState {
        let started: ContinuousClock.Instant
        let progress: (ReplayProgress) -> Void
        var folded: UInt64 = 0

        func report(_ phase: ReplayProgress.Phase, target: UInt64) {
            progress(ReplayProgress(phase: phase, folded: folded, target: target, seconds: Replayer.seconds(since: started)))
        }
    }

    func shadowEngine(_ plan: ReplayPlan) throws -> ProjectionEngine {
        try Self.wrap(.projection, "open shadow sinks") {
            let postgres = try PostgresSink(
                conninfo: options.conninfo, schema: plan.shadowSchema, tables: options.projections.flatMap(\.tables),
                logger: Logger(label: "tickfold.replay.postgres"))
            let redis = try plan.shadowKeyPrefix.map { prefix in
                try RedisSink(url: options.redisURL ?? "", namespace: prefix, notifications: false, logger: Logger(label: "tickfold.replay.redis"))
            }
            return ProjectionEngine(projections: options.projections, postgres: postgres, redis: redis)
        }
    }

    /// Ends the shadow's bulk load: its tables converge and get their indexes, and the derived
    /// hashes are computed for every subject and written under the shadow key prefix.
    func finishBulkLoad(_ engine: ProjectionEngine, plan: ReplayPlan) throws {
        let derived = engine.redis == nil ? [] : options.projections.flatMap(\.derivedHashes)
        try Self.wrap(.projection, "finish bulk load of \(plan.shadowSchema)") {
            try engine.postgres.finishBulkLoad(derived: derived) { values in
                if let redis = engine.redis, !values.isEmpty { try redis.write(derived: values) }
            }
        }
    }

    /// Folds `from`…`through` into the shadow with a `Projector` over the log (the projector
    /// service's own loop: the next batch is read and folded while the sinks write this one);
    /// returns the next seq. Stops between batches when `options.shouldStop` says so.
    func fold(_ engine: ProjectionEngine, from: UInt64, through: UInt64, phase: ReplayProgress.Phase, state: inout RunState) throws -> UInt64 {
        guard from <= through else { return from }
        let target = state.folded + (through - from + 1)
        let reporter = FoldReporter(state: state, phase: phase, target: target, shouldStop: options.shouldStop)
        var logger = Logger(label: "tickfold.replay.fold")
        logger.logLevel = .warning
        let projector = Projector(
            engine: engine, source: LogEventSource(log: log),
            options: Projector.Options(
                stopAfter: through, startAfter: [LogEventSource.checkpointKey: Int64(from) - 1],
                batch: BatchSizing(minimum: options.batchSize, maximum: options.batchSize), progressInterval: .seconds(86_400),
                onProgress: { reporter.applied($0) }),
            logger: logger)
        reporter.projector = projector
        let run = try Self.wrap(.projection, "fold events \(from)…\(through)") { try projector.runBlocking() }
        state.folded = reporter.state.folded
        let next = (run.progress.lastSeq ?? from - 1) + 1
        if run.reason == .stopRequested || options.shouldStop() {
            throw ReplayError(.interrupted, operation: "fold", message: "stopped at seq \(next - 1); the shadow \(options.schema)_r\(options.id) is dropped, live is untouched")
        }
        return next
    }

    /// Turns a fold projector's progress into replay progress, and a stop request into
    /// `requestStop()`.
    ///
    /// `@unchecked Sendable`: `applied` runs on the projector's task while the replay thread
    /// waits in `runBlocking()`, and `state` is read back only after that returns.
    final class FoldReporter: @unchecked Sendable {
        /// Freed allocator pages go back to the system above this resident set (bytes).
        static let residentLimit = 160 << 20
        private(set) var state: RunState
        let phase: ReplayProgress.Phase
        let target: UInt64
        let base: UInt64
        let shouldStop: @Sendable () -> Bool
        weak var projector: Projector?

        init(state: RunState, phase: ReplayProgress.Phase, target: UInt64, shouldStop: @escaping @Sendable () -> Bool) {
            self.state = state
            self.phase = phase
            self.target = target
            self.shouldStop = shouldStop
            base = state.folded
        }

        func applied(_ progress: ProjectorProgress) {
            // Each batch allocates and frees tens of MB on the projector's queues, whose
            // threads use malloc arenas of their own: returning the freed pages once the
            // resident set grows keeps a rebuild's to about the batches in flight (SPEC §9).
            FreedMemory.release(whenResidentAbove: Self.residentLimit)
            state.folded = base + UInt64(progress.events)
            state.report(phase, target: target)
            if shouldStop() { projector?.requestStop() }
        }
    }

    /// Copies the live rows written before `below` into the shadow, in one snapshot.
    func copyLiveRows(_ plan: ReplayPlan, below: UInt64) throws -> Int {
        let live = try quoted(plan.liveSchema)
        let shadow = try quoted(plan.shadowSchema)
        let names = options.projections.map(\.name)
        return try Self.wrap(.postgres, "copy live rows below seq \(below)") {
            try admin.withTransaction { connection in
                try connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                var copied = 0
                for table in options.projections.flatMap(\.tables).sorted(by: { $0.name < $1.name }) {
                    let name = try PostgresConnection.quoteIdentifier(table.name)
                    copied += try connection.query(
                        "INSERT INTO \(shadow).\(name) SELECT * FROM \(live).\(name) WHERE seq < $1", [String(below)]).affectedRows
                }
                try connection.query(
                    "INSERT INTO \(shadow).projection_rejects SELECT * FROM \(live).projection_rejects WHERE seq < $1 AND projection = ANY($2::text[])",
                    [String(below), Self.textArray(names)])
                try connection.query(
                    "INSERT INTO \(shadow).projection_checkpoints (projection, source, partition, position) SELECT p, 'log', 0, $1 FROM unnest($2::text[]) AS p",
                    [String(below - 1), Self.textArray(names)])
                return copied
            }
        }
    }

    /// Copies the live keys whose `_seq` is below `below`, and the derived hashes whole,
    /// into the shadow prefix (server side: `COPY` inside a script, 200 keys a call).
    func copyLiveKeys(_ plan: ReplayPlan, below: UInt64) throws -> Int {
        guard let redis, let live = plan.liveKeyPrefix, let shadow = plan.shadowKeyPrefix else { return 0 }
        return try Self.wrap(.redis, "copy live keys below seq \(below)") {
            var copied = 0
            for family in options.keyFamilies {
                try scanKeys(redis, prefix: live, family: family) { keys in
                    for chunk in stride(from: 0, to: keys.count, by: 200).map({ keys[$0..<min($0 + 200, keys.count)] }) {
                        var command: [any RedisArgument] = ["EVAL", Self.copyBelowScript, chunk.count * 2]
                        for key in chunk { command.append(key) }
                        for key in chunk { command.append(shadow + key.dropFirst(live.count)) }
                        command.append(String(below))
                        copied += Int(try redis.command(command).integer ?? 0)
                    }
                }
            }
            for key in Set(options.projections.flatMap(\.derivedHashes).map(\.key)).sorted() {
                copied += Int(try redis.command("COPY", live + key, shadow + key, "REPLACE").integer ?? 0)
            }
            // The markers say the copied keys are there (they are not counted as keys).
            for projection in options.projections {
                let marker = RedisLayout.markerKey(projection: projection.name)
                _ = try redis.command("COPY", live + marker, shadow + marker, "REPLACE")
            }
            return copied
        }
    }

    /// KEYS = n sources then n destinations; ARGV[1] = the bound. Copies each source key
    /// whose `_seq` is below the bound; returns how many it copied. A key the key sink did
    /// not write (a hash of an older layout) stops the copy with an error naming it.
    static let copyBelowScript = RedisLayout.storedSeqFunction + """

        local n = #KEYS / 2
        local copied = 0
        for i = 1, n do
          local seq, refusal = stored_seq(KEYS[i])
          if refusal then return redis.error_reply(refusal) end
          if seq and seq < tonumber(ARGV[1]) then
            redis.call('COPY', KEYS[i], KEYS[n + i], 'REPLACE')
            copied = copied + 1
          end
        end
        return copied
        """

    /// Lends every key matching `prefix` (escaped) + `family` to `body`, a SCAN page at a time.
    func scanKeys(_ redis: RedisConnection, prefix: String, family: String, _ body: ([String]) throws -> Void) throws {
        let pattern = RedisLayout.escapedGlob(prefix) + family
        var cursor = "0"
        repeat {
            let reply = try redis.command("SCAN", cursor, "MATCH", pattern, "COUNT", "1000").array ?? []
            cursor = reply.first?.string ?? "0"
            let keys = (reply.last?.array ?? []).compactMap(\.string)
            if !keys.isEmpty { try body(keys) }
        } while cursor != "0"
    }

    /// Swaps the shadow in; returns the seq it covers. See the type's documentation.
    func swap(_ plan: ReplayPlan, engine: ProjectionEngine, next: UInt64, state: inout RunState) throws -> UInt64 {
        let control = try Self.wrap(.postgres, "connect for the swap") { try PostgresConnection(options.conninfo) }
        let key = ProjectionSwap.lockKey(schema: plan.liveSchema)
        try Self.wrap(.swap, "take the swap lock of \(plan.liveSchema)") {
            let (seconds, attoseconds) = options.lockTimeout.components
            let milliseconds = max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
            try control.execute("SET lock_timeout = '\(milliseconds)ms'")
            try control.query("SELECT pg_advisory_lock($1)", [String(key)])
        }
        defer { _ = try? control.query("SELECT pg_advisory_unlock($1)", [String(key)]) }
        // No live batch commits while the lock is held: fold the last events.
        let head = try Self.wrap(.log, "read log head") { try log.lastSeq() }
        let kafkaFed = plan.liveSchemaExists ? try kafkaFedLiveProjections() : []
        if redis == nil, plan.liveSchemaExists {
            // Without Redis the swap leaves the keys to the live projector. One fed from the
            // log resumes at the swapped-in checkpoint (the head): keys of events it has not
            // applied yet would never be written. One fed from Kafka resumes at its own
            // offsets, carried over below, and writes the keys of what it reads from there.
            let fromLog = options.projections.map(\.name).filter { !kafkaFed.contains($0) }
            let applied = fromLog.isEmpty ? head : try readLiveCheckpoint(of: fromLog) ?? 0
            guard applied >= head else {
                throw ReplayError(.swap, operation: "swap \(plan.shadowSchema) in without Redis", message:
                    "the live projection is at seq \(applied), behind the log head \(head): its Redis keys for seqs \(applied + 1)…\(head) "
                    + "would never be written. Let the live projector catch up (tickfold project run) and replay again, or replay with Redis")
            }
        }
        state.report(.swapping, target: state.folded + (head >= next ? head - next + 1 : 0))
        var covered = next - 1
        if head >= next {
            covered = try fold(engine, from: next, through: head, phase: .swapping, state: &state) - 1
        }
        let live = try quoted(plan.liveSchema)
        let shadow = try quoted(plan.shadowSchema)
        try Self.wrap(.postgres, "swap \(plan.shadowSchema) in as \(plan.liveSchema)") {
            try control.withTransaction { connection in
                if plan.liveSchemaExists {
                    // The live projector's positions in other sources (Kafka offsets): the
                    // shadow covers every logged event, so it may resume from them.
                    try connection.query(
                        """
                        INSERT INTO \(shadow).projection_checkpoints AS c
                        SELECT * FROM \(live).projection_checkpoints WHERE projection = ANY($1::text[]) AND NOT (source = 'log' AND partition = 0)
                        ON CONFLICT (projection, source, partition) DO UPDATE SET position = GREATEST(c.position, EXCLUDED.position)
                        """, [Self.textArray(options.projections.map(\.name))])
                    if !kafkaFed.isEmpty {
                        // A projection fed from Kafka goes on from its offsets alone: a log
                        // checkpoint left at the swap's head would stand still while the log
                        // grows (a false lag in project status) and hold later replays to it.
                        try connection.query(
                            "DELETE FROM \(shadow).projection_checkpoints WHERE source = 'log' AND partition = 0 AND projection = ANY($1::text[])",
                            [Self.textArray(kafkaFed.sorted())])
                    }
                    if redis == nil {
                        // The live keys and their markers stay: so do their batch counts (a
                        // shadow without Redis counts none), or a Redis restored from a snapshot
                        // older than the swap would pass for current.
                        if try PostgresSink.hasBatchCounts(connection, schema: live) {
                            try connection.query(
                                "INSERT INTO \(shadow).projection_batches SELECT * FROM \(live).projection_batches WHERE projection = ANY($1::text[])",
                                [Self.textArray(options.projections.map(\.name))])
                        }
                    }
                    try connection.execute("ALTER SCHEMA \(live) RENAME TO \(try quoted(plan.retiredSchema))")
                }
                try connection.execute("ALTER SCHEMA \(shadow) RENAME TO \(live)")
            }
        }
        if let redis, let prefix = plan.shadowKeyPrefix {
            do {
                try RedisNamespacePointer(namespace: options.namespace).set(prefix, redis)
            } catch {
                // Undo the rename while still holding the lock, so readers and the live
                // projector never see the new tables with the old keys.
                try? control.withTransaction { connection in
                    try connection.execute("ALTER SCHEMA \(live) RENAME TO \(shadow)")
                    if plan.liveSchemaExists { try connection.execute("ALTER SCHEMA \(try quoted(plan.retiredSchema)) RENAME TO \(live)") }
                }
                throw ReplayError(.swap, operation: "flip namespace pointer \(plan.pointerKey ?? "")", message: "\(error); the schema swap was undone", underlying: error)
            }
        }
        return covered
    }

    /// Drops the retired schema and the keys of the retired prefix.
    func dropRetired(_ plan: ReplayPlan) throws -> Int {
        do {
            if plan.liveSchemaExists {
                try Self.wrap(.postgres, "drop \(plan.retiredSchema)") {
                    try admin.execute("DROP SCHEMA IF EXISTS \(try quoted(plan.retiredSchema)) CASCADE")
                }
            }
            guard let redis, let old = plan.liveKeyPrefix else { return 0 }
            return try Self.wrap(.redis, "drop keys under \"\(old)\"") { try dropKeys(redis, prefix: old) }
        } catch {
            throw SwapCommitted(underlying: error)
        }
    }

    /// Removes every key of the projections' families under `prefix`; returns how many.
    func dropKeys(_ redis: RedisConnection, prefix: String) throws -> Int {
        var dropped = 0
        for family in options.keyFamilies {
            try scanKeys(redis, prefix: prefix, family: family) { keys in
                dropped += Int(try redis.command(["UNLINK"] + keys.map { $0 as any RedisArgument }).integer ?? 0)
            }
        }
        let derived = Set(options.projections.flatMap(\.derivedHashes).map { prefix + $0.key }).sorted()
        if !derived.isEmpty { dropped += Int(try redis.command(["UNLINK"] + derived.map { $0 as any RedisArgument }).integer ?? 0) }
        // The markers go with the keys.
        dropped += Int(try redis.command(["UNLINK"] + options.projections.map { prefix + RedisLayout.markerKey(projection: $0.name) as any RedisArgument }).integer ?? 0)
        return dropped
    }

    /// Best effort after a failure: the shadow must not linger.
    func dropShadow(_ plan: ReplayPlan) {
        do {
            try admin.execute("DROP SCHEMA IF EXISTS \(try quoted(plan.shadowSchema)) CASCADE")
            if let redis, let prefix = plan.shadowKeyPrefix { _ = try dropKeys(redis, prefix: prefix) }
        } catch {
            logger.error("could not drop the shadow of a failed replay; drop it by hand", metadata: [
                "schema": "\(plan.shadowSchema)", "prefix": "\(plan.shadowKeyPrefix ?? "")", "error": "\(error)",
            ])
        }
    }

    func quoted(_ name: String) throws -> String {
        do { return try PostgresConnection.quoteIdentifier(name) } catch {
            throw ReplayError(.invalidArgument, operation: "quote \(name)", message: "\(error)")
        }
    }

    func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    /// A `text[]` literal with every element quoted.
    static func textArray(_ elements: [String]) -> String {
        "{" + elements.map { element in
            "\"" + element.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ",") + "}"
    }

    /// Runs `body`, turning any error but a `ReplayError` into one with `code`.
    @discardableResult
    static func wrap<T>(_ code: ReplayError.Code, _ operation: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ReplayError { throw error } catch let error as SwapCommitted { throw error } catch {
            throw ReplayError(code, operation: operation, message: "\(error)", underlying: error)
        }
    }
}
