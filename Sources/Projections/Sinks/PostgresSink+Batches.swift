import Postgres

/// Each projection's batch count (`projection_batches`): advanced by one in every batch
/// transaction that writes Redis, and carried in the projection's Redis marker, so a Redis
/// restored from an older snapshot is told apart (`RedisKeysState.stale`).
extension PostgresSink {
    /// Advances the counts of `projections` by one and returns them, in a batch's pipeline.
    func batchCountStatement(_ projections: [String]) -> PostgresStatement? {
        guard !projections.isEmpty else { return nil }
        return PostgresStatement(
            """
            INSERT INTO \(quotedSchema).projection_batches AS b (projection, batches)
            SELECT p, 1 FROM unnest($1::text[]) AS p ORDER BY p
            ON CONFLICT (projection) DO UPDATE SET batches = b.batches + 1
            RETURNING projection, batches
            """,
            [ColumnText.array(projections.sorted())], prepared: true)
    }

    /// The counts in the result of `batchCountStatement`.
    static func batchCounts(_ result: PostgresResult) -> [String: Int64] {
        var counts: [String: Int64] = [:]
        for row in result.rows {
            if let projection = row[0], let count = row[1].flatMap(Int64.init) { counts[projection] = count }
        }
        return counts
    }

    /// The committed batch count of `projection`, 0 when it has none.
    public func batchCount(projection: String) throws -> Int64 {
        try withRetry(operation: "read batch count") {
            try Self.batchCounts(connection, schema: quotedSchema, projections: [projection])[projection] ?? 0
        }.value
    }

    /// The committed batch counts of `projections` in the schema `quotedSchema` (already
    /// quoted); a projection without one is left out, and so is every one when the schema
    /// predates the counts (a live schema a replay upgrades).
    public static func batchCounts(_ connection: PostgresConnection, schema quotedSchema: String, projections: [String]) throws -> [String: Int64] {
        guard try hasBatchCounts(connection, schema: quotedSchema) else { return [:] }
        return batchCounts(try connection.query(
            "SELECT projection, batches FROM \(quotedSchema).projection_batches WHERE projection = ANY($1::text[])", [ColumnText.array(projections)]))
    }

    /// Whether the schema `quotedSchema` (already quoted) has `projection_batches` (migration 5).
    public static func hasBatchCounts(_ connection: PostgresConnection, schema quotedSchema: String) throws -> Bool {
        try connection.query("SELECT to_regclass($1) IS NOT NULL", [quotedSchema + ".projection_batches"]).value(0, 0) == "t"
    }
}
