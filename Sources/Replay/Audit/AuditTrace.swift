import Events
import Foundation
import Postgres
import Projections

extension Audit {
    /// Finds the events behind one projected row: reads the row's recorded `event_id` and
    /// `seq`, looks the event up in `log` by id (recomputing its id from its content) and,
    /// with `history`, scans the log up to that event for earlier events of the same type and
    /// subject that wrote the same row or key. When the last writer's own fold (by
    /// `projections`) writes the traced row or key, a candidate counts exactly when its fold
    /// does too; otherwise (a view, a derived hash, a table no projection owns) when its
    /// subject or payload mentions every key value. For a Redis target, `table` is a key
    /// relative to the prefix and `key` is empty.
    public static func trace(
        _ source: AuditSource, table: String, key: [String], log: EventLog, history: Bool = false,
        options: AuditOptions = AuditOptions(), projections: [any Projection] = ProjectionRegistry.standard.projections
    ) throws(AuditError) -> TraceReport {
        let (keyValues, rowSeq, rowEventID) = try recordedWriter(source, table: table, key: key, options: options)
        var notes: [String] = []
        var events: [TracedEvent] = []
        guard let rowEventID else {
            notes.append("the row records no event id; nothing to look up")
            return TraceReport(target: source.target.description, table: table, key: keyValues, rowSeq: rowSeq, rowEventID: nil, events: [], notes: notes)
        }
        let hex = rowEventID.hasPrefix("\\x") ? String(rowEventID.dropFirst(2)) : rowEventID
        guard let id = EventID(hex: hex) else {
            throw AuditError(.invalidArgument, operation: "trace", message: "the row's event id \(rowEventID) is not 64 hex digits")
        }
        let lastWriter: Event
        do {
            guard let seq = try log.seq(of: id) else {
                throw AuditError(.notFound, operation: "trace", message: "event \(id) that last wrote the row is not in the log at \(log.directory)")
            }
            guard let stored = try log.event(at: seq) else {
                throw AuditError(.eventLog, operation: "trace", message: "the id index names seq \(seq) for \(id) but the log holds no event there")
            }
            var event = try Event.decode(stored.canonicalJSON, verification: .recompute)
            event.seq = seq
            lastWriter = event
        } catch let error as AuditError {
            throw error
        } catch {
            throw AuditError(.eventLog, operation: "trace", message: "\(error)")
        }
        if let rowSeq, rowSeq != String(lastWriter.seq!) {
            notes.append("the row records seq \(rowSeq) but the log holds its event at seq \(lastWriter.seq!)")
        }
        if history {
            // As `recordedWriter` chose: a row when the target has an open pg: part, else a key.
            let written = source.target.postgres != nil && source.postgres != nil ? WrittenState.row(table: table, key: key) : .key(table)
            let writes = try folds(lastWriter, projections) { written.isWritten(by: $0) } ? written : nil
            if writes == nil { notes.append("history matched by key values in the payload: the last writer's fold does not write this \(key.isEmpty ? "key" : "row") itself") }
            events += try earlierCandidates(of: lastWriter, writing: writes, keyValues: Array(keyValues.values), projections: projections, log: log)
        } else {
            notes.append("earlier events not scanned (use --history to scan the log for them)")
        }
        events.append(traced(lastWriter, role: .lastWriter))
        return TraceReport(
            target: source.target.description, table: table, key: keyValues, rowSeq: rowSeq,
            rowEventID: rowEventID, events: events, notes: notes)
    }

    /// The row's key (column → value), its recorded seq and event id.
    private static func recordedWriter(
        _ source: AuditSource, table: String, key: [String], options: AuditOptions
    ) throws(AuditError) -> ([String: String], String?, String?) {
        if let part = source.target.postgres, let connection = source.postgres {
            let session = try PostgresAuditSession(connection: connection)
            defer { session.close() }
            guard let shape = try session.tables(in: part.schema)[table] else {
                throw AuditError(.notFound, operation: "trace", message: "table \(part.schema).\(table) does not exist")
            }
            guard shape.primaryKey.count == key.count, !key.isEmpty else {
                throw AuditError(.invalidArgument, operation: "trace", message: "\(table) has primary key (\(shape.primaryKey.joined(separator: ", "))): give \(shape.primaryKey.count) key value(s), got \(key.count)")
            }
            let names = shape.columns.map(\.name)
            let seqColumn = options.seqFields.first { names.contains($0) }
            guard let eventColumn = options.eventIDFields.first(where: { names.contains($0) }) else {
                throw AuditError(.invalidArgument, operation: "trace", message: "\(table) has no event id column (looked for \(options.eventIDFields.joined(separator: ", ")))")
            }
            let result = try session.run("read row of \(table)") { () throws -> PostgresResult in
                let quote = PostgresConnection.quoteIdentifier
                let condition = try shape.primaryKey.enumerated().map { try "\(quote($1)) = $\($0 + 1)" }.joined(separator: " AND ")
                let seq = try seqColumn.map { try "(\(quote($0)))::text" } ?? "NULL::text"
                return try connection.query(
                    "SELECT \(seq), (\(try quote(eventColumn)))::text FROM \(try quote(part.schema)).\(try quote(table)) WHERE \(condition)",
                    key)
            }
            guard result.rowCount == 1 else {
                throw AuditError(.notFound, operation: "trace", message: "\(table) has no row with key (\(key.joined(separator: ", ")))")
            }
            return (Dictionary(uniqueKeysWithValues: zip(shape.primaryKey, key)), result.value(0, 0), result.value(0, 1))
        }
        if let part = source.target.redis, let connection = source.redis {
            guard key.isEmpty else {
                throw AuditError(.invalidArgument, operation: "trace", message: "a Redis trace takes one key name and no key values")
            }
            let session = RedisAuditSession(connection: connection, prefix: part.prefix, options: options)
            guard let value = try session.values(of: [Array(table.utf8)]).first else {
                throw AuditError(.notFound, operation: "trace", message: "key \(part.prefix)\(table) does not exist")
            }
            return (["key": table], value.seq, value.eventID)
        }
        throw AuditError(.invalidTarget, operation: "trace", message: "target \(source.target) has no open pg: or redis: part")
    }

    /// A row or key a fold may write.
    private enum WrittenState {
        case row(table: String, key: [String])
        case key(String)

        func isWritten(by changes: ProjectionChanges) -> Bool {
            switch self {
            case .row(let table, let key):
                changes.rows.contains { $0.table == table && $0.values.count >= key.count && zip($0.values, key).allSatisfy { $0 == $1 } }
            case .key(let name):
                changes.keys.contains { $0.key == name }
            }
        }
    }

    /// Whether folding `event` alone by `projections` changes what `test` looks for.
    private static func folds(_ event: Event, _ projections: [any Projection], _ test: (ProjectionChanges) -> Bool) throws(AuditError) -> Bool {
        do {
            return test(try ProjectionEngine.fold([event], projections: projections))
        } catch {
            throw AuditError(.invalidArgument, operation: "trace history", message: "folding event \(event.id) at seq \(event.seq.map(String.init) ?? "?"): \(error)")
        }
    }

    /// Events before `lastWriter` with its type and subject that wrote `written` (when the
    /// fold tells), or else whose subject or payload mentions every key value.
    private static func earlierCandidates(
        of lastWriter: Event, writing written: WrittenState?, keyValues: [String], projections: [any Projection], log: EventLog
    ) throws(AuditError) -> [TracedEvent] {
        let typeNeedle = Array("\"type\":\"\(lastWriter.type)\"".utf8)
        let subjectNeedle = Array("\"subject\":\"\(lastWriter.subject)\"".utf8)
        var found: [TracedEvent] = []
        var decoder = EventDecoder()
        do {
            guard let end = lastWriter.seq, end > 1 else { return [] }
            try log.forEach(from: 1, through: end - 1) { view in
                guard contains(view.canonicalJSON, typeNeedle), contains(view.canonicalJSON, subjectNeedle) else { return }
                var event = try decoder.decode(view.canonicalJSON, verification: .trustStored)
                guard event.type == lastWriter.type, event.subject == lastWriter.subject else { return }
                event.seq = view.seq
                if let written {
                    guard try folds(event, projections, { written.isWritten(by: $0) }) else { return }
                } else {
                    guard keyValues.allSatisfy({ $0 == event.subject || mentions(event.payload, $0) }) else { return }
                }
                found.append(traced(event, role: .earlierCandidate))
            }
        } catch let error as EventLogError {
            if let own = error.underlying as? AuditError { throw own }
            throw AuditError(.eventLog, operation: "trace history", message: "\(error)")
        } catch {
            throw AuditError(.eventLog, operation: "trace history", message: "\(error)")
        }
        return found
    }

    private static func traced(_ event: Event, role: TracedEvent.Role) -> TracedEvent {
        TracedEvent(
            role: role, seq: event.seq ?? 0, id: event.id.hex, type: event.type, source: event.source,
            subject: event.subject, occurredAt: event.occurredAt.rfc3339)
    }

    /// Whether `value` holds `text` as a string, or as a number equal to it, anywhere inside.
    static func mentions(_ value: JSONValue, _ text: String) -> Bool {
        switch value {
        case .string(let string): return string == text
        case .number(let number): return Double(text) == number
        case .bool(let flag): return String(flag) == text
        case .null: return false
        case .array(let elements): return elements.contains { mentions($0, text) }
        case .object(let object): return object.members.contains { mentions($0.value, text) }
        }
    }

    private static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, haystack.count >= needle.count else { return needle.isEmpty }
        var index = 0
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first {
                var matched = 1
                while matched < needle.count && haystack[index + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return true }
            }
            index += 1
        }
        return false
    }
}
