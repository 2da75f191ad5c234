import Events

/// The latest `ingest.cursor` per subject, read from the log: progressive collection keeps
/// its position nowhere else, so a restart or a replay of the log resumes at the same place.
public struct CursorLedger: Sendable {
    /// A recorded cursor and the day it was recorded for.
    public struct Entry: Sendable, Equatable {
        public let cursor: IngestCursor
        public let day: LocalDate
        public let seq: UInt64
    }

    public private(set) var entries: [String: Entry] = [:]

    public init() {}

    /// Scans `log` for cursor events; the highest `seq` per subject wins.
    public static func read(from log: EventLog) throws -> CursorLedger {
        var ledger = CursorLedger()
        let marker = Array("\"type\":\"\(IngestCursor.type)\"".utf8)
        var decoder = EventDecoder()
        try log.forEach(from: 1) { view in
            guard contains(view.canonicalJSON, marker) else { return }
            let event = try decoder.decode(view.canonicalJSON, verification: .trustStored)
            guard event.type == IngestCursor.type else { return }
            let cursor = try IngestCursor(json: event.payload)
            ledger.entries[event.subject] = Entry(cursor: cursor, day: LocalDate(utcDateOf: event.occurredAt), seq: view.seq)
        }
        return ledger
    }

    /// Remembers a cursor this run appended.
    public mutating func record(_ cursor: IngestCursor, subject: String, day: LocalDate, seq: UInt64) {
        entries[subject] = Entry(cursor: cursor, day: day, seq: seq)
    }

    /// The subject of a step's cursor: `source/plan.step`.
    public static func subject(source: String, plan: String, step: String) -> String { "\(source)/\(plan).\(step)" }

    /// Where a progressive step starts on `day` over `keys`, or nil when its cycle already
    /// completed on or after `day` (the next cycle starts on a later day).
    ///
    /// The position is checked against the recorded last key: when the list changed since,
    /// collection resumes after that key's new place instead of at a shifted index.
    public func start(subject: String, keys: [String], day: LocalDate) -> Int? {
        guard let entry = entries[subject] else { return 0 }
        var position = min(entry.cursor.position, keys.count)
        if let last = entry.cursor.lastKey, position > 0, keys[position - 1] != last, let index = keys.firstIndex(of: last) {
            position = index + 1
        }
        if position >= keys.count {
            return entry.day < day ? 0 : nil
        }
        return position
    }

    private static func contains(_ buffer: UnsafeRawBufferPointer, _ pattern: [UInt8]) -> Bool {
        guard buffer.count >= pattern.count, let first = pattern.first else { return false }
        var index = 0
        let last = buffer.count - pattern.count
        while index <= last {
            if buffer[index] == first {
                var matched = true
                for offset in 1..<pattern.count where buffer[index + offset] != pattern[offset] {
                    matched = false
                    break
                }
                if matched { return true }
            }
            index += 1
        }
        return false
    }
}
