import Postgres

/// The SQL that keeps a `TrailingSum`, built by the sink for its schema.
extension TrailingSum {
    /// Advances the state by a batch about to be merged into `table` (run before the merge,
    /// in its transaction). Parameters: `$1` subjects, `$2` times, `$3` values, `$4` seqs, as
    /// array literals of one element per row, at most one row per key.
    ///
    /// The lookups of stored rows are `LATERAL … LIMIT 1`, which the planner cannot turn into
    /// a join: each batch row costs one index probe. As a plain join, a table with fresh
    /// statistics of some 20k rows made it hash the whole table for a batch of 200 rows
    /// (~10 ms a batch, seen in continuous mode), a cost that grows with the table.
    func advanceStatement(_ table: TableSchema, schema: String) throws -> String {
        let names = try Names(self, table, schema: schema)
        return """
            WITH batch AS (
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::numeric[], $4::bigint[]) AS b(subject, time, value, seq)),
            change AS (
                SELECT b.subject, b.time, b.value - coalesce(t.value, 0) AS change
                FROM batch b LEFT JOIN LATERAL (
                    SELECT t.\(names.value) AS value, t.seq FROM \(names.table) t
                    WHERE t.\(names.subject) = b.subject AND t.\(names.time) = b.time LIMIT 1) t ON true
                WHERE t.seq IS NULL OR t.seq < b.seq),
            moved AS (
                SELECT c.subject, w.last_time AS old_last, coalesce(w.total, 0) AS old_total,
                       greatest(max(c.time), w.last_time) AS new_last
                FROM change c LEFT JOIN LATERAL (
                    SELECT w.last_time, w.total FROM \(names.state) w WHERE w.subject = c.subject LIMIT 1) w ON true
                GROUP BY c.subject, w.last_time, w.total),
            added AS (
                SELECT m.subject, sum(c.change) AS added FROM moved m JOIN change c ON c.subject = m.subject
                WHERE c.time > m.new_last - \(span) GROUP BY m.subject)
            INSERT INTO \(names.state) AS w (subject, last_time, total)
            SELECT m.subject, m.new_last,
                   m.old_total + coalesce(a.added, 0) - coalesce((
                       SELECT sum(t.\(names.value)) FROM \(names.table) t
                       WHERE t.\(names.subject) = m.subject
                         AND t.\(names.time) > m.old_last - \(span) AND t.\(names.time) <= m.new_last - \(span)), 0)
            FROM moved m LEFT JOIN added a ON a.subject = m.subject
            ON CONFLICT (subject) DO UPDATE SET last_time = EXCLUDED.last_time, total = EXCLUDED.total
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
