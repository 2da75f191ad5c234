/// The digest of one PostgreSQL table: its Merkle root over canonical rows, how many rows
/// and leaves it covers and the newest log position among its rows.
public struct TableDigest: Sendable, Codable, Hashable {
    public let table: String
    public let rows: Int64
    /// Hex SHA-256 Merkle root; equal roots at equal `buckets` mean equal canonical rows.
    public let root: String
    /// Leaves at the first level (2^leafBits key-hash buckets).
    public let buckets: Int
    /// `max(seq)` over the rows, when the table has a seq column.
    public let maxSeq: Int64?
    /// Columns in the canonical row (sorted by name; operational columns excluded).
    public let columns: [String]
    public let primaryKey: [String]
    public let seconds: Double
}

/// A table found in the schema but not digested, and why.
public struct SkippedTable: Sendable, Codable, Hashable {
    public let table: String
    public let reason: String
}

/// The digest of one Redis key family (a glob pattern under the target's prefix).
public struct FamilyDigest: Sendable, Codable, Hashable {
    public let family: String
    public let keys: Int64
    public let root: String
    public let buckets: Int
    /// The largest seq field among the family's values, when they carry one.
    public let maxSeq: Int64?
    public let seconds: Double
}

/// What `tickfold audit digest` prints for one target.
public struct DigestReport: Sendable, Codable {
    public let target: String
    public let schema: String?
    public let tables: [TableDigest]
    public let skippedTables: [SkippedTable]
    public let redisPrefix: String?
    public let families: [FamilyDigest]
    /// The newest log position any digested row or key carries: what the digest covers.
    public let maxSeq: Int64?
    /// Rows of the schema's `projection_checkpoints` table (column → text), when it exists.
    public let checkpoints: [[String: String?]]?
    public let digestSeconds: Double
}

/// One row or key as one side holds it: its compared values and the event that last wrote it.
public struct RowImage: Sendable, Codable, Hashable {
    /// Column (or hash field) → canonical text; nil is SQL NULL.
    public let values: [String: String?]
    public let seq: String?
    public let eventID: String?
}

/// One row or key that differs between the two sides.
public struct RowDifference: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, Hashable {
        case changed, onlyInA, onlyInB
    }

    public let kind: Kind
    /// The primary key as a canonical row literal (`(SPY,2024-01-02)`), or the key name
    /// relative to the namespace.
    public let key: String
    /// Columns or fields whose values differ (for `changed`).
    public let columns: [String]
    public let a: RowImage?
    public let b: RowImage?
}

/// How one table or key family compares between two sides.
public struct Comparison: Sendable, Codable, Hashable {
    public enum Status: String, Sendable, Codable, Hashable {
        /// Same canonical content.
        case equal
        /// Rows or keys differ (listed in `differences`) or the column sets differ.
        case different
        case onlyInA, onlyInB
        /// The primary keys differ, so rows cannot be matched.
        case incomparable
    }

    /// Table name, or `redis:` + family pattern.
    public let name: String
    public let status: Status
    public let rowsA: Int64?
    public let rowsB: Int64?
    public let rootA: String?
    public let rootB: String?
    public let columnsOnlyInA: [String]
    public let columnsOnlyInB: [String]
    /// Leaves that differ at the finest level the descent reached, and that level's bits.
    public let differingLeaves: Int
    public let leafBits: Int
    /// Rows (or key values) shipped to list differences, both sides together.
    public let rowsFetched: Int
    public let differences: [RowDifference]
    /// True when listing stopped at `maxDifferences`.
    public let truncated: Bool
    /// Why rows were not compared, or what else differs (column types, …).
    public let note: String?
}

/// What `tickfold audit diff A B` prints.
public struct DiffReport: Sendable, Codable {
    public let a: String
    public let b: String
    public let comparisons: [Comparison]
    /// Rows and key values shipped over the wire to list differences, over all comparisons.
    public let rowsFetched: Int
    public let seconds: Double

    /// True when every table and family compares equal.
    public var isEqual: Bool { comparisons.allSatisfy { $0.status == .equal } }
}

/// One event that produced (or may have produced) a traced row.
public struct TracedEvent: Sendable, Codable, Hashable {
    public enum Role: String, Sendable, Codable, Hashable {
        /// The event named by the row's event id: the last writer.
        case lastWriter
        /// An earlier event of the same type and subject whose payload mentions every key value.
        case earlierCandidate
    }

    public let role: Role
    public let seq: UInt64
    public let id: String
    public let type: String
    public let source: String
    public let subject: String
    public let occurredAt: String
}

/// What `tickfold audit trace` prints: the row's recorded writer and the events found for it.
public struct TraceReport: Sendable, Codable {
    public let target: String
    public let table: String
    public let key: [String: String]
    public let rowSeq: String?
    public let rowEventID: String?
    public let events: [TracedEvent]
    /// What could not be established (row seq disagrees with the log, history not scanned, …).
    public let notes: [String]
}

/// The exit status the CLI gives each outcome.
public enum AuditExitStatus: Int32, Sendable {
    case equal = 0
    case different = 1
    case error = 2
}
