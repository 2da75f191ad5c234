/// The envelope layer on top of the byte-level log: events in, events out.
extension EventLog {
    /// The record the log stores for `event`: its id and canonical envelope without `seq`.
    public static func record(for event: Event) throws -> LogRecord {
        LogRecord(id: event.id, canonicalJSON: try event.canonicalBytes())
    }

    /// Appends events as one all-or-nothing batch; see `append(_:)` for the outcomes.
    public func append(events: [Event]) async throws -> [AppendOutcome] {
        try await append(events.map(Self.record(for:)))
    }

    /// Blocking `append(events:)` for single-threaded callers such as the CLI.
    @available(*, noasync, message: "use append(events:) from async code")
    public func appendBlocking(events: [Event]) throws -> [AppendOutcome] {
        try appendBlocking(events.map(Self.record(for:)))
    }

    /// Checks storage and identity: every record decodes as a canonical envelope whose
    /// recomputed id is the one stored and indexed.
    public func verify() throws -> [StorageInconsistency] {
        try verifyStorage(rehash: { bytes in
            guard let event = try? Event.decode(bytes, verification: .trustStored),
                  let identity = try? event.identityBytes() else { return nil }
            return EventID(sha256Of: identity)
        })
    }
}
