import Events

/// One row a fold wants in a table: the natural key and the other columns as PostgreSQL text
/// (`nil` is NULL), in the table's column order, plus the event that wrote it. A sink stores
/// it only if no row with the same key has a higher `seq` (SPEC §2 convergence).
public struct RowUpsert: Sendable, Hashable {
    /// The table's name (unqualified; the sink decides the schema).
    public let table: String
    /// Every column of `TableSchema.columns`, key columns first, in order.
    public let values: [String?]
    public let seq: UInt64
    public let eventID: EventID

    public init(table: String, values: [String?], seq: UInt64, eventID: EventID) {
        self.table = table
        self.values = values
        self.seq = seq
        self.eventID = eventID
    }
}

/// One field of a Redis hash.
public struct RedisField: Sendable, Hashable {
    public let name: String
    public let value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A Redis hash a fold wants to hold exactly `fields` (plus the `_seq`/`_event_id` guard
/// fields the sink adds), unless the key already holds a higher `seq`.
public struct KeyWrite: Sendable, Hashable {
    /// The key without the sink's namespace prefix (`latest:crypto:KRW-BTC`).
    public let key: String
    /// Fields sorted by name, so equal writes compare equal.
    public let fields: [RedisField]
    public let seq: UInt64
    public let eventID: EventID

    public init(key: String, fields: [RedisField], seq: UInt64, eventID: EventID) {
        self.key = key
        self.fields = fields.sorted { $0.name < $1.name }
        self.seq = seq
        self.eventID = eventID
    }
}

/// An event a projection could not apply (a poison event). It is recorded once in
/// `projection_rejects` and the projection carries on; the reason depends only on the event,
/// so the same event always yields the same reject.
public struct Reject: Sendable, Hashable {
    public let projection: String
    public let eventID: EventID
    public let seq: UInt64
    public let eventType: String
    public let reason: String

    public init(projection: String, eventID: EventID, seq: UInt64, eventType: String, reason: String) {
        self.projection = projection
        self.eventID = eventID
        self.seq = seq
        self.eventType = eventType
        self.reason = reason
    }
}

/// Everything folds produced for a batch of events, in event order.
public struct ProjectionChanges: Sendable, Hashable {
    public var rows: [RowUpsert] = []
    public var keys: [KeyWrite] = []
    public var rejects: [Reject] = []

    public init() {}

    public var isEmpty: Bool { rows.isEmpty && keys.isEmpty && rejects.isEmpty }
}
