import Events
import Logging
import Postgres

/// What one `PostgresSink.apply` stored.
public struct PostgresApplySummary: Sendable, Hashable {
    /// Rows handed to the sink.
    public var rowsReceived = 0
    /// Rows inserted or replaced (a row lost to a higher `seq` already stored is not counted).
    public var rowsWritten = 0
    /// Rejects recorded for the first time.
    public var rejectsRecorded = 0
    /// Connection failures ridden out by retrying.
    public var retries = 0
}

/// The PostgreSQL side of projections: merges folded rows into the tables of one schema, so
/// that for each natural key the row of the highest `seq` wins whatever the delivery order,
/// and commits the projections' checkpoints in the same transaction (exactly-once effect).
///
/// Apply path of a batch, in one transaction: per table, the rows reduced to one per key (the
/// highest `seq`, see `CollapsedRows`), COPYed into a temporary
/// staging table, then one `INSERT … SELECT DISTINCT ON (key) … ORDER BY key, seq DESC
/// ON CONFLICT (key) DO UPDATE … WHERE target.seq < EXCLUDED.seq`; rejects with `ON CONFLICT
/// DO NOTHING`; derived hashes computed from the merged tables; checkpoints, which only move
/// forward. Fast path: a table's rows in a batch of at least `directCopyMinimumRows` are first
/// COPYed straight into the table inside a savepoint; if no key conflicts (a rebuild, fresh
/// keys), that is the merge's result at COPY speed; on a unique violation the savepoint is
/// rolled back and the batch takes the merge, and so do that table's next batches for a while.
/// Small batches: a table's rows in a batch of fewer than `stagingMinimumRows` skip the
/// staging table and go in one `INSERT … SELECT DISTINCT ON … FROM unnest($1::text[], …)`
/// with the same conflict rule: one statement instead of CREATE/COPY/INSERT, and no staging
/// truncation at COMMIT, which dominates a continuous projector's small transactions.
/// A lost connection is retried with bounded backoff by re-running the whole batch,
/// which is idempotent: nothing of a failed transaction remains, and a batch whose COMMIT
/// did land rewrites nothing (equal seqs never overwrite, rejects and checkpoints are no-ops).
/// A replay's fresh shadow is filled with `beginBulkLoad()` … `finishBulkLoad` instead: rows
/// appended to unindexed tables, reduced to one per key and indexed once at the end.
///
/// Synchronous and not thread-safe: one owner (the engine) calls it from one thread at a time.
public final class PostgresSink {
    /// The schema holding the tables (`tickfold` for live, another for a replay).
    public let schema: String
    public let retry: RetryPolicy
    let connection: PostgresConnection
    private let logger: Logger
    let quotedSchema: String
    private(set) var statements: [String: TableStatements] = [:]
    /// Tables in a fixed order, so concurrent writers lock rows in the same order.
    let tableOrder: [TableSchema]
    /// Batches of at least this many rows for one table first try a COPY straight into the
    /// table (see `apply`).
    public let directCopyMinimumRows: Int
    /// A table's rows in a batch of fewer than this many are merged from parameter arrays
    /// (`unnest`) instead of a staging table (see `apply`).
    public let stagingMinimumRows: Int
    /// Per table, how many more batches go straight to the merge after a direct COPY hit a
    /// key conflict.
    private var directCopyCooldown: [String: Int] = [:]
    static let directCopyCooldownBatches = 16
    /// Whether this session's settings (`temp_buffers`) are made; false after a reconnect.
    private var sessionReady = false
    /// The tables of a bulk load in progress (`beginBulkLoad`), nil otherwise.
    var bulk: [String: BulkLoadTable]?
    /// During a bulk load, the furthest checkpoints committed so far (checked after a reconnect).
    var bulkCheckpoints: [String: [CheckpointKey: Int64]] = [:]

    /// Connects to `conninfo` (retrying per `retry`) and checks that `schema` is migrated to
    /// exactly this build's version. `tables` are the tables batches may write.
    public init(
        conninfo: String, schema: String = "tickfold", tables: [TableSchema], retry: RetryPolicy = .standard,
        directCopyMinimumRows: Int = 2000, logger: Logger = Logger(label: "tickfold.projections.postgres"),
        stagingMinimumRows: Int = 500
    ) throws {
        self.stagingMinimumRows = stagingMinimumRows
        self.schema = schema
        self.directCopyMinimumRows = directCopyMinimumRows
        self.retry = retry
        self.logger = logger
        tableOrder = tables.sorted { $0.name < $1.name }
        do {
            quotedSchema = try PostgresConnection.quoteIdentifier(schema)
        } catch {
            throw ProjectionError(.invalidArgument, operation: "open PostgreSQL sink", message: "schema name: \(error)")
        }
        connection = try Self.connect(conninfo, retry: retry, logger: logger)
        try Migrator().requireCurrent(connection, schema: schema)
        for table in tables {
            let types = try Self.columnTypes(connection, schema: schema, table: table.name)
            let statement = try TableStatements(table, schema: quotedSchema, types: types)
            guard statement.arrayMerge != nil else {
                throw ProjectionError(.schemaNotMigrated, operation: "open PostgreSQL sink", message: "\(schema).\(table.name) lacks columns of \(table.columns); run `tickfold project migrate`")
            }
            statements[table.name] = statement
        }
    }

    /// Each column's SQL type (`numeric(18,6)`, `date`, `text[]` …), for the casts of the
    /// parameter-array merge.
    private static func columnTypes(_ connection: PostgresConnection, schema: String, table: String) throws -> [String: String] {
        do {
            let result = try connection.query(
                """
                SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
                """, [schema, table])
            var types: [String: String] = [:]
            for row in result.rows {
                if let name = row[0], let type = row[1] { types[name] = type }
            }
            return types
        } catch {
            throw ProjectionError(.postgres, operation: "open PostgreSQL sink", message: "column types of \(schema).\(table): \(error)")
        }
    }

    private static func connect(_ conninfo: String, retry: RetryPolicy, logger: Logger) throws -> PostgresConnection {
        do {
            return try retry.run("PostgreSQL connect", logger: logger, warning: "PostgreSQL unreachable, retrying",
                                 isRetryable: { ($0 as? PostgresError)?.code == .connectionFailed }) {
                try PostgresConnection(conninfo)
            }.value
        } catch let error as PostgresError {
            throw ProjectionError(.postgres, operation: "open PostgreSQL sink", message: "\(error)", underlying: error)
        }
    }

    /// Merges `rows`, records `rejects`, deletes the checkpoints of the `checkpoints`
    /// projections in the `resetting` partitions, advances each projection's checkpoints, checks that
    /// the schema still records `versionsOf`'s versions, computes `derived` hashes for the
    /// subjects the rows touched and hands them to `beforeCommit` (the engine writes them to
    /// Redis there) with the batch counts of the `countingBatches` projections, advanced by one
    /// (`projection_batches`); all in one transaction, retried as a whole after a lost connection.
    /// Every statement but a COPY goes through libpq pipelines: one round trip for all of
    /// them when every table's rows merge from parameter arrays (a continuous projector's
    /// small batches), else one before and one after the COPYs. The fixed statements run
    /// every batch (trailing sums, parameter-array merges, checkpoints, the version check,
    /// derived hashes) are prepared once per connection: a continuous projector's batches
    /// would otherwise spend ~1–1.5 ms of the server's time parsing and planning them. During a bulk load
    /// (`beginBulkLoad()`) the loaded tables' rows are appended instead and `derived` waits
    /// for `finishBulkLoad`.
    @discardableResult
    public func apply(
        rows: [RowUpsert], rejects: [Reject], checkpoints: [String: [CheckpointPosition]], resetting: [CheckpointKey] = [],
        derived: [DerivedHash] = [], versionsOf projections: [any Projection] = [], countingBatches: [String] = [],
        beforeCommit: (_ derived: [DerivedValue], _ batches: [String: Int64]) throws -> Void = { _, _ in }
    ) throws -> PostgresApplySummary {
        var byTable: [String: [Int]] = [:]
        for (index, row) in rows.enumerated() {
            guard statements[row.table] != nil else {
                throw ProjectionError(.invalidArgument, operation: "apply batch", message: "table \(row.table) is not one of this sink's tables")
            }
            byTable[row.table, default: []].append(index)
        }
        var tables: [(statement: TableStatements, rows: CollapsedRows)] = []
        for table in tableOrder {
            guard let indices = byTable[table.name], let statement = statements[table.name] else { continue }
            tables.append((statement, CollapsedRows(rows, indices: indices, keyCount: table.keyCount)))
        }
        let bulkLoading = bulk != nil
        let subjects = bulkLoading ? [] : derivedSubjects(derived, rows: rows, tables: tables.map { ($0.statement.table, $0.rows.indices) })
        let staging = tables.filter { bulk?[$0.statement.table] == nil && $0.rows.indices.count >= stagingMinimumRows }.map(\.statement.table)

        // Before the COPYs: the session's settings, the trailing sums (which read the rows
        // the merge replaces) and the parameter-array merges.
        var before = prepareStatements(staging: staging, asynchronousCommit: bulkLoading)
        var arrayMerges: [Int] = []
        var copied: [(statement: TableStatements, indices: [Int])] = []
        for (statement, collapsed) in tables {
            if bulk?[statement.table] != nil {
                copied.append((statement, collapsed.indices))
                continue
            }
            let arrayMerge = collapsed.indices.count < stagingMinimumRows ? statement.arrayMerge : nil
            // The rows as parameter arrays, built once for the trailing sums and the merge.
            let arrays = arrayMerge == nil && statement.trailingSums.isEmpty
                ? [] : Self.columnArrays(rows: rows, indices: collapsed.indices, columns: statement.columnCount)
            before += trailingSumStatements(statement, arrays: arrays)
            if let arrayMerge {
                arrayMerges.append(before.count)
                before.append(PostgresStatement(arrayMerge, arrays, prepared: true))
            } else {
                copied.append((statement, collapsed.indices))
            }
        }
        // After them: rejects, checkpoints, the recorded versions, the derived hashes.
        var after: [PostgresStatement] = []
        let rejectsStatement = rejectsStatement(rejects).map { statement in after.append(statement); return after.count - 1 }
        if let reset = checkpointResetStatement(resetting, projections: Array(checkpoints.keys)) { after.append(reset) }
        if let checkpoint = checkpointStatement(checkpoints) { after.append(checkpoint) }
        let batchesStatement = batchCountStatement(countingBatches).map { statement in after.append(statement); return after.count - 1 }
        let versionsStatement = projections.isEmpty ? nil : { () -> Int in
            after.append(PostgresStatement(ProjectionSwap.schemaCommentQuery, [schema], prepared: true))
            return after.count - 1
        }()
        var derivedStatements: [(hash: DerivedHash, position: Int)] = []
        for (hash, keys) in zip(derived, subjects) where !keys.isEmpty {
            derivedStatements.append((hash, after.count))
            after.append(PostgresStatement(hash.sql, [ColumnText.array(keys)], prepared: true))
        }

        var summary = PostgresApplySummary()
        summary.rowsReceived = rows.count
        summary.retries = try withRetry(operation: "apply batch") {
            // BEGIN travels in the first pipeline: no round trip of its own.
            try connection.withTransaction(pipelining: copied.isEmpty ? before + after : before) { connection, first -> Void in
                let results: (before: [PostgresResult], after: [PostgresResult])
                summary.rowsWritten = 0
                if copied.isEmpty {
                    results = (Array(first[..<before.count]), Array(first[before.count...]))
                } else {
                    for (statement, indices) in copied {
                        if bulk?[statement.table] != nil {
                            summary.rowsWritten += try copy(connection, statement.directCopy, rows: rows, indices: indices)
                        } else {
                            summary.rowsWritten += try merge(connection, statement, rows: rows, indices: indices)
                        }
                    }
                    results = (first, try connection.pipeline(after))
                }
                summary.rowsWritten += arrayMerges.reduce(0) { $0 + results.before[$1].affectedRows }
                summary.rejectsRecorded = rejectsStatement.map { results.after[$0].affectedRows } ?? 0
                if let versionsStatement {
                    try Self.check(comment: results.after[versionsStatement].value(0, 0), projections: projections, schema: schema)
                }
                var values: [DerivedValue] = []
                for (hash, position) in derivedStatements {
                    values += Self.derivedValues(hash, results.after[position])
                }
                try beforeCommit(values, batchesStatement.map { Self.batchCounts(results.after[$0]) } ?? [:])
            }
        }.retries
        if bulkLoading {
            recordBulkLoad(tables.map { ($0.statement.table, $0.rows) }, checkpoints: checkpoints, retried: summary.retries > 0)
        }
        return summary
    }

    /// The statements advancing the table's trailing sums by the rows about to be merged,
    /// given as `columnArrays` (see `TrailingSum`).
    private func trailingSumStatements(_ statement: TableStatements, arrays: [String?]) -> [PostgresStatement] {
        statement.trailingSums.map { sum, sql in
            PostgresStatement(sql, [arrays[sum.subjectColumn], arrays[sum.timeColumn], arrays[sum.valueColumn], arrays[statement.columnCount]], prepared: true)
        }
    }

    /// Recomputes every trailing sum of this sink's tables from the rows stored (after rows
    /// were written around the sums: a bulk load, a middle replay's copy from live).
    public func recomputeTrailingSums() throws {
        _ = try withRetry(operation: "recompute trailing sums") {
            try connection.withTransaction { connection in try recomputeTrailingSums(connection) }
        }
    }

    func recomputeTrailingSums(_ connection: PostgresConnection) throws {
        for table in tableOrder {
            for sum in table.trailingSums { try connection.execute(try sum.recomputeStatement(table, schema: quotedSchema)) }
        }
    }

    /// `hash`'s fields for `subjects`, computed from the tables as this transaction sees them.
    func derivedValues(_ connection: PostgresConnection, _ hash: DerivedHash, subjects: [String]) throws -> [DerivedValue] {
        Self.derivedValues(hash, try connection.query(hash.sql, [ColumnText.array(subjects)]))
    }

    /// The fields of `hash` in the result of its query.
    static func derivedValues(_ hash: DerivedHash, _ result: PostgresResult) -> [DerivedValue] {
        result.rows.compactMap { row in
            guard let field = row[0], let value = row[1] else { return nil }
            return DerivedValue(hash: hash.key, channel: hash.channel, field: field, value: value)
        }
    }

    /// The committed checkpoint of `projection`: the last applied position per source
    /// partition. A projector resumes after these positions.
    public func checkpoint(projection: String) throws -> [CheckpointKey: Int64] {
        try committedPositions(projection: projection).mapValues(\.position)
    }

    /// `checkpoint(projection:)` with each position's seq (`CheckpointPosition.seq`).
    public func committedPositions(projection: String) throws -> [CheckpointKey: CheckpointPosition] {
        try withRetry(operation: "read checkpoint") {
            let result = try connection.query(
                "SELECT source, partition, position, seq FROM \(quotedSchema).projection_checkpoints WHERE projection = $1", [projection])
            var positions: [CheckpointKey: CheckpointPosition] = [:]
            for row in result.rows {
                guard let source = row[0], let partition = row[1].flatMap(Int.init), let position = row[2].flatMap(Int64.init) else { continue }
                let key = CheckpointKey(source: source, partition: partition)
                positions[key] = CheckpointPosition(source: source, partition: partition, position: position, seq: row[3].flatMap(UInt64.init))
            }
            return positions
        }.value
    }

    /// Runs `body`, reconnecting and retrying it after failures that a new connection or a
    /// new attempt can cure; returns its value and how many retries it took.
    func withRetry<T>(operation: String, _ body: () throws -> T) throws -> (value: T, retries: Int) {
        do {
            return try retry.run("PostgreSQL \(operation)", logger: logger, warning: "PostgreSQL \(operation) failed, retrying",
                                 isRetryable: { ($0 as? PostgresError).map(Self.isRetryable) ?? false }) {
                if !connection.isHealthy {
                    sessionReady = false
                    try connection.reset()
                    if bulk != nil { try requireBulkCheckpoints() }
                }
                if !sessionReady {
                    // Staging tables live in local buffers (8 MB by default): a 200k-row batch
                    // would spill them to disk. Settable only before the session's first
                    // temporary table, and outside a transaction so a rollback cannot undo it.
                    try connection.execute("SET temp_buffers = '256MB'")
                    sessionReady = true
                }
                return try body()
            }
        } catch let error as PostgresError {
            throw ProjectionError(.postgres, operation: operation, message: "schema \(schema): \(error)", underlying: error)
        }
    }

    /// Failures where the same statements can succeed later: the connection (or server)
    /// went away, or the server aborted the transaction for a concurrency conflict.
    static func isRetryable(_ error: PostgresError) -> Bool {
        if error.code == .connectionLost || error.code == .connectionFailed { return true }
        guard let state = error.sqlState else { return false }
        return state == "40001" || state == "40P01" || state.hasPrefix("57P") || state.hasPrefix("08")
    }

    /// Starts a batch transaction: the swap lock, the session settings of the batch, and the
    /// staging tables of `staging`.
    private func prepareStatements(staging: [String], asynchronousCommit: Bool) -> [PostgresStatement] {
        // Derived-hash SQL names tables unqualified; staging tables are always pg_temp.
        var script = [swapLockStatement, "SET LOCAL search_path TO \(quotedSchema)", "SET LOCAL work_mem = '64MB'"]
        // A bulk load's commits need not wait for the WAL flush: see `beginBulkLoad`.
        if asynchronousCommit { script.append("SET LOCAL synchronous_commit = off") }
        for name in staging.sorted() {
            if let statement = statements[name] { script.append(statement.createStaging) }
        }
        return script.map { PostgresStatement($0) }
    }

    /// Merges one table's rows of the batch through a direct COPY or a staging table (small
    /// batches merge from parameter arrays in `apply`'s pipeline instead); returns rows written.
    private func merge(_ connection: PostgresConnection, _ statement: TableStatements, rows: [RowUpsert], indices: [Int]) throws -> Int {
        if indices.count >= directCopyMinimumRows, directCopyCooldown[statement.table, default: 0] == 0 {
            try connection.execute("SAVEPOINT tickfold_direct_copy")
            do {
                let written = try copy(connection, statement.directCopy, rows: rows, indices: indices)
                try connection.execute("RELEASE SAVEPOINT tickfold_direct_copy")
                return written
            } catch let error as PostgresError where error.sqlState == "23505" {
                // Some key exists already (or twice in the batch): undo and merge instead, and
                // stay on the merge path for a while, since conflicts tend to come in runs.
                try connection.execute("ROLLBACK TO SAVEPOINT tickfold_direct_copy")
                directCopyCooldown[statement.table] = Self.directCopyCooldownBatches
            }
        } else if let cooldown = directCopyCooldown[statement.table], cooldown > 0 {
            directCopyCooldown[statement.table] = cooldown - 1
        }
        _ = try copy(connection, statement.copy, rows: rows, indices: indices)
        return try connection.query(statement.merge).affectedRows
    }

    /// Streams the rows through `sql` (a COPY … FROM STDIN naming the columns plus seq and
    /// event_id); returns the rows stored.
    private func copy(_ connection: PostgresConnection, _ sql: String, rows: [RowUpsert], indices: [Int]) throws -> Int {
        // Tab, seq digits, tab, 64 hex digits: built in one reused buffer, no String per row.
        var tail = [UInt8](repeating: 0, count: 22 + 64)
        return try connection.copyIn(sql) { writer in
            // Rows are read in place: copying one out retains and releases its arrays.
            try rows.withUnsafeBufferPointer { rows in
                for index in indices {
                    for column in rows[index].values.indices { try writer.writeField(rows[index].values[column]) }
                    let length = Self.writeTail(seq: rows[index].seq, id: rows[index].eventID, into: &tail)
                    try tail.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[..<length])) }
                    try writer.endRow()
                }
            }
        }
    }

    /// One PostgreSQL text-array literal per column (plus seq and event_id) of the rows at
    /// `indices`: `{"a","b",NULL}`. Built as bytes: appending to a `String` scalar by scalar
    /// cost a continuous projector's batches ~5–10 µs a row.
    static func columnArrays(rows: [RowUpsert], indices: [Int], columns: Int) -> [String?] {
        var arrays = [[UInt8]](repeating: [UInt8(ascii: "{")], count: columns + 2)
        var tail = [UInt8](repeating: 0, count: 22 + 64)
        // Rows are read in place: copying one out retains and releases its arrays.
        rows.withUnsafeBufferPointer { rows in
            for (position, index) in indices.enumerated() {
                if position > 0 {
                    for column in arrays.indices { arrays[column].append(UInt8(ascii: ",")) }
                }
                for column in 0..<columns { appendArrayElement(rows[index].values[column], to: &arrays[column]) }
                // `\t<seq>\t<hex id>`: the seq's digits and the id's 64 hex digits.
                let length = writeTail(seq: rows[index].seq, id: rows[index].eventID, into: &tail)
                arrays[columns].append(contentsOf: tail[1..<(length - 65)])
                arrays[columns + 1].append(contentsOf: tail[(length - 64)..<length])
            }
        }
        return arrays.map { bytes in
            var bytes = bytes
            bytes.append(UInt8(ascii: "}"))
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func appendArrayElement(_ value: String?, to array: inout [UInt8]) {
        guard var value else {
            array.append(contentsOf: "NULL".utf8)
            return
        }
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        array.append(quote)
        value.withUTF8 { bytes in
            guard bytes.contains(where: { $0 == quote || $0 == backslash }) else {
                array.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                if byte == quote || byte == backslash { array.append(backslash) }
                array.append(byte)
            }
        }
        array.append(quote)
    }

    private func rejectsStatement(_ rejects: [Reject]) -> PostgresStatement? {
        guard !rejects.isEmpty else { return nil }
        return PostgresStatement(
            """
            INSERT INTO \(quotedSchema).projection_rejects (projection, event_id, seq, event_type, reason)
            SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[])
            ON CONFLICT (projection, event_id) DO NOTHING
            """,
            [
                ColumnText.array(rejects.map(\.projection)), ColumnText.array(rejects.map(\.eventID.hex)),
                ColumnText.array(rejects.map { String($0.seq) }), ColumnText.array(rejects.map(\.eventType)),
                ColumnText.array(rejects.map(\.reason)),
            ])
    }

    private func checkpointStatement(_ checkpoints: [String: [CheckpointPosition]]) -> PostgresStatement? {
        // One row per (projection, source, partition): the furthest position given, with its seq.
        var furthest: [String: [CheckpointKey: CheckpointPosition]] = [:]
        for (projection, positions) in checkpoints {
            for position in positions where position.position > furthest[projection]?[position.key]?.position ?? .min {
                furthest[projection, default: [:]][position.key] = position
            }
        }
        var projections: [String] = [], sources: [String] = [], partitions: [String] = [], values: [String] = [], seqs: [String?] = []
        for projection in furthest.keys.sorted() {
            for (key, position) in furthest[projection]!.sorted(by: { $0.key < $1.key }) {
                projections.append(projection)
                sources.append(key.source)
                partitions.append(String(key.partition))
                values.append(String(position.position))
                seqs.append(position.seq.map(String.init))
            }
        }
        guard !projections.isEmpty else { return nil }
        return PostgresStatement(
            """
            INSERT INTO \(quotedSchema).projection_checkpoints AS c (projection, source, partition, position, seq)
            SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[])
            ON CONFLICT (projection, source, partition) DO UPDATE SET position = EXCLUDED.position, seq = EXCLUDED.seq
            WHERE c.position < EXCLUDED.position
            """,
            [ColumnText.array(projections), ColumnText.array(sources), ColumnText.array(partitions), ColumnText.array(values), ColumnText.nullableArray(seqs)],
            prepared: true)
    }

    /// Deletes the checkpoints of `projections` in the partitions `keys` (a Kafka partition
    /// written again from offset 0, see `KafkaEventSource`): the one way a checkpoint goes
    /// back. Runs in a batch transaction, so under the swap lock and before the batch's own
    /// checkpoints, which then start the partition over.
    private func checkpointResetStatement(_ keys: [CheckpointKey], projections: [String]) -> PostgresStatement? {
        guard !keys.isEmpty, !projections.isEmpty else { return nil }
        let sorted = keys.sorted()
        return PostgresStatement(
            """
            DELETE FROM \(quotedSchema).projection_checkpoints
            WHERE projection = ANY($1::text[]) AND (source, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))
            """,
            [ColumnText.array(projections.sorted()), ColumnText.array(sorted.map(\.source)), ColumnText.array(sorted.map { String($0.partition) })])
    }

    /// For each derived hash, the sorted distinct subjects of the rows of its trigger tables
    /// (`tables`: each table's rows, by position in `rows`).
    private func derivedSubjects(_ derived: [DerivedHash], rows: [RowUpsert], tables: [(name: String, indices: [Int])]) -> [[String]] {
        derived.map { hash in
            var subjects = Set<String>()
            for (name, indices) in tables {
                guard let column = hash.triggers[name] else { continue }
                for index in indices {
                    if let subject = rows[index].values[column] { subjects.insert(subject) }
                }
            }
            return subjects.sorted()
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Writes `\t<seq>\t<hex id>` into `out` (at least 86 bytes); returns the length.
    static func writeTail(seq: UInt64, id: EventID, into out: inout [UInt8]) -> Int {
        var digits = 1
        var rest = seq / 10
        while rest > 0 { digits += 1; rest /= 10 }
        out[0] = UInt8(ascii: "\t")
        var value = seq
        for position in stride(from: digits, through: 1, by: -1) {
            out[position] = UInt8(ascii: "0") + UInt8(value % 10)
            value /= 10
        }
        out[digits + 1] = UInt8(ascii: "\t")
        let start = digits + 2
        id.withUnsafeBytes { digest in
            for (index, byte) in digest.enumerated() {
                out[start + 2 * index] = hexDigits[Int(byte >> 4)]
                out[start + 2 * index + 1] = hexDigits[Int(byte & 0x0f)]
            }
        }
        return start + 64
    }
}

/// The SQL of one table's apply path, built once.
struct TableStatements {
    let table: String
    let createStaging: String
    let copy: String
    let directCopy: String
    let merge: String
    /// The rows holding the highest `seq` of their key (all of them when two rows share it),
    /// found by hashing, not sorting (a bulk load's end).
    let highestSeqRows: String
    /// Deletes the rows below the highest `seq` of their key, found by hashing (a bulk load's end).
    let lowerSeqRows: String
    /// Deletes every row but one of the highest `seq` of its key, rows sharing a `seq` too;
    /// sorts the table (a bulk load's end, when a batch may have landed twice).
    let repeatedRows: String
    /// The merge from one `text[]` parameter per column (`$1` …), each cast to its column's
    /// type; nil when `types` does not name every column.
    let arrayMerge: String?
    /// Columns of `TableSchema.columns` (seq and event_id not counted).
    let columnCount: Int
    /// The table's trailing sums, each with its `advanceStatement`.
    let trailingSums: [(sum: TrailingSum, sql: String)]

    init(_ table: TableSchema, schema: String, types: [String: String] = [:]) throws {
        let target = "\(schema).\(try PostgresConnection.quoteIdentifier(table.name))"
        let staging = "pg_temp." + (try PostgresConnection.quoteIdentifier("stage_" + table.name))
        let columns = try (table.columns + ["seq", "event_id"]).map(PostgresConnection.quoteIdentifier)
        let keys = columns[..<table.keyCount].joined(separator: ", ")
        // Reducing to one row per key needs equal keys together, not the columns' collation
        // order: sorting text bytewise ("C") finds the same groups, faster.
        let grouping = zip(table.keyColumns, columns).map { name, quoted in
            Self.isText(types[name]) ? "\(quoted) COLLATE \"C\"" : quoted
        }
        let groupKeys = grouping.joined(separator: ", ")
        // Each key's highest seq (k0, k1 … and seq), and the condition joining a row `t` to it.
        let keyNames = grouping.indices.map { "k\($0)" }
        let highest = "SELECT \(zip(grouping, keyNames).map { "\($0) AS \($1)" }.joined(separator: ", ")), max(seq) AS seq FROM \(target) GROUP BY "
            + (1...grouping.count).map(String.init).joined(separator: ", ")
        let sameKey = zip(grouping, keyNames).map { "t.\($0) = w.\($1)" }.joined(separator: " AND ")
        let list = columns.joined(separator: ", ")
        self.table = table.name
        directCopy = "COPY \(target) (\(list)) FROM STDIN"
        createStaging = "CREATE TEMP TABLE IF NOT EXISTS \(staging) (LIKE \(target)) ON COMMIT DELETE ROWS;"
        copy = "COPY \(staging) (\(list)) FROM STDIN"
        columnCount = table.columns.count
        trailingSums = try table.trailingSums.map { ($0, try $0.advanceStatement(table, schema: schema)) }
        var casts: [String] = []
        var parameters: [String] = []
        for (index, (name, quoted)) in zip(table.columns + ["seq", "event_id"], columns).enumerated() {
            if let type = types[name] { casts.append("u.\(quoted)::\(type) AS \(quoted)") }
            parameters.append("$\(index + 1)::text[]")
        }
        let conflict: String
        switch table.conflict {
        case .higherSeqWins:
            let updates = columns[table.keyCount...].map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ")
            conflict = "ON CONFLICT (\(keys)) DO UPDATE SET \(updates) WHERE t.seq < EXCLUDED.seq"
        case .keepExisting:
            conflict = "ON CONFLICT (\(keys)) DO NOTHING"
        }
        highestSeqRows = "SELECT t.* FROM \(target) t JOIN (\(highest)) w ON \(sameKey) AND t.seq = w.seq"
        lowerSeqRows = "DELETE FROM \(target) t USING (\(highest) HAVING count(*) > 1) w WHERE \(sameKey) AND t.seq < w.seq"
        repeatedRows = "DELETE FROM \(target) WHERE ctid = ANY (ARRAY(SELECT ctid FROM (SELECT ctid, row_number() OVER (PARTITION BY \(groupKeys) ORDER BY seq DESC) AS n FROM \(target)) d WHERE n > 1))"
        merge = "INSERT INTO \(target) AS t (\(list)) SELECT DISTINCT ON (\(groupKeys)) \(list) FROM \(staging) ORDER BY \(groupKeys), seq DESC \(conflict)"
        arrayMerge = casts.count < columns.count ? nil : "INSERT INTO \(target) AS t (\(list)) SELECT DISTINCT ON (\(groupKeys)) \(list) FROM (SELECT \(casts.joined(separator: ", ")) "
            + "FROM unnest(\(parameters.joined(separator: ", "))) AS u(\(list))) s ORDER BY \(groupKeys), seq DESC \(conflict)"
    }

    /// Whether a `format_type` name is a collatable text type (not an array of one).
    private static func isText(_ type: String?) -> Bool {
        guard let type, !type.hasSuffix("]") else { return false }
        return type == "text" || type.hasPrefix("character")
    }
}
