import Events

/// A field that is missing, mistyped or unusable, with its JSON path; parsers turn it into a
/// `ParseError` (whole payload) or a `ParseIssue` (one item).
struct FieldError: Error {
    let code: ParseError.Code
    let path: String
    let detail: String

    func issue() -> ParseIssue { ParseIssue(location: path, detail: detail) }

    func parseError(_ context: ParseContext) -> ParseError {
        ParseError(code, context, location: path, detail)
    }
}

/// A JSON value and its path from the document root (`$.chart.result[0]`), with typed
/// accessors that fail with a `FieldError` naming the path and what was found.
struct JSONNode {
    let value: JSONValue
    let path: String

    init(_ value: JSONValue, path: String = "$") {
        self.value = value
        self.path = path
    }

    /// True for JSON `null`.
    var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    func object() throws(FieldError) -> JSONObject {
        guard case .object(let object) = value else { throw wrongType("an object") }
        return object
    }

    /// The member `key`; missing or null is an error.
    func member(_ key: String) throws(FieldError) -> JSONNode {
        let object = try object()
        guard let child = object[key] else {
            throw FieldError(code: .missingField, path: path + "." + key, detail: "missing")
        }
        let node = JSONNode(child, path: path + "." + key)
        if node.isNull { throw FieldError(code: .missingField, path: node.path, detail: "is null") }
        return node
    }

    /// The member `key`, or nil when this is not an object or the member is absent or null.
    func optionalMember(_ key: String) -> JSONNode? {
        guard case .object(let object) = value, let child = object[key] else { return nil }
        if case .null = child { return nil }
        return JSONNode(child, path: path + "." + key)
    }

    /// True when `key` is a member (even a null one).
    func has(_ key: String) -> Bool {
        guard case .object(let object) = value else { return false }
        return object[key] != nil
    }

    func array() throws(FieldError) -> [JSONNode] {
        guard case .array(let elements) = value else { throw wrongType("an array") }
        var nodes: [JSONNode] = []
        nodes.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            nodes.append(JSONNode(element, path: path + "[\(index)]"))
        }
        return nodes
    }

    /// The raw elements of an array, for hot loops that build paths only on error.
    func arrayValues() throws(FieldError) -> [JSONValue] {
        guard case .array(let elements) = value else { throw wrongType("an array") }
        return elements
    }

    func string() throws(FieldError) -> String {
        guard case .string(let text) = value else { throw wrongType("a string") }
        return text
    }

    /// A string that is not blank after trimming.
    func text() throws(FieldError) -> String {
        let trimmed = try string().trimmingASCIIWhitespace()
        guard !trimmed.isEmpty else { throw invalid("is an empty string") }
        return trimmed
    }

    func number() throws(FieldError) -> Double {
        guard case .number(let number) = value else { throw wrongType("a number") }
        return number
    }

    func bool() throws(FieldError) -> Bool {
        guard case .bool(let flag) = value else { throw wrongType("true or false") }
        return flag
    }

    /// An integer given as a JSON number or as digits in a string.
    func integer() throws(FieldError) -> Int64 {
        switch value {
        case .number(let number):
            guard number == number.rounded(), abs(number) <= 9_007_199_254_740_991 else {
                throw invalid("expected an integer, found \(PlainDecimal.text(number) ?? "\(number)")")
            }
            return Int64(number)
        case .string(let text):
            guard let integer = Int64(text.trimmingASCIIWhitespace()) else { throw invalid("expected an integer, found \"\(excerpt(text))\"") }
            return integer
        case .null, .bool, .array, .object:
            throw wrongType("an integer")
        }
    }

    /// A count or volume: a non-negative integer (a whole-valued double such as `4.0` is fine).
    func count() throws(FieldError) -> Int {
        let value = try integer()
        guard value >= 0 else { throw invalid("expected a non-negative integer, found \(value)") }
        return Int(value)
    }

    /// A decimal from a JSON number (shortest round-trip digits) or numeric text.
    func decimal() throws(FieldError) -> DecimalString {
        switch value {
        case .number(let number):
            guard let text = PlainDecimal.text(number), let decimal = DecimalString(text) else { throw invalid("not a finite number") }
            return decimal
        case .string(let text):
            guard let plain = PlainDecimal.normalize(text.trimmingASCIIWhitespace()), let decimal = DecimalString(plain) else {
                throw invalid("expected a number, found \"\(excerpt(text))\"")
            }
            return decimal
        case .null, .bool, .array, .object:
            throw wrongType("a number or numeric string")
        }
    }

    /// Like `decimal()`, but the placeholders sources use for "no value" (`None`, `-`, `""`,
    /// `N/A`, Yahoo's empty `{}`) mean absent. Yahoo's formatted `{"raw": …}` objects are unwrapped.
    func optionalDecimal() throws(FieldError) -> DecimalString? {
        switch value {
        case .null:
            return nil
        case .string(let text):
            if Self.isPlaceholder(text) { return nil }
            return try decimal()
        case .object(let object):
            if object.isEmpty { return nil }
            guard let raw = optionalMember("raw") else { throw wrongType("a number or numeric string") }
            return try raw.optionalDecimal()
        case .number, .bool, .array:
            return try decimal()
        }
    }

    /// A string member that may be absent, null, or a placeholder such as `None`.
    func optionalText() throws(FieldError) -> String? {
        switch value {
        case .null: return nil
        case .string(let text):
            let trimmed = text.trimmingASCIIWhitespace()
            return Self.isPlaceholder(trimmed) ? nil : trimmed
        case .number, .bool, .array, .object: throw wrongType("a string")
        }
    }

    /// Epoch seconds (JSON number or digit string) as a timestamp.
    func epochSeconds() throws(FieldError) -> Timestamp {
        if case .object = value, let raw = optionalMember("raw") { return try raw.epochSeconds() }
        let seconds = try integer()
        let time = Timestamp(millisecondsSinceEpoch: seconds * 1000)
        guard Timestamp.range.contains(time.millisecondsSinceEpoch) else { throw invalid("\(seconds) s is outside years 0001–9999") }
        return time
    }

    /// An RFC 3339 date-time string.
    func rfc3339() throws(FieldError) -> Timestamp {
        let text = try string()
        do {
            return try Timestamp.parseRFC3339(text)
        } catch {
            throw invalid(error.detail + ", found \"\(excerpt(text))\"")
        }
    }

    /// A `YYYY-MM-DD` date string.
    func date() throws(FieldError) -> LocalDate {
        let text = try string()
        do {
            return try LocalDate(text.trimmingASCIIWhitespace())
        } catch {
            throw invalid(error.detail + ", found \"\(excerpt(text))\"")
        }
    }

    func wrongType(_ expected: String) -> FieldError {
        FieldError(code: .wrongType, path: path, detail: "expected \(expected), found \(value.kindDescription)")
    }

    func invalid(_ detail: String) -> FieldError {
        FieldError(code: .invalidValue, path: path, detail: detail)
    }

    static func isPlaceholder(_ text: String) -> Bool {
        switch text.trimmingASCIIWhitespace() {
        case "", "None", "none", "-", "N/A", "n/a", "NA", "null": return true
        default: return false
        }
    }
}

/// The first 60 characters of a text, for error messages.
func excerpt(_ text: String, limit: Int = 60) -> String {
    guard text.count > limit else { return text }
    return String(text.prefix(limit)) + "…"
}

extension Optional {
    /// The value, else `fallback` — like `??`, which rethrows as `any Error` and so loses the
    /// typed `FieldError`.
    func or(_ fallback: @autoclosure () throws(FieldError) -> Wrapped) throws(FieldError) -> Wrapped {
        if let value = self { return value }
        return try fallback()
    }

    /// The value, else the optional `fallback`.
    func or(_ fallback: @autoclosure () throws(FieldError) -> Wrapped?) throws(FieldError) -> Wrapped? {
        if let value = self { return value }
        return try fallback()
    }
}
