/// A payload that reads itself field by field, from a `JSONObject` or straight from canonical
/// bytes, without `Codable`.
///
/// Conforming replaces the `Codable` decoding of `init(json:)` (which the catalogue and
/// `payload(as:)` call) with `init(reading:)`, and lets `init(payloadBytes:)` read canonical
/// bytes without building a `JSONValue` tree. The result — value or `PayloadError`, path and
/// detail — is exactly what `PayloadDecoding` would give; `DirectPayloadDecodingTests` checks it
/// field by field and `CanonicalPayloadDecodingTests` checks the bytes against the tree.
/// Every type the projections fold conforms; the bookkeeping types keep `Codable`.
public protocol DirectlyDecodablePayload: EventPayload, JSONObjectDecodable {}

extension DirectlyDecodablePayload {
    /// Decodes with `init(reading:)`, then validates.
    public init(json: JSONValue) throws(PayloadError) {
        self = try Self.decodePayload(.tree(json))
    }

    /// Decodes with `init(reading:)` from the bytes in place, then validates.
    public init(payloadBytes bytes: [UInt8]) throws(PayloadError) {
        let result = bytes.withUnsafeBytes { raw -> Result<Self, PayloadError> in
            do throws(PayloadError) {
                return .success(try Self.decodePayload(.canonical(CanonicalSpan(document: raw))))
            } catch {
                return .failure(error)
            }
        }
        self = try result.get()
    }

    private static func decodePayload(_ value: JSONReaderValue) throws(PayloadError) -> Self {
        var deferred: PayloadError?
        let payload = try decodeObject(value, at: .root, deferred: &deferred)
        if let deferred { throw deferred }
        try payload.validate()
        return payload
    }
}

/// A JSON object type decoded field by field with a `JSONObjectReader`.
///
/// `init(reading:)` must read every stored property in declaration order (the order in which
/// `Codable` asks for them, so the first error reported is the same), with `required` for
/// non-optional and `optional` for optional properties.
public protocol JSONObjectDecodable {
    init(reading reader: inout JSONObjectReader) throws(PayloadError)
}

extension JSONObjectDecodable {
    /// Reads `value` as this type; unknown members are reported through `deferred` because the
    /// `Codable` path audits them only after everything else decoded, in the order objects opened.
    static func decodeObject(_ value: JSONReaderValue, at path: PayloadPath, deferred: inout PayloadError?) throws(PayloadError) -> Self {
        switch value {
        case .tree(.object(let object)):
            return try read(.tree(object.members), at: path, deferred: &deferred)
        case .canonical(let span) where span.isObject:
            return try span.withMembers { (members) throws(PayloadError) in
                try read(.canonical(span, members), at: path, deferred: &deferred)
            }
        case .tree, .canonical:
            throw PayloadError(path: path.rendered, detail: "expected an object, found \(value.json.kindDescription)")
        }
    }

    private static func read(_ members: JSONObjectReader.Members, at path: PayloadPath, deferred: inout PayloadError?) throws(PayloadError) -> Self {
        let openedFirst = deferred == nil
        var reader = JSONObjectReader(members, at: path, deferred: deferred)
        let result = try Self(reading: &reader)
        // This object opened before the objects nested in it, so its own unknown member wins.
        if openedFirst, let unknown = reader.firstUnknownMember() {
            deferred = unknown
        } else {
            deferred = reader.deferred
        }
        return result
    }
}

/// A value a `JSONObjectReader` hands out: a node of a parsed tree, or a value's span in
/// canonical bytes, parsed only when read.
enum JSONReaderValue {
    case tree(JSONValue)
    case canonical(CanonicalSpan)

    /// The value as the tree holds it.
    var json: JSONValue {
        switch self {
        case .tree(let value): value
        case .canonical(let span): span.json
        }
    }

    var isNull: Bool {
        switch self {
        case .tree(let value): if case .null = value { true } else { false }
        case .canonical(let span): span.isNull
        }
    }
}

/// A JSON scalar (string, number or boolean) type decoded without `Codable`.
public protocol JSONScalarDecodable {
    /// Throws a `PayloadError` with the detail only; the reader adds the path.
    init(jsonScalar value: JSONValue) throws(PayloadError)
}

/// Where a value sits in a payload; rendered (`tickers[2].relevance`) only when an error needs it.
struct PayloadPath: Sendable {
    /// The rendered path of the value this one hangs from.
    let parent: String
    let key: String?
    let index: Int?

    /// The payload object itself.
    static let root = PayloadPath(parent: "", key: nil, index: nil)

    /// The dotted path, as `PayloadError.path` renders coding paths.
    var rendered: String {
        var out = parent
        if let key {
            if !out.isEmpty { out += "." }
            out += key
        }
        if let index { out += "[\(index)]" }
        return out
    }

    func appending(key: String) -> PayloadPath {
        if self.key == nil, index == nil { return PayloadPath(parent: parent, key: key, index: nil) }
        return PayloadPath(parent: rendered, key: key, index: nil)
    }

    func appending(index: Int) -> PayloadPath {
        if self.index == nil { return PayloadPath(parent: parent, key: key, index: index) }
        return PayloadPath(parent: rendered, key: nil, index: index)
    }
}

/// Reads the members of one JSON object by name, with the strict payload rules: exact types,
/// `required` members present, absent optional members omitted (never `null`), and no member
/// the type did not ask for. The member's type comes from the assignment:
/// `open = try reader.required("open")`. It reads a parsed tree or canonical bytes in place,
/// so it is valid only inside the `init(reading:)` it is handed to.
public struct JSONObjectReader {
    /// The object's members, from a tree or indexed in canonical bytes, in source order.
    enum Members {
        case tree([JSONObject.Member])
        /// Valid while the object is being read (`CanonicalSpan.withMembers`).
        case canonical(CanonicalSpan, UnsafeBufferPointer<CanonicalMember>)
    }

    let members: Members
    let path: PayloadPath
    /// The first unknown member of an object nested in this one, if any.
    fileprivate(set) var deferred: PayloadError?
    /// Bit `i` is set once member `i` was read.
    private var read: UInt64 = 0
    private var asked = 0

    init(_ members: Members, at path: PayloadPath, deferred: PayloadError?) {
        self.members = members
        self.path = path
        self.deferred = deferred
    }

    /// The value of `key`, marking it read.
    private mutating func member(_ key: String) -> JSONReaderValue? {
        asked += 1
        switch members {
        case .tree(let members):
            // Comparing lengths first keeps most mismatches out of the out-of-line string comparison.
            let length = key.utf8.count
            for index in members.indices where members[index].key.utf8.count == length && members[index].key == key {
                markRead(index)
                return .tree(members[index].value)
            }
        case .canonical(let object, let members):
            if let index = object.index(of: key, in: members) {
                markRead(index)
                return .canonical(object.value(of: members[index]))
            }
        }
        return nil
    }

    private mutating func markRead(_ index: Int) {
        if index < 64 { read |= 1 << UInt64(index) }
    }

    private func missing(_ key: String) -> PayloadError {
        PayloadError(path: path.appending(key: key).rendered, detail: "required field is missing")
    }

    private func locate(_ error: PayloadError, _ key: String) -> PayloadError {
        PayloadError(path: path.appending(key: key).rendered, detail: error.detail)
    }

    private func scalar<T: JSONScalarDecodable>(_ value: JSONReaderValue, _ key: String) throws(PayloadError) -> T {
        do {
            return try T(jsonScalar: value.json)
        } catch {
            throw locate(error, key)
        }
    }

    /// A member that must be present.
    public mutating func required<T: JSONScalarDecodable>(_ key: String) throws(PayloadError) -> T {
        guard let value = member(key) else { throw missing(key) }
        return try scalar(value, key)
    }

    /// A member that may be omitted; `null` is refused.
    public mutating func optional<T: JSONScalarDecodable>(_ key: String) throws(PayloadError) -> T? {
        guard let value = member(key) else { return nil }
        if value.isNull {
            throw PayloadError(path: path.appending(key: key).rendered, detail: "absent optional fields are omitted, not null")
        }
        return try scalar(value, key)
    }

    /// A nested object that must be present.
    public mutating func required<T: JSONObjectDecodable>(_ key: String) throws(PayloadError) -> T {
        guard let value = member(key) else { throw missing(key) }
        return try T.decodeObject(value, at: path.appending(key: key), deferred: &deferred)
    }

    /// An array of scalars that must be present.
    public mutating func required<T: JSONScalarDecodable>(_ key: String) throws(PayloadError) -> [T] {
        guard let value = member(key) else { throw missing(key) }
        var elements = try elements(value, key)
        var out: [T] = []
        out.reserveCapacity(elements.underestimatedCount)
        var index = 0
        while let element = elements.next() {
            do {
                out.append(try T(jsonScalar: element.json))
            } catch {
                throw PayloadError(path: path.appending(key: key).appending(index: index).rendered, detail: error.detail)
            }
            index += 1
        }
        return out
    }

    /// An array of objects that must be present.
    public mutating func required<T: JSONObjectDecodable>(_ key: String) throws(PayloadError) -> [T] {
        guard let value = member(key) else { throw missing(key) }
        var elements = try elements(value, key)
        let arrayPath = path.appending(key: key)
        var out: [T] = []
        out.reserveCapacity(elements.underestimatedCount)
        var index = 0
        while let element = elements.next() {
            out.append(try T.decodeObject(element, at: arrayPath.appending(index: index), deferred: &deferred))
            index += 1
        }
        return out
    }

    private func elements(_ value: JSONReaderValue, _ key: String) throws(PayloadError) -> Elements {
        switch value {
        case .tree(.array(let elements)): return .tree(elements, next: 0)
        case .canonical(let span) where span.isArray: return .canonical(span.elements())
        case .tree, .canonical:
            throw PayloadError(path: path.appending(key: key).rendered, detail: "expected an array, found \(value.json.kindDescription)")
        }
    }

    /// An array member's elements, from a tree or from canonical bytes.
    private enum Elements {
        case tree([JSONValue], next: Int)
        case canonical(CanonicalSpan.Elements)

        /// The count when known without a scan, for reserving capacity.
        var underestimatedCount: Int {
            switch self {
            case .tree(let elements, _): elements.count
            case .canonical: 0
            }
        }

        mutating func next() -> JSONReaderValue? {
            switch self {
            case .tree(let elements, let next):
                guard next < elements.count else { return nil }
                self = .tree(elements, next: next + 1)
                return .tree(elements[next])
            case .canonical(var elements):
                guard let element = elements.next() else { return nil }
                self = .canonical(elements)
                return .canonical(element)
            }
        }
    }

    /// The first member (in source order) no `required`/`optional` call asked for.
    fileprivate func firstUnknownMember() -> PayloadError? {
        let count: Int
        switch members {
        case .tree(let members): count = members.count
        case .canonical(_, let members): count = members.count
        }
        // With at most 64 names asked, the first 64 members decide: if they were all read, member 64 is unknown.
        precondition(asked <= 64, "a directly decoded type may read at most 64 members")
        let checked = min(count, 64)
        let unread = ~read & (checked == 64 ? UInt64.max : (1 << UInt64(checked)) - 1)
        let index: Int
        if unread != 0 {
            index = unread.trailingZeroBitCount
        } else if count > 64 {
            index = 64
        } else {
            return nil
        }
        let key: String
        switch members {
        case .tree(let members): key = members[index].key
        case .canonical(let object, let members): key = object.key(of: members[index])
        }
        return PayloadError(path: path.appending(key: key).rendered, detail: "unknown field")
    }
}

extension JSONValue {
    fileprivate func mismatch(_ expected: String) -> PayloadError {
        PayloadError(path: "", detail: "expected \(expected), found \(kindDescription)")
    }

    fileprivate func string() throws(PayloadError) -> String {
        guard case .string(let s) = self else { throw mismatch("a string") }
        return s
    }

    /// The integer semantics of `PayloadDecoding.decodeInteger`.
    fileprivate func integer<T: FixedWidthInteger>(_ type: T.Type) throws(PayloadError) -> T {
        guard case .number(let d) = self, d.rounded(.towardZero) == d, d.magnitude <= maximumExactInteger,
              let result = T(exactly: d)
        else { throw mismatch("an integer") }
        return result
    }
}

extension String: JSONScalarDecodable {
    public init(jsonScalar value: JSONValue) throws(PayloadError) { self = try value.string() }
}

extension Bool: JSONScalarDecodable {
    public init(jsonScalar value: JSONValue) throws(PayloadError) {
        guard case .bool(let b) = value else { throw value.mismatch("true or false") }
        self = b
    }
}

extension Int: JSONScalarDecodable {
    public init(jsonScalar value: JSONValue) throws(PayloadError) { self = try value.integer(Int.self) }
}

extension Int64: JSONScalarDecodable {
    public init(jsonScalar value: JSONValue) throws(PayloadError) { self = try value.integer(Int64.self) }
}

extension DecimalString: JSONScalarDecodable {
    public init(jsonScalar value: JSONValue) throws(PayloadError) {
        let text = try value.string()
        guard let decimal = DecimalString(text) else { throw PayloadError(path: "", detail: DecimalString.refusal(text)) }
        self = decimal
    }
}

extension LocalDate: JSONScalarDecodable {
    public init(jsonScalar value: JSONValue) throws(PayloadError) {
        let text = try value.string()
        do {
            self = try LocalDate(text)
        } catch {
            throw PayloadError(path: "", detail: error.description)
        }
    }
}

extension Timestamp: JSONScalarDecodable {
    public init(jsonScalar value: JSONValue) throws(PayloadError) {
        let text = try value.string()
        do {
            self = try Timestamp(canonical: text)
        } catch {
            throw PayloadError(path: "", detail: error.description)
        }
    }
}

extension JSONScalarDecodable where Self: RawRepresentable, RawValue == String {
    /// The refusal text of the standard library's `Decodable` for string enums.
    public init(jsonScalar value: JSONValue) throws(PayloadError) {
        let text = try value.string()
        guard let decoded = Self(rawValue: text) else {
            throw PayloadError(path: "", detail: "Cannot initialize \(Self.self) from invalid String value \(text)")
        }
        self = decoded
    }
}

extension CryptoVenue: JSONScalarDecodable {}
extension SocialPlatform: JSONScalarDecodable {}
extension MoverCategory: JSONScalarDecodable {}
extension ReportPeriod: JSONScalarDecodable {}
