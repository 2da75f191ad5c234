import Events
import Postgres

/// One table's rows of a batch reduced to one row per natural key: the row of the highest
/// `seq` (on equal seqs the later one), which is the row the merge would keep anyway. Saves
/// encoding and sending rows that cannot win, and lets a COPY of fresh keys succeed even when
/// the batch repeats a key.
struct CollapsedRows {
    /// Positions (in the batch's rows) of the rows kept, in the order their keys first appear.
    private(set) var indices: [Int] = []
    /// The key hash of each kept row, in `indices` order.
    private(set) var hashes: [UInt64] = []

    init(_ rows: [RowUpsert], indices all: [Int], keyCount: Int) {
        indices.reserveCapacity(all.count)
        hashes.reserveCapacity(all.count)
        // Open addressing on the key hash (spread by Fibonacci hashing), comparing the key
        // columns whenever hashes are equal: each slot holds a position in `indices` plus one,
        // 0 when empty.
        var capacity = 16
        while capacity < all.count * 2 { capacity <<= 1 }
        let mask = capacity - 1
        var slots = [Int32](repeating: 0, count: capacity)
        // Rows are read in place: copying one out retains and releases its arrays.
        rows.withUnsafeBufferPointer { rows in
            for index in all {
                let hash = Self.keyHash(rows[index].values, keyCount: keyCount)
                var slot = Int(truncatingIfNeeded: (hash &* 0x9e37_79b9_7f4a_7c15) >> 32) & mask
                var duplicate = false
                while slots[slot] != 0 {
                    let position = Int(slots[slot]) - 1
                    if hashes[position] == hash {
                        let kept = indices[position]
                        if rows[kept].values[..<keyCount].elementsEqual(rows[index].values[..<keyCount]) {
                            if rows[index].seq >= rows[kept].seq { indices[position] = index }
                            duplicate = true
                            break
                        }
                    }
                    slot = (slot + 1) & mask
                }
                if duplicate { continue }
                slots[slot] = Int32(indices.count + 1)
                indices.append(index)
                hashes.append(hash)
            }
        }
    }

    /// FNV-1a 64 of the key columns (UTF-8, each closed by 0xFF, a NULL by 0xFE: bytes that
    /// UTF-8 never holds).
    static func keyHash(_ values: [String?], keyCount: Int) -> UInt64 {
        let prime: UInt64 = 0x0000_0100_0000_01b3
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for column in 0..<keyCount {
            if let value = values[column] {
                let hashed: Void? = value.utf8.withContiguousStorageIfAvailable { bytes in
                    for byte in bytes { hash = (hash ^ UInt64(byte)) &* prime }
                }
                if hashed == nil {
                    for byte in value.utf8 { hash = (hash ^ UInt64(byte)) &* prime }
                }
                hash = (hash ^ 0xff) &* prime
            } else {
                hash = (hash ^ 0xfe) &* prime
            }
        }
        return hash
    }
}

/// A table being bulk loaded: the indexes dropped for the load, and what the load saw of its
/// keys repeating, to choose how `finishBulkLoad` reduces it to one row per key.
struct BulkLoadTable {
    /// The dropped unique constraints and indexes, each with the statement recreating it.
    let indexes: [(name: String, create: String)]
    /// Keys of a fixed 1/64 of the key space (by hash) appended so far, and how many rows
    /// carried them: an estimate of the share of rows superseded by a higher `seq` of their
    /// key, in little memory whatever the table's size.
    var sampledKeys: Set<UInt64> = []
    var sampledRows = 0
    /// Some key may repeat beyond what the sample shows (a retried batch whose lost COMMIT had
    /// landed).
    var mayRepeat = false

    static func sampled(_ hash: UInt64) -> Bool { hash >> 58 == 0 }

    /// The estimated share of appended rows that a higher `seq` of their key superseded.
    var supersededShare: Double {
        sampledRows == 0 ? 0 : Double(sampledRows - sampledKeys.count) / Double(sampledRows)
    }
}

extension PostgresSink {
    /// Starts a bulk load: a replay's fresh shadow, whose tables are empty and written by
    /// this sink alone until `finishBulkLoad`. Until then, each batch appends its rows (one per
    /// key per batch, see `CollapsedRows`) to tables stripped of their primary keys and
    /// indexes: a plain COPY, with no index to maintain and no merge, instead of updating rows
    /// in place, which dominates a rebuild where keys repeat across batches. Checkpoints and
    /// rejects are written as usual, in the same transactions; derived hashes wait for
    /// `finishBulkLoad`, as the tables do not hold the converged rows before it.
    ///
    /// The load's transactions commit asynchronously (`synchronous_commit = off`): a server
    /// crash may lose the last of them, but the load is never resumed from a crash (a replay
    /// that fails drops its shadow), and a reconnect during the load first checks that every
    /// committed checkpoint survived, failing the load otherwise. `finishBulkLoad` commits
    /// durably, which flushes everything before it. Tables whose conflict rule is
    /// `keepExisting` keep their indexes and the merge path.
    ///
    /// Throws `invalidArgument` when a table already holds rows.
    public func beginBulkLoad() throws {
        guard bulk == nil else { return }
        let tables = try withRetry(operation: "begin bulk load") {
            try connection.withTransaction { connection -> [String: BulkLoadTable] in
                var tables: [String: BulkLoadTable] = [:]
                for table in tableOrder where table.conflict == .higherSeqWins {
                    let target = try qualifiedName(table.name)
                    guard try connection.query("SELECT EXISTS (SELECT 1 FROM \(target))").value(0, 0) == "f" else {
                        throw ProjectionError(.invalidArgument, operation: "begin bulk load", message: "\(schema).\(table.name) is not empty: a bulk load needs fresh tables")
                    }
                    let found = try connection.query(
                        """
                        SELECT c.relname, coalesce(k.conname, ''), coalesce(pg_get_constraintdef(k.oid), pg_get_indexdef(i.indexrelid))
                        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                        LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')
                        WHERE i.indrelid = $1::regclass ORDER BY k.conname IS NULL, c.relname
                        """, [target])
                    var indexes: [(name: String, create: String)] = []
                    for row in found.rows {
                        guard let name = row[0], let constraint = row[1], let definition = row[2] else { continue }
                        if constraint.isEmpty {
                            try connection.execute("DROP INDEX \(quotedSchema).\(try PostgresConnection.quoteIdentifier(name))")
                            indexes.append((name, definition))
                        } else {
                            let quoted = try PostgresConnection.quoteIdentifier(constraint)
                            try connection.execute("ALTER TABLE \(target) DROP CONSTRAINT \(quoted)")
                            indexes.append((name, "ALTER TABLE \(target) ADD CONSTRAINT \(quoted) \(definition)"))
                        }
                    }
                    tables[table.name] = BulkLoadTable(indexes: indexes)
                }
                return tables
            }
        }.value
        bulk = tables
        bulkCheckpoints = [:]
    }

    /// Ends the bulk load: in one durable transaction, reduces each table where a key was
    /// appended twice to its highest-`seq` rows, recreates the dropped constraints and
    /// indexes, computes the trailing sums, then `derived` for every subject of their trigger
    /// tables and hands the values to `beforeCommit` (the caller writes them to Redis). After it, batches merge as
    /// usual. Does nothing outside a bulk load.
    public func finishBulkLoad(derived: [DerivedHash] = [], beforeCommit: ([DerivedValue]) throws -> Void = { _ in }) throws {
        guard let tables = bulk else { return }
        _ = try withRetry(operation: "finish bulk load") {
            try connection.withTransaction { connection in
                try connection.execute(
                    swapLockStatement + "SET LOCAL search_path TO \(quotedSchema); SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '256MB';"
                        // Parallel workers would each aggregate the whole table again.
                        + "SET LOCAL max_parallel_workers_per_gather = 0;")
                for name in tables.keys.sorted() {
                    guard let table = tables[name], let statement = statements[name] else { continue }
                    try converge(connection, statement, table)
                }
                try recomputeTrailingSums(connection)
                var values: [DerivedValue] = []
                for hash in derived {
                    var subjects = Set<String>()
                    for (table, column) in hash.triggers {
                        guard let schema = tableOrder.first(where: { $0.name == table }), column < schema.columns.count else { continue }
                        let result = try connection.query(
                            "SELECT DISTINCT \(try PostgresConnection.quoteIdentifier(schema.columns[column])) FROM \(try qualifiedName(table))")
                        for row in result.rows { if let subject = row[0] { subjects.insert(subject) } }
                    }
                    if !subjects.isEmpty { values += try derivedValues(connection, hash, subjects: subjects.sorted()) }
                }
                try beforeCommit(values)
            }
        }
        bulk = nil
        bulkCheckpoints = [:]
    }

    /// Reduces a loaded table to one row per key if needed, and recreates its indexes; skips
    /// what an earlier attempt whose COMMIT was not acknowledged already did.
    private func converge(_ connection: PostgresConnection, _ statement: TableStatements, _ table: BulkLoadTable) throws {
        let target = try qualifiedName(statement.table)
        let existing = Set(try connection.query(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass", [target]).rows.compactMap { $0[0] })
        let missing = table.indexes.filter { !existing.contains($0.name) }
        guard !missing.isEmpty else { return }
        if table.mayRepeat {
            try connection.execute(statement.repeatedRows)
        } else if table.supersededShare > Self.rewriteShare {
            // Mostly superseded rows: keep the few winners rather than delete the many losers.
            try connection.execute(
                """
                CREATE TEMP TABLE tickfold_bulk_keep ON COMMIT DROP AS \(statement.highestSeqRows);
                TRUNCATE \(target);
                INSERT INTO \(target) SELECT * FROM tickfold_bulk_keep;
                DROP TABLE tickfold_bulk_keep;
                """)
        } else if table.supersededShare > 0 {
            try connection.execute(statement.lowerSeqRows)
        }
        // A key can still repeat: one the sample missed (not reduced above), or one event's
        // row appended twice (a same-seq pair the reductions above keep). Then indexing
        // fails, and the table is reduced to one row per key whatever the seqs.
        try connection.execute("SAVEPOINT tickfold_bulk_index")
        do {
            for index in missing { try connection.execute(index.create) }
            try connection.execute("RELEASE SAVEPOINT tickfold_bulk_index")
        } catch let error as PostgresError where error.sqlState == "23505" {
            try connection.execute("ROLLBACK TO SAVEPOINT tickfold_bulk_index")
            try connection.execute(statement.repeatedRows)
            for index in missing { try connection.execute(index.create) }
        }
    }

    /// Above this share of superseded rows a table is rewritten with its winners; below, its
    /// losers are deleted.
    static let rewriteShare = 0.2

    /// Records a committed bulk batch: the sample of the tables' keys, and the checkpoints.
    /// After a retry the batch may have landed twice (a lost COMMIT acknowledgement), so its
    /// tables may repeat keys.
    func recordBulkLoad(_ tables: [(name: String, rows: CollapsedRows)], checkpoints: [String: [CheckpointPosition]], retried: Bool) {
        for (name, rows) in tables {
            guard var table = bulk?[name] else { continue }
            if retried { table.mayRepeat = true }
            for hash in rows.hashes where BulkLoadTable.sampled(hash) {
                table.sampledRows += 1
                table.sampledKeys.insert(hash)
            }
            bulk?[name] = table
        }
        for (projection, positions) in checkpoints {
            for position in positions {
                bulkCheckpoints[projection, default: [:]][position.key] = max(bulkCheckpoints[projection]?[position.key] ?? .min, position.position)
            }
        }
    }

    /// After a reconnect during a bulk load: throws unless every checkpoint the load committed
    /// is still there (an asynchronous commit lost to a server crash would leave a gap).
    func requireBulkCheckpoints() throws {
        for (projection, positions) in bulkCheckpoints {
            let result = try connection.query(
                "SELECT source, partition, position FROM \(quotedSchema).projection_checkpoints WHERE projection = $1", [projection])
            var stored: [CheckpointKey: Int64] = [:]
            for row in result.rows {
                guard let source = row[0], let partition = row[1].flatMap(Int.init), let position = row[2].flatMap(Int64.init) else { continue }
                stored[CheckpointKey(source: source, partition: partition)] = position
            }
            for (key, position) in positions where (stored[key] ?? .min) < position {
                throw ProjectionError(.postgres, operation: "resume bulk load",
                    message: "schema \(schema) lost batches committed during its bulk load (the server restarted; \(projection) is back at \(stored[key].map(String.init) ?? "nothing") in \(key), it had reached \(position)): start the rebuild over")
            }
        }
    }

    /// `schema.table`, quoted.
    func qualifiedName(_ table: String) throws -> String {
        "\(quotedSchema).\(try PostgresConnection.quoteIdentifier(table))"
    }
}
