/// A typed payload: one Swift struct per event `type` and `version`.
///
/// Payloads convert to and from `JSONValue` through `Codable` with a strict decoder: every
/// problem is reported with its field path, unknown fields are refused, optional fields are
/// omitted (never `null`) when absent. Hot types also read themselves without `Codable`
/// (`DirectlyDecodablePayload`), with the same results.
public protocol EventPayload: Codable, Sendable, Equatable {
    /// The event type this payload belongs to (`bar.daily`).
    static var type: String { get }
    /// The payload schema version this struct describes.
    static var version: Int { get }
    /// Checks beyond the field types (ranges, non-empty lists); throw `PayloadError`.
    func validate() throws(PayloadError)
    /// Decodes and validates a payload: strict `Codable` unless the type reads itself directly.
    init(json: JSONValue) throws(PayloadError)
    /// Decodes and validates a payload from its RFC 8785 canonical JSON, an event's
    /// `payloadBytes`: the result of `init(json:)` on the parsed bytes, which types that read
    /// themselves directly reach without building the tree. Other bytes stop the process.
    init(payloadBytes: [UInt8]) throws(PayloadError)
}

extension EventPayload {
    public func validate() throws(PayloadError) {}

    /// Decodes with the strict `Codable` decoder and validates.
    public init(json: JSONValue) throws(PayloadError) {
        self = try PayloadDecoding.decode(Self.self, from: json)
        try validate()
    }

    /// Parses the bytes, then decodes with `init(json:)`.
    public init(payloadBytes bytes: [UInt8]) throws(PayloadError) {
        try self.init(json: JSONValue(payloadBytes: bytes))
    }

    /// The payload as JSON.
    public func json() throws(PayloadError) -> JSONValue {
        try validate()
        return try PayloadEncoding.encode(self)
    }
}

/// A payload field that is missing, mistyped or out of range.
public struct PayloadError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Dotted path from the payload root (`tickers[2].relevance`); empty for the root itself.
    public let path: String
    public let detail: String
    /// The event type whose payload failed, when known.
    public var type: String?

    public init(path: String, detail: String, type: String? = nil) {
        self.path = path
        self.detail = detail
        self.type = type
    }

    init(codingPath: [any CodingKey], detail: String) {
        self.init(path: PayloadError.render(codingPath), detail: detail)
    }

    public var description: String {
        let location = path.isEmpty ? "payload" : "payload.\(path)"
        if let type { return "\(type) \(location): \(detail)" }
        return "\(location): \(detail)"
    }

    static func render(_ path: [any CodingKey]) -> String {
        var out = ""
        for key in path {
            if let index = key.intValue {
                out += "[\(index)]"
            } else {
                if !out.isEmpty { out += "." }
                out += key.stringValue
            }
        }
        return out
    }
}

/// An exact decimal number carried as text (`"123.45"`, `"-0.0529"`), so canonicalization can
/// never round money, prices, weights or scores. Plain notation only: optional `-`, digits,
/// optional fraction; no exponent, no leading `+`, no leading zeros before other digits.
public struct DecimalString: Codable, Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let text: String

    /// The text, if it is a plain decimal number.
    public init?(_ text: String) {
        guard DecimalString.isValid(text) else { return nil }
        self.text = text
    }

    /// For literals in code and tests; an invalid literal is a programming error.
    public init(stringLiteral value: String) {
        precondition(DecimalString.isValid(value), "\"\(value)\" is not a decimal string")
        text = value
    }

    public var description: String { text }

    /// The nearest double, for analytics that accept rounding.
    public var doubleValue: Double { Double(text)! }

    /// The same number divided by 10^`places`, exactly: the decimal point moves left and the
    /// scale grows by `places` (`"-1.38"` → `"-0.0138"` for 2), so a percent becomes a fraction
    /// without rounding.
    public func dividedByPowerOfTen(_ places: Int) -> DecimalString {
        precondition(places >= 0, "dividedByPowerOfTen takes a non-negative number of places")
        var digits = Substring(text)
        let negative = digits.first == "-"
        if negative { digits = digits.dropFirst() }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        let integer = parts[0], fraction = parts.count > 1 ? parts[1] : ""
        let all = integer + fraction
        let point = integer.count - places
        var newInteger = point > 0 ? String(all.prefix(point)) : "0"
        let newFraction = point > 0 ? String(all.dropFirst(point)) : String(repeating: "0", count: -point) + all
        while newInteger.count > 1, newInteger.first == "0" { newInteger.removeFirst() }
        let isZero = newInteger == "0" && newFraction.allSatisfy { $0 == "0" }
        let sign = negative && !isZero ? "-" : ""
        return DecimalString(stringLiteral: sign + newInteger + (newFraction.isEmpty ? "" : "." + newFraction))
    }

    /// The JSON Schema pattern equivalent to `isValid`.
    public static let pattern = "^-?(0|[1-9][0-9]*)(\\.[0-9]+)?$"

    public static func isValid(_ text: String) -> Bool {
        if let valid = text.utf8.withContiguousStorageIfAvailable({ isValid(utf8: $0) }) { return valid }
        return Array(text.utf8).withUnsafeBufferPointer { isValid(utf8: $0) }
    }

    /// `isValid` over the UTF-8 bytes, read in place (payload decoding checks every price).
    static func isValid(utf8 b: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count, b[i] &- 0x30 < 10 else { return false }
        if b[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < b.count, b[i] &- 0x30 < 10 { i += 1 }
        }
        if i == b.count { return true }
        guard b[i] == UInt8(ascii: ".") else { return false }
        i += 1
        guard i < b.count else { return false }
        while i < b.count {
            guard b[i] &- 0x30 < 10 else { return false }
            i += 1
        }
        return true
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard DecimalString.isValid(text) else {
            throw PayloadError(codingPath: decoder.codingPath, detail: DecimalString.refusal(text))
        }
        self.text = text
    }

    /// Why `text` is not a decimal string, for payload errors.
    static func refusal(_ text: String) -> String {
        "expected a decimal string like \"123.45\", found \"\(text)\""
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

extension LocalDate: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try LocalDate(text)
        } catch {
            throw PayloadError(codingPath: decoder.codingPath, detail: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Timestamp: Codable {
    /// Payload times use the same canonical RFC 3339 text as the envelope.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try Timestamp(canonical: text)
        } catch {
            throw PayloadError(codingPath: decoder.codingPath, detail: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rfc3339)
    }
}

extension JSONValue: Codable {
    /// Generic decoding for foreign decoders; the payload decoder passes values through directly.
    public init(from decoder: any Decoder) throws {
        if let passthrough = decoder as? PayloadDecoding {
            self = passthrough.value
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let b = try? container.decode(Bool.self) { self = .bool(b) }
        else if let d = try? container.decode(Double.self) { self = .number(d) }
        else if let s = try? container.decode(String.self) { self = .string(s) }
        else if let a = try? container.decode([JSONValue].self) { self = .array(a) }
        else {
            let o = try container.decode([String: JSONValue].self)
            self = .object(JSONObject(o.sorted { $0.key < $1.key }.map { JSONObject.Member($0.key, $0.value) }))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        if let passthrough = encoder as? PayloadEncoding {
            passthrough.box.kind = .value(self)
            return
        }
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .number(let d): try container.encode(d)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o):
            var dictionary: [String: JSONValue] = [:]
            for member in o.members { dictionary[member.key] = member.value }
            try container.encode(dictionary)
        }
    }
}

/// The largest integer a JSON number carries exactly (I-JSON).
let maximumExactInteger: Double = 9_007_199_254_740_991
