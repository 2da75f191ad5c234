/// The shape of a projected table as folds see it: its natural-key columns, then its other
/// columns. Every projected table also ends in `seq bigint` and `event_id text` (the event
/// that last wrote the row), which the sink adds. The DDL in `schemas/postgres/` must match;
/// an integration test compares the two.
public struct TableSchema: Sendable, Hashable {
    public let name: String
    /// Key columns first, then value columns, in `RowUpsert.values` order.
    public let columns: [String]
    /// How many leading `columns` form the natural key (the primary key).
    public let keyCount: Int
    /// What a key conflict does: keep the row with the higher `seq`, or keep the first row
    /// (bookkeeping tables such as `projection_rejects`).
    public let conflict: Conflict
    /// Running totals the sink keeps beside this table, in the same transactions.
    public let trailingSums: [TrailingSum]

    public enum Conflict: Sendable, Hashable {
        case higherSeqWins
        case keepExisting
    }

    public init(name: String, key: [String], values: [String], conflict: Conflict = .higherSeqWins, trailingSums: [TrailingSum] = []) {
        precondition(!key.isEmpty, "\(name): a projected table needs a natural key")
        precondition(trailingSums.allSatisfy { Set([$0.subjectColumn, $0.timeColumn]) == [0, 1] && key.count == 2 && conflict == .higherSeqWins },
                     "\(name): a trailing sum's subject and time form the key of a higher-seq-wins table")
        self.name = name
        columns = key + values
        keyCount = key.count
        self.conflict = conflict
        self.trailingSums = trailingSums
    }

    public var keyColumns: ArraySlice<String> { columns[..<keyCount] }
    public var valueColumns: ArraySlice<String> { columns[keyCount...] }
}

/// A Redis hash whose fields are derived in SQL from converged rows rather than folded from
/// single events, because they depend on several events (the previous close, a 24 h sum).
///
/// After a batch's rows are merged, inside the same transaction, the sink collects the
/// subjects of merged rows of the `triggers` tables and runs `sql` with `$1` = those subjects
/// as a `text[]`; each result row is `(field text, value text)`. Because the query reads the
/// converged tables, the value is the same whatever order events arrived in. Derived fields
/// carry no seq guard of their own: each write is a function of the latest merged state, and
/// one projector owns a subject (partitioning is by subject), so the last write is the newest.
public struct DerivedHash: Sendable, Hashable {
    /// The hash key without namespace (`sp500_market_data`).
    public let key: String
    /// The pub/sub channel (without namespace) that receives a changed field's name.
    public let channel: String
    /// Table name → index of the column (in `TableSchema.columns`) holding the subject.
    public let triggers: [String: Int]
    public let sql: String

    public init(key: String, channel: String, triggers: [String: Int], sql: String) {
        self.key = key
        self.channel = channel
        self.triggers = triggers
        self.sql = sql
    }
}

/// A computed field of a `DerivedHash`.
public struct DerivedValue: Sendable, Hashable {
    public let hash: String
    public let channel: String
    public let field: String
    public let value: String

    public init(hash: String, channel: String, field: String, value: String) {
        self.hash = hash
        self.channel = channel
        self.field = field
        self.value = value
    }
}
