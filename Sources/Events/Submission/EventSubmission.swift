/// An envelope as a person or another system submits it (`tickfold log append`): every
/// identity field, optionally `observedAt` and `provenance`, never `seq` (the log assigns
/// it). An `id`, when given, must match the one Tickfold computes; like `tickfold log get`, it
/// may be written in upper or lower case (the event keeps the lowercase form).
public enum EventSubmission {
    /// Builds the event a JSON line describes, computing its id; throws a precise reason.
    public static func event(fromLine bytes: some Collection<UInt8>, catalog: EventCatalog = .standard) throws -> Event {
        let root: JSONValue
        do { root = try JSONValue.parse(bytes) } catch {
            throw EventError(code: .malformedJSON, field: nil, detail: "\(error)")
        }
        return try event(from: root, catalog: catalog)
    }

    /// Builds the event `root` describes; the payload is validated against the catalog.
    public static func event(from root: JSONValue, catalog: EventCatalog = .standard) throws -> Event {
        guard let object = root.objectValue else {
            throw EventError(code: .malformedJSON, field: nil, detail: "expected an envelope object, found \(root.kindDescription)")
        }
        var type: String?, version: Int?, source: String?, subject: String?
        var occurredAt: Timestamp?, observedAt: Timestamp?, payload: JSONValue?, provenance: Provenance?
        var claimedID: EventID?
        for member in object.members {
            switch member.key {
            case "type": type = try text(member)
            case "version": version = try integer(member)
            case "source": source = try text(member)
            case "subject": subject = try text(member)
            case "occurredAt": occurredAt = try time(member)
            case "observedAt": observedAt = try time(member)
            case "payload": payload = member.value
            case "provenance": provenance = try decodeProvenance(member.value)
            case "id":
                let text = try text(member)
                guard let id = EventID(hex: text) else {
                    throw EventError(code: .invalidField, field: "id", detail: "expected 64 hex digits, found \"\(text.prefix(80))\"")
                }
                claimedID = id
            case "seq":
                throw EventError(code: .invalidField, field: "seq", detail: "seq is assigned by the log; remove it")
            default:
                throw EventError(code: .unknownField, field: member.key, detail: "not an envelope field")
            }
        }
        func required<T>(_ value: T?, _ field: String) throws -> T {
            guard let value else { throw EventError(code: .missingField, field: field, detail: "required") }
            return value
        }
        let event = try Event.make(
            type: required(type, "type"), version: required(version, "version"), source: required(source, "source"),
            subject: required(subject, "subject"), occurredAt: required(occurredAt, "occurredAt"),
            payload: required(payload, "payload"), observedAt: observedAt, provenance: provenance)
        if let claimedID, claimedID != event.id {
            throw EventError(code: .idMismatch, field: "id", detail: "given \(claimedID.hex), content hashes to \(event.id.hex)")
        }
        try catalog.validate(event)
        return event
    }

    private static func text(_ member: JSONObject.Member) throws -> String {
        guard let value = member.value.stringValue else {
            throw EventError(code: .invalidField, field: member.key, detail: "expected a string, found \(member.value.kindDescription)")
        }
        return value
    }

    private static func integer(_ member: JSONObject.Member) throws -> Int {
        guard case .number(let number) = member.value, number == number.rounded(), abs(number) < 1e15 else {
            throw EventError(code: .invalidField, field: member.key, detail: "expected an integer, found \(member.value)")
        }
        return Int(number)
    }

    private static func time(_ member: JSONObject.Member) throws -> Timestamp {
        let value = try text(member)
        do { return try Timestamp.parseRFC3339(value) } catch {
            throw EventError(code: .invalidField, field: member.key, detail: "\(error)")
        }
    }

    private static func decodeProvenance(_ value: JSONValue) throws -> Provenance {
        guard let object = value.objectValue else {
            throw EventError(code: .invalidField, field: "provenance", detail: "expected an object, found \(value.kindDescription)")
        }
        var provenance = Provenance()
        for member in object.members {
            switch member.key {
            case "request": provenance.request = try text(member)
            case "causation": provenance.causation = try text(member)
            default: throw EventError(code: .unknownField, field: "provenance.\(member.key)", detail: "not a provenance field")
            }
        }
        return provenance
    }
}
