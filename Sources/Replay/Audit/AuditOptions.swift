/// What an audit looks at and how finely it splits it.
public struct AuditOptions: Sendable {
    /// Columns left out of every row's canonical form: bookkeeping that two correct rebuilds
    /// legitimately disagree on (when a row was applied, cache lifetimes).
    public var excludedColumns: Set<String>
    /// Hash fields left out of every Redis value's canonical form, for the same reason.
    public var excludedFields: Set<String>
    /// Tables that are not projections of events and are not digested; the first one found
    /// among them that is named `projection_checkpoints` is reported as the covered position.
    /// `projection_batches` counts batches, which two correct rebuilds cut differently.
    public var excludedTables: Set<String>
    /// Only these tables, when set (names relative to the schema).
    public var tables: [String]?
    /// Redis key families as glob patterns relative to the target's prefix.
    public var families: [String]
    /// Leaves at the first level are the 2^`leafBits` buckets of the key hash.
    public var leafBits: Int
    /// A diff descends one more level (256 times finer) while the rows in differing leaves
    /// exceed this; below it, it fetches those rows.
    public var fetchThreshold: Int
    /// Rows fetched per query when listing the rows of differing leaves.
    public var fetchBatchRows: Int
    /// A diff stops listing a table's or family's differences after this many.
    public var maxDifferences: Int
    /// Columns (PostgreSQL) or hash/JSON fields (Redis) holding the log position of the
    /// event that last wrote a row, first match wins.
    public var seqFields: [String]
    /// Columns or fields holding the id of the event that last wrote a row, first match wins.
    public var eventIDFields: [String]

    public init(
        excludedColumns: Set<String> = ["applied_at", "updated_at", "ttl"],
        excludedFields: Set<String> = ["applied_at", "updated_at", "ttl", "_applied_at", "_updated_at", "_ttl"],
        excludedTables: Set<String> = [AuditOptions.checkpointTable, AuditOptions.batchCountTable],
        tables: [String]? = nil,
        families: [String] = AuditOptions.defaultFamilies,
        leafBits: Int = 12,
        fetchThreshold: Int = 8192,
        fetchBatchRows: Int = 65536,
        maxDifferences: Int = 1000,
        seqFields: [String] = ["seq", "_seq"],
        eventIDFields: [String] = ["event_id", "_event_id", "eventId", "_eid"]
    ) {
        self.excludedColumns = excludedColumns
        self.excludedFields = excludedFields
        self.excludedTables = excludedTables
        self.tables = tables
        self.families = families
        self.leafBits = leafBits
        self.fetchThreshold = fetchThreshold
        self.fetchBatchRows = fetchBatchRows
        self.maxDifferences = maxDifferences
        self.seqFields = seqFields
        self.eventIDFields = eventIDFields
    }

    /// The projector's checkpoint table: positions it covers, reported, never digested.
    public static let checkpointTable = "projection_checkpoints"
    /// The projector's batch counts (`schemas/redis.md`, "Marker keys"): bookkeeping that
    /// depends on how events were batched, never digested.
    public static let batchCountTable = "projection_batches"

    /// The Redis key families of SPEC §2.1.
    public static let defaultFamilies = [
        "latest:stocks:sp500:*", "latest:crypto:*", "latest:stocks:topgainers:*", "sp500_market_data",
    ]

    func validate() throws(AuditError) {
        guard (1...32).contains(leafBits) else {
            throw AuditError(.invalidArgument, operation: "options", message: "leaf bits must be within 1...32, got \(leafBits)")
        }
        guard fetchThreshold > 0, fetchBatchRows > 0, maxDifferences > 0 else {
            throw AuditError(.invalidArgument, operation: "options", message: "fetch threshold, fetch batch and maximum differences must be positive")
        }
    }
}
