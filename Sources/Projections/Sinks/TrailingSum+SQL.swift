import Postgres

/// The SQL that keeps a `TrailingSum`, built by the sink for its schema.
extension TrailingSum {
    /// Advances the state by a batch about to be merged into `table` (run before the merge,
    /// in its transaction). Parameters: `$1` subjects, `$2` times, `$3` values, `$4` seqs, as
    /// array literals of one element per row, at most one row per key.
    ///
    /// One pass per subject: `change` is each row's effect under the merge's rule (one probe
    /// of its stored row), `batch` folds them per subject, and the state rows are written by
    /// a plain `UPDATE … FROM` whose SET reads the old `last_time` and `total` itself (no
    /// separate lookup of the state, no `ON CONFLICT` speculative insertion); subjects
    /// without a state row yet are inserted. A subject's changes all lie in the new window
    /// unless one is older than the window's new start (a trade arriving over `span` late):
    /// only then are its changes summed again with the time filter.
    ///
    /// The lookups of stored rows are `LATERAL … LIMIT 1`, which the planner cannot turn into
    /// a join: each batch row costs one index probe. As a plain join, a table with fresh
    /// statistics of some 20k rows made it hash the whole table for a batch of 200 rows
    /// (~10 ms a batch, seen in continuous mode), a cost that grows with the table.
    func advanceStatement(_ table: TableSchema, schema: String) throws -> String {
        let names = try Names(self, table, schema: schema)
        return """
            WITH change AS (
                SELECT b.subject, b.time, b.value - coalesce(t.value, 0) AS change
                FROM unnest($1::text[], $2::bigint[], $3::numeric[], $4::bigint[]) AS b(subject, time, value, seq)
                LEFT JOIN LATERAL (
                    SELECT t.\(names.value) AS value, t.seq FROM \(names.table) t
                    WHERE t.\(names.subject) = b.subject AND t.\(names.time) = b.time LIMIT 1) t ON true
                WHERE t.seq IS NULL OR t.seq < b.seq),
            batch AS (
                SELECT subject, max(time) AS last, min(time) AS first, sum(change) AS added FROM change GROUP BY subject),
            updated AS (
                UPDATE \(names.state) w
                SET last_time = greatest(w.last_time, b.last),
                    total = w.total
                        + CASE WHEN b.first > greatest(w.last_time, b.last) - \(span) THEN coalesce(b.added, 0)
                               ELSE coalesce((SELECT sum(c.change) FROM change c
                                              WHERE c.subject = b.subject AND c.time > greatest(w.last_time, b.last) - \(span)), 0) END
                        - CASE WHEN b.last <= w.last_time THEN 0
                               ELSE coalesce((SELECT sum(t.\(names.value)) FROM \(names.table) t
                                              WHERE t.\(names.subject) = w.subject AND t.\(names.time) > w.last_time - \(span)
                                                AND t.\(names.time) <= b.last - \(span)), 0) END
                FROM batch b WHERE w.subject = b.subject
                RETURNING w.subject)
            INSERT INTO \(names.state) (subject, last_time, total)
            SELECT b.subject, b.last,
                   coalesce(CASE WHEN b.first > b.last - \(span) THEN b.added
                        ELSE (SELECT sum(c.change) FROM change c WHERE c.subject = b.subject AND c.time > b.last - \(span)) END, 0)
            FROM batch b WHERE NOT EXISTS (SELECT FROM updated u WHERE u.subject = b.subject)
            """
    }

    /// Replaces the state with one computed from the whole table.
    func recomputeStatement(_ table: TableSchema, schema: String) throws -> String {
        let names = try Names(self, table, schema: schema)
        return """
            TRUNCATE \(names.state);
            INSERT INTO \(names.state) (subject, last_time, total)
            SELECT t.\(names.subject), l.last_time, sum(t.\(names.value))
            FROM \(names.table) t
            JOIN (SELECT \(names.subject) AS subject, max(\(names.time)) AS last_time FROM \(names.table) GROUP BY 1) l
              ON l.subject = t.\(names.subject)
            WHERE t.\(names.time) > l.last_time - \(span)
            GROUP BY 1, 2
            """
    }

    /// Quoted, schema-qualified names for the statements.
    private struct Names {
        let table: String, state: String, subject: String, time: String, value: String

        init(_ sum: TrailingSum, _ schema: TableSchema, schema quotedSchema: String) throws {
            table = "\(quotedSchema).\(try PostgresConnection.quoteIdentifier(schema.name))"
            state = "\(quotedSchema).\(try PostgresConnection.quoteIdentifier(sum.stateTable))"
            subject = try PostgresConnection.quoteIdentifier(schema.columns[sum.subjectColumn])
            time = try PostgresConnection.quoteIdentifier(schema.columns[sum.timeColumn])
            value = try PostgresConnection.quoteIdentifier(schema.columns[sum.valueColumn])
        }
    }
}
