/// How much `Event.decode` checks the stored id.
public enum IDVerification: Sendable {
    /// Recompute the id from the content and reject a mismatch (anything read from outside).
    case recompute
    /// Take the stored id on trust: every record the log holds was made from an `Event`, whose
    /// id was computed from its content (`tickfold log verify` recomputes them all).
    case trustStored
    /// Bytes a log's checksummed (zstd) value holds: take the stored id and the payload's
    /// canonical form on trust. Records are made from `Event`s only (`EventLog.record(for:)`),
    /// whose payloads are canonical by construction and within the parser's depth, and the
    /// frame's checksum catches later damage. The envelope's members are still read and
    /// checked; the payload is only delimited. `EventLog.events(from:)` chooses it per stored
    /// value; `tickfold log verify` re-checks everything.
    case trustLog
}

extension Event {
    /// Decodes an envelope (with or without `seq`), validates every field and, by default,
    /// recomputes the id and rejects a mismatch.
    public static func decode(_ bytes: some Collection<UInt8>, verification: IDVerification = .recompute) throws(EventError) -> Event {
        var decoder = EventDecoder()
        return try decoder.decode(bytes, verification: verification)
    }
}

/// Decodes envelopes reusing its scratch buffer across calls; one per reading loop.
///
/// Canonical envelopes (what the log stores and Kafka carries) take a fast path that checks
/// them in place and keeps the payload as bytes; any other input goes through the general JSON
/// parser with the same rules and precise errors. Both accept exactly the same envelopes
/// (except that with `.trustLog` the fast path takes the payload's canonical form on trust).
public struct EventDecoder: Sendable {
    private var writer = CanonicalJSONWriter(capacity: 0)

    public init() {}

    /// See `Event.decode(_:verification:)`.
    public mutating func decode(_ bytes: some Collection<UInt8>, verification: IDVerification = .recompute) throws(EventError) -> Event {
        let fast: Event?? = bytes.withContiguousStorageIfAvailable { buffer in
            var scanner = CanonicalEnvelopeScanner(UnsafeRawBufferPointer(buffer))
            return scanner.scan(verification: verification)
        }
        if let event = fast ?? nil { return event }
        return try decodeGeneral(bytes, verification: verification)
    }

    /// Decodes an envelope lent as raw bytes (a log read buffer, a Kafka message).
    public mutating func decode(_ bytes: UnsafeRawBufferPointer, verification: IDVerification = .recompute) throws(EventError) -> Event {
        var scanner = CanonicalEnvelopeScanner(bytes)
        if let event = scanner.scan(verification: verification) { return event }
        return try decodeGeneral(bytes, verification: verification)
    }

    /// The general path: any JSON spelling of an envelope.
    mutating func decodeGeneral(_ bytes: some Collection<UInt8>, verification: IDVerification) throws(EventError) -> Event {
        let root: JSONValue
        do {
            root = try JSONValue.parse(bytes)
        } catch {
            throw EventError(code: .malformedJSON, field: nil, detail: error.description)
        }
        return try decode(root, verification: verification)
    }

    /// Decodes an envelope already parsed into a `JSONValue`.
    public mutating func decode(_ root: JSONValue, verification: IDVerification = .recompute) throws(EventError) -> Event {
        guard case .object(let envelope) = root else {
            throw EventError(code: .invalidField, field: nil, detail: "an envelope is a JSON object, found \(root.kindDescription)")
        }
        var idText: String?
        var type: String?
        var version: Int?
        var source: String?
        var subject: String?
        var occurredAt: Timestamp?
        var observedAt: Timestamp?
        var payload: JSONObject?
        var provenance: Provenance?
        var seq: UInt64?
        for member in envelope.members {
            switch Self.envelopeKey(member.key) {
            case .id: idText = try string(member)
            case .type: type = try string(member)
            case .version: version = Int(try integer(member, range: 1...1_000_000))
            case .source: source = try string(member)
            case .subject: subject = try string(member)
            case .occurredAt: occurredAt = try time(member)
            case .observedAt: observedAt = try time(member)
            case .payload:
                guard case .object(let object) = member.value else {
                    throw EventError(code: .invalidField, field: "payload", detail: "expected an object, found \(member.value.kindDescription)")
                }
                payload = object
            case .provenance: provenance = try decodeProvenance(member.value)
            case .seq: seq = UInt64(try integer(member, range: 1...9_007_199_254_740_991))
            case .unknown:
                throw EventError(code: .unknownField, field: member.key, detail: "envelopes have id, type, version, source, subject, occurredAt, observedAt, payload, provenance, seq")
            }
        }
        guard let idText else { throw missing("id") }
        guard let type else { throw missing("type") }
        guard let version else { throw missing("version") }
        guard let source else { throw missing("source") }
        guard let subject else { throw missing("subject") }
        guard let occurredAt else { throw missing("occurredAt") }
        guard let payload else { throw missing("payload") }
        guard idText.utf8.count == 64, idText.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }),
              let storedID = EventID(hex: idText)
        else {
            throw EventError(code: .invalidField, field: "id", detail: "expected 64 lowercase hex digits")
        }
        try Event.validateType(type)
        try Event.validateText(source, field: "source")
        try Event.validateText(subject, field: "subject")

        writer.reset()
        let payloadStart = try Event.writeIdentityHead(into: &writer, occurredAt: occurredAt, payload: payload)
        let payloadBytes = Array(writer.bytes[payloadStart...])
        if case .recompute = verification {
            Event.writeIdentityTail(into: &writer, type: type, version: version, source: source, subject: subject)
            writer.appendByte(UInt8(ascii: "}"))
            let computed = EventID(sha256Of: writer.bytes)
            guard computed == storedID else {
                throw EventError(code: .idMismatch, field: "id", detail: "stored id \(storedID.hex) but the content hashes to \(computed.hex)")
            }
        }
        return Event(
            id: storedID, type: type, version: version, source: source, subject: subject, occurredAt: occurredAt,
            observedAt: observedAt, payloadBytes: payloadBytes, provenance: provenance, seq: seq)
    }

    private enum EnvelopeKey {
        case id, type, version, source, subject, seq, payload, provenance, occurredAt, observedAt, unknown
    }

    /// Recognizes an envelope member name with one string comparison instead of a chain of them.
    private static func envelopeKey(_ key: String) -> EnvelopeKey {
        let utf8 = key.utf8
        switch (utf8.count, utf8.first ?? 0) {
        case (2, UInt8(ascii: "i")): return key == "id" ? .id : .unknown
        case (4, UInt8(ascii: "t")): return key == "type" ? .type : .unknown
        case (7, UInt8(ascii: "v")): return key == "version" ? .version : .unknown
        case (6, UInt8(ascii: "s")): return key == "source" ? .source : .unknown
        case (7, UInt8(ascii: "s")): return key == "subject" ? .subject : .unknown
        case (3, UInt8(ascii: "s")): return key == "seq" ? .seq : .unknown
        case (7, UInt8(ascii: "p")): return key == "payload" ? .payload : .unknown
        case (10, UInt8(ascii: "p")): return key == "provenance" ? .provenance : .unknown
        case (10, UInt8(ascii: "o")): return key == "occurredAt" ? .occurredAt : key == "observedAt" ? .observedAt : .unknown
        default: return .unknown
        }
    }

    private func missing(_ field: String) -> EventError {
        EventError(code: .missingField, field: field, detail: "required")
    }

    private func string(_ member: JSONObject.Member) throws(EventError) -> String {
        guard case .string(let s) = member.value else {
            throw EventError(code: .invalidField, field: member.key, detail: "expected a string, found \(member.value.kindDescription)")
        }
        return s
    }

    private func integer(_ member: JSONObject.Member, range: ClosedRange<Int64>) throws(EventError) -> Int64 {
        guard case .number(let d) = member.value, d.rounded(.towardZero) == d, d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
            throw EventError(code: .invalidField, field: member.key, detail: "expected an integer in \(range.lowerBound)...\(range.upperBound), found \(member.value.kindDescription)")
        }
        return Int64(d)
    }

    private func time(_ member: JSONObject.Member) throws(EventError) -> Timestamp {
        let text = try string(member)
        do {
            return try Timestamp(canonical: text)
        } catch {
            throw EventError(code: .invalidField, field: member.key, detail: error.description)
        }
    }

    private func decodeProvenance(_ value: JSONValue) throws(EventError) -> Provenance {
        guard case .object(let object) = value else {
            throw EventError(code: .invalidField, field: "provenance", detail: "expected an object, found \(value.kindDescription)")
        }
        var result = Provenance()
        for member in object.members {
            guard case .string(let s) = member.value else {
                throw EventError(code: .invalidField, field: "provenance.\(member.key)", detail: "expected a string, found \(member.value.kindDescription)")
            }
            switch member.key {
            case "request": result.request = s
            case "causation": result.causation = s
            default:
                throw EventError(code: .unknownField, field: "provenance.\(member.key)", detail: "provenance has request and causation")
            }
        }
        guard result.request != nil || result.causation != nil else {
            throw EventError(code: .invalidField, field: "provenance", detail: "an empty provenance is omitted, not written as {}")
        }
        return result
    }
}
