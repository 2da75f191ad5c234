/// One event as handed to the log: its identity and its canonical JSON envelope bytes.
///
/// The log returns exactly these bytes on every read. Outside this module records are made
/// from events only (`EventLog.record(for:)`): readers take a stored record's id and payload
/// form on trust (`IDVerification`), so arbitrary bytes must not get in.
public struct LogRecord: Sendable, Hashable {
    public let id: EventID
    public let canonicalJSON: [UInt8]

    init(id: EventID, canonicalJSON: [UInt8]) {
        self.id = id
        self.canonicalJSON = canonicalJSON
    }
}

/// What an append did with one record.
public enum AppendOutcome: Sendable, Hashable {
    /// Stored as a new event at this position.
    case appended(UInt64)
    /// An event with the same id is already in the log (or earlier in the same batch) at this position.
    case duplicate(UInt64)

    /// The record's position in the log, new or existing.
    public var seq: UInt64 {
        switch self {
        case .appended(let seq), .duplicate(let seq): return seq
        }
    }
}

/// An event read back from the log, with its bytes copied out.
public struct StoredEvent: Sendable, Hashable {
    public let seq: UInt64
    public let id: EventID
    /// Exactly the canonical JSON bytes that were appended.
    public let canonicalJSON: [UInt8]
}

/// An event lent by `EventLog.forEach`: its bytes are valid only during the call that lends it.
public struct StoredEventView {
    public let seq: UInt64
    /// The 32 id bytes.
    public let idBytes: UnsafeRawBufferPointer
    /// The canonical JSON bytes (decompressed into a buffer the iteration reuses).
    public let canonicalJSON: UnsafeRawBufferPointer

    /// The id as a value.
    public var id: EventID { EventID(digest: idBytes) }

    /// Copies the event out.
    public func copy() -> StoredEvent {
        StoredEvent(seq: seq, id: id, canonicalJSON: Array(canonicalJSON))
    }
}

/// Size and compression figures of a log.
public struct EventLogStats: Sendable, Equatable {
    /// Events stored.
    public let count: Int
    /// Position of the newest event (0 when empty).
    public let lastSeq: UInt64
    /// Every event up to this seq is in the id index; later ones are merged into it in runs.
    public let indexedThrough: UInt64
    /// Bytes of stored values (headers, ids, lengths and compressed payloads).
    public let storedBytes: UInt64
    /// Bytes of canonical JSON the stored records decode to.
    public let rawBytes: UInt64
    /// Size of the data file on disk.
    public let fileBytes: UInt64
    /// `rawBytes / storedBytes` (1 when empty).
    public var compressionRatio: Double {
        storedBytes == 0 ? 1 : Double(rawBytes) / Double(storedBytes)
    }
}

/// How many write transactions the writer committed for how many append calls; group
/// commit shows as `transactions` well below `calls` under concurrent appends.
public struct EventLogWriteCounters: Sendable, Equatable {
    public var transactions = 0
    public var calls = 0
    public var appended = 0
    public var duplicates = 0
}
