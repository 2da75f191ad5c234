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

/// One member of a `latest:*` value besides the guard members.
public struct RedisField: Sendable, Hashable {
    /// A member's JSON value: text and decimal strings stay JSON strings (never rounded),
    /// integers of the payload (ranks, millisecond timestamps, share counts) are JSON numbers.
    public enum Value: Sendable, Hashable {
        case string(String)
        /// At most 2^53 − 1 in magnitude, as every payload integer is (I-JSON).
        case integer(Int64)
    }

    /// Lowercase ASCII first, so that it sorts after the guard members `_event_id` and `_seq`.
    public let name: String
    public let value: Value

    /// A string member.
    public init(_ name: String, _ value: String) {
        self.init(name, .string(value))
    }

    /// A number member; `value` must be exact as a JSON number (|value| < 2^53).
    public init(_ name: String, integer value: Int64) {
        self.init(name, .integer(value))
    }

    public init(_ name: String, _ value: Value) {
        precondition(name.utf8.first.map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) } == true,
                     "latest:* member \"\(name)\" must start with a lowercase ASCII letter (it must sort after _seq)")
        if case .integer(let number) = value {
            precondition(number.magnitude <= RedisLayout.maximumExactInteger, "\(name) = \(number) is not exact as a JSON number")
        }
        self.name = name
        self.value = value
    }
}

/// A `latest:*` key a fold wants to hold exactly `fields`, stamped with the event that wrote
/// them, unless the key already holds a higher `seq`.
public struct KeyWrite: Sendable, Hashable {
    /// The key without the sink's namespace prefix (`latest:crypto:KRW-BTC`).
    public let key: String
    /// The whole value the key will hold: the RFC 8785 canonical JSON object of the fields
    /// and the guard members `_event_id` (lowercase hex) and `_seq`, which sort first
    /// (`RedisLayout.value(fields:seq:eventID:)`), so equal writes compare equal byte for byte.
    public let value: [UInt8]
    public let seq: UInt64
    public let eventID: EventID

    /// Encodes `fields` (names unique) into `value`.
    public init(key: String, fields: [RedisField], seq: UInt64, eventID: EventID) {
        self.key = key
        value = RedisLayout.value(fields: fields, seq: seq, eventID: eventID)
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
