import Crypto

/// Which fetch or stage produced an event; carried in the envelope but excluded from the identity.
public struct Provenance: Hashable, Sendable {
    /// Fingerprint of the request whose response held the datum (no secrets in it).
    public var request: String?
    /// What caused the event: a stage run, a parent event id, a schedule tick.
    public var causation: String?

    public init(request: String? = nil, causation: String? = nil) {
        self.request = request
        self.causation = causation
    }
}

/// Why an envelope was refused.
public struct EventError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        public static let malformedJSON = Code(name: "malformed JSON")
        public static let invalidField = Code(name: "invalid envelope field")
        public static let missingField = Code(name: "missing envelope field")
        public static let unknownField = Code(name: "unknown envelope field")
        public static let idMismatch = Code(name: "id mismatch")
        public static let notCanonicalizable = Code(name: "not canonicalizable")
    }

    public let code: Code
    /// The envelope field concerned (`payload` for payload problems), if any.
    public let field: String?
    public let detail: String

    public init(code: Code, field: String?, detail: String) {
        self.code = code
        self.field = field
        self.detail = detail
    }

    public var description: String {
        if let field { return "event \(code) at \(field): \(detail)" }
        return "event \(code): \(detail)"
    }
}

/// An immutable fact: the SPEC §1.1 envelope around a payload.
///
/// The identity `id` is the lowercase hex SHA-256 of the RFC 8785 canonical JSON of exactly
/// `{type, version, source, subject, occurredAt, payload}`. `observedAt`, `provenance` and `seq`
/// describe *this* observation and log position, so they stay out of the identity.
///
/// Wire forms: `canonicalBytes()` is the canonical JSON of the envelope *without* `seq` — what
/// the log stores under its seq key. Kafka values and `log read --json` add `seq`
/// (`canonicalBytes(includingSeq: true)`); `decode` accepts both.
public struct Event: Hashable, Sendable {
    public let id: EventID
    /// Dotted family name (`bar.daily`).
    public let type: String
    /// Payload schema version, ≥ 1, as stored (upcasting happens when a payload is read typed).
    public let version: Int
    public let source: String
    /// The partition key: ticker, coin symbol, account, series id …
    public let subject: String
    public let occurredAt: Timestamp
    public let observedAt: Timestamp?
    /// The payload's RFC 8785 canonical JSON (always an object): exactly the bytes the id covers,
    /// kept as bytes so decoding a stored envelope need not build a JSON tree, and so sinks that
    /// store JSON can copy it as is.
    public let payloadBytes: [UInt8]
    public let provenance: Provenance?
    /// The log position, once appended.
    public var seq: UInt64?

    /// Builds an event and computes its id; validates every envelope field.
    public static func make(
        type: String, version: Int, source: String, subject: String, occurredAt: Timestamp,
        payload: JSONValue, observedAt: Timestamp? = nil, provenance: Provenance? = nil
    ) throws(EventError) -> Event {
        try validateType(type)
        try validateVersion(version)
        try validateText(source, field: "source")
        try validateText(subject, field: "subject")
        try validateTime(occurredAt, field: "occurredAt")
        if let observedAt { try validateTime(observedAt, field: "observedAt") }
        guard case .object(let object) = payload else {
            throw EventError(code: .invalidField, field: "payload", detail: "expected an object, found \(payload.kindDescription)")
        }
        // What the log stores must decode: the parser counts the envelope as one level.
        guard payload.nests(atMost: JSONValue.defaultMaximumDepth - 1) else {
            throw EventError(code: .notCanonicalizable, field: "payload",
                             detail: "nesting deeper than \(JSONValue.defaultMaximumDepth - 1) levels (a decoder refuses it)")
        }
        var writer = CanonicalJSONWriter()
        let payloadStart = try writeIdentityHead(into: &writer, occurredAt: occurredAt, payload: object)
        let payloadBytes = Array(writer.bytes[payloadStart...])
        writeIdentityTail(into: &writer, type: type, version: version, source: source, subject: subject)
        writer.appendByte(UInt8(ascii: "}"))
        return Event(
            id: EventID(sha256Of: writer.bytes), type: type, version: version, source: source, subject: subject,
            occurredAt: occurredAt, observedAt: observedAt, payloadBytes: payloadBytes, provenance: provenance, seq: nil)
    }

    /// Builds an event around a typed payload, using the payload's type and version.
    public static func make<P: EventPayload>(
        _ payload: P, source: String, subject: String, occurredAt: Timestamp,
        observedAt: Timestamp? = nil, provenance: Provenance? = nil
    ) throws -> Event {
        try make(
            type: P.type, version: P.version, source: source, subject: subject, occurredAt: occurredAt,
            payload: payload.json(), observedAt: observedAt, provenance: provenance)
    }

    /// The payload as a JSON value, parsed from `payloadBytes` on every access: keep the result
    /// when reading it more than once, or read `payloadBytes` / `payload(as:)` on hot paths.
    public var payload: JSONValue { JSONValue(payloadBytes: payloadBytes) }

    /// The canonical JSON of the identity object, the bytes the id hashes. (Nothing throws any
    /// more since the payload is held canonical; the signature stays for existing callers.)
    public func identityBytes() throws(EventError) -> [UInt8] {
        var writer = CanonicalJSONWriter(capacity: payloadBytes.count + 160)
        writer.appendASCII("{\"occurredAt\":")
        writer.writeTimestamp(occurredAt)
        writer.appendASCII(",\"payload\":")
        writer.appendRaw(payloadBytes)
        Self.writeIdentityTail(into: &writer, type: type, version: version, source: source, subject: subject)
        writer.appendByte(UInt8(ascii: "}"))
        return writer.bytes
    }

    /// The canonical JSON envelope. Without `seq` it is the stored form; Kafka values and
    /// machine-readable CLI output include it.
    public func canonicalBytes(includingSeq: Bool = false) throws(EventError) -> [UInt8] {
        var writer = CanonicalJSONWriter(capacity: payloadBytes.count + 400)
        try writeCanonical(into: &writer, includingSeq: includingSeq)
        return writer.bytes
    }

    /// Appends the canonical envelope to a reusable writer (hot path for ingest and relays).
    public func writeCanonical(into writer: inout CanonicalJSONWriter, includingSeq: Bool = false) throws(EventError) {
        // Members in RFC 8785 order: id, observedAt, occurredAt, payload, provenance, seq, source, subject, type, version.
        writer.appendASCII("{\"id\":")
        writer.writeEventID(id)
        if let observedAt {
            writer.appendASCII(",\"observedAt\":")
            writer.writeTimestamp(observedAt)
        }
        writer.appendASCII(",\"occurredAt\":")
        writer.writeTimestamp(occurredAt)
        writer.appendASCII(",\"payload\":")
        writer.appendRaw(payloadBytes)
        if let provenance, provenance.request != nil || provenance.causation != nil {
            writer.appendASCII(",\"provenance\":{")
            if let causation = provenance.causation {
                writer.appendASCII("\"causation\":")
                writer.writeString(causation)
            }
            if let request = provenance.request {
                if provenance.causation != nil { writer.appendByte(UInt8(ascii: ",")) }
                writer.appendASCII("\"request\":")
                writer.writeString(request)
            }
            writer.appendByte(UInt8(ascii: "}"))
        }
        if includingSeq, let seq {
            writer.appendASCII(",\"seq\":")
            writer.writeInteger(Int64(seq))
        }
        Self.writeIdentityTail(into: &writer, type: type, version: version, source: source, subject: subject)
        writer.appendByte(UInt8(ascii: "}"))
    }

    /// Writes `{"occurredAt":…,"payload":{…}`, the identity object's members before `source`,
    /// and returns where the payload starts in the writer.
    static func writeIdentityHead(into writer: inout CanonicalJSONWriter, occurredAt: Timestamp, payload: JSONObject) throws(EventError) -> Int {
        writer.appendASCII("{\"occurredAt\":")
        writer.writeTimestamp(occurredAt)
        writer.appendASCII(",\"payload\":")
        let payloadStart = writer.bytes.count
        do {
            try writer.writeObject(payload)
        } catch {
            throw EventError(code: .notCanonicalizable, field: "payload", detail: error.description)
        }
        return payloadStart
    }

    /// Writes `,"source":…,"subject":…,"type":…,"version":…`, the members after `payload` in
    /// both the identity object and the envelope.
    static func writeIdentityTail(into writer: inout CanonicalJSONWriter, type: String, version: Int, source: String, subject: String) {
        writer.appendASCII(",\"source\":")
        writer.writeString(source)
        writer.appendASCII(",\"subject\":")
        writer.writeString(subject)
        writer.appendASCII(",\"type\":")
        writer.writeString(type)
        writer.appendASCII(",\"version\":")
        writer.writeInteger(Int64(version))
    }

    static func validateType(_ type: String) throws(EventError) {
        // Lowercase dotted segments of [a-z0-9_], each starting with a letter.
        var segmentStart = true
        var valid = !type.isEmpty && type.utf8.count <= 64
        for b in type.utf8 where valid {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): segmentStart = false
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"): valid = !segmentStart
            case UInt8(ascii: "."): valid = !segmentStart; segmentStart = true
            default: valid = false
            }
        }
        guard valid && !segmentStart else {
            throw EventError(code: .invalidField, field: "type", detail: "\"\(type)\" is not a dotted lowercase name like bar.daily")
        }
    }

    static func validateVersion(_ version: Int) throws(EventError) {
        guard version >= 1 && version <= 1_000_000 else {
            throw EventError(code: .invalidField, field: "version", detail: "\(version) is not a version (an integer ≥ 1)")
        }
    }

    static func validateText(_ text: String, field: String) throws(EventError) {
        guard !text.isEmpty, text.utf8.count <= 512 else {
            throw EventError(code: .invalidField, field: field, detail: "expected 1 to 512 bytes of text, found \(text.utf8.count)")
        }
    }

    static func validateTime(_ time: Timestamp, field: String) throws(EventError) {
        guard Timestamp.range.contains(time.millisecondsSinceEpoch) else {
            throw EventError(code: .invalidField, field: field, detail: "\(time.millisecondsSinceEpoch) ms is outside years 0001–9999")
        }
    }
}

extension JSONValue {
    /// Parses bytes that are canonical JSON by construction, such as an event's `payloadBytes`.
    init(payloadBytes bytes: [UInt8]) {
        do {
            self = try JSONValue.parse(bytes)
        } catch {
            preconditionFailure("an event's payload bytes are canonical JSON, but \(error)")
        }
    }
}

extension EventID {
    /// The SHA-256 of `bytes`.
    init(sha256Of bytes: [UInt8]) {
        self = SHA256.hash(data: bytes).withUnsafeBytes { EventID(digest: $0) }
    }
}
