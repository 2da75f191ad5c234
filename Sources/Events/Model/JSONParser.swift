/// Why some bytes are not acceptable JSON, and where.
public struct JSONParseError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem it was; grows as new checks appear.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        public static let unexpectedByte = Code(name: "unexpected byte")
        public static let unexpectedEnd = Code(name: "unexpected end of input")
        public static let invalidUTF8 = Code(name: "invalid UTF-8")
        public static let loneSurrogate = Code(name: "lone surrogate")
        public static let invalidEscape = Code(name: "invalid escape")
        public static let controlCharacter = Code(name: "unescaped control character")
        public static let invalidNumber = Code(name: "invalid number")
        public static let numberOutOfRange = Code(name: "number out of range")
        public static let duplicateKey = Code(name: "duplicate key")
        public static let tooDeep = Code(name: "nesting too deep")
        public static let trailingData = Code(name: "trailing data")
    }

    public let code: Code
    /// Byte offset of the problem from the start of the input.
    public let offset: Int
    /// What the parser expected or found, in words.
    public let detail: String

    public var description: String { "JSON \(code) at byte \(offset): \(detail)" }
}

extension JSONValue {
    /// The nesting limit `parse` applies unless told otherwise.
    public static let defaultMaximumDepth = 64

    /// Parses one JSON text (RFC 8259, restricted to I-JSON as RFC 8785 requires): valid UTF-8,
    /// no lone surrogates, no duplicate keys, no trailing data, nesting at most `maximumDepth`.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maximumDepth: Int = defaultMaximumDepth) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maximumDepth: maximumDepth)
        return try parser.parseDocument()
    }

    /// Parses one JSON text from any byte collection (contiguous storage is used without copying).
    public static func parse(_ bytes: some Collection<UInt8>, maximumDepth: Int = defaultMaximumDepth) throws(JSONParseError) -> JSONValue {
        if let result = bytes.withContiguousStorageIfAvailable({ parseResult(UnsafeRawBufferPointer($0), maximumDepth) }) {
            return try result.get()
        }
        return try Array(bytes).withUnsafeBytes { parseResult($0, maximumDepth) }.get()
    }

    private static func parseResult(_ bytes: UnsafeRawBufferPointer, _ maximumDepth: Int) -> Result<JSONValue, JSONParseError> {
        var parser = JSONParser(bytes: bytes, maximumDepth: maximumDepth)
        do throws(JSONParseError) {
            return .success(try parser.parseDocument())
        } catch {
            return .failure(error)
        }
    }

    /// Parses JSON text given as a Swift string.
    public static func parse(_ text: String, maximumDepth: Int = defaultMaximumDepth) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8), maximumDepth: maximumDepth)
    }
}

/// A recursive-descent parser over raw bytes; one instance parses one document.
struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    let maximumDepth: Int
    var position = 0
    var depth = 0
    var scratch: [UInt8] = []

    init(bytes: UnsafeRawBufferPointer, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        let value = try parseValue()
        skipWhitespace()
        if position != bytes.count {
            throw fail(.trailingData, "expected the end of input after the JSON value, found \(describeByte(position))")
        }
        return value
    }

    private func fail(_ code: JSONParseError.Code, _ detail: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(code: code, offset: offset ?? position, detail: detail)
    }

    private func describeByte(_ offset: Int) -> String {
        guard offset < bytes.count else { return "the end of input" }
        let b = bytes[offset]
        if b >= 0x21 && b < 0x7f { return "'\(Character(Unicode.Scalar(b)))'" }
        let hex = String(b, radix: 16)
        return "byte 0x\(hex.count == 1 ? "0" + hex : hex)"
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0a, 0x0d, 0x09: position += 1
            default: return
            }
        }
    }

    /// Parses the value at `position` (after any whitespace).
    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard position < bytes.count else { throw fail(.unexpectedEnd, "expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw fail(.unexpectedByte, "expected a value, found \(describeByte(position))")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let start = position
        let count = literal.utf8CodeUnitCount
        let base = literal.utf8Start
        for i in 0..<count {
            guard position < bytes.count else { throw fail(.unexpectedEnd, "expected '\(literal)'", at: start) }
            guard bytes[position] == base[i] else {
                throw fail(.unexpectedByte, "expected '\(literal)', found \(describeByte(position))")
            }
            position += 1
        }
    }

    private mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > maximumDepth { throw fail(.tooDeep, "nesting deeper than \(maximumDepth) levels") }
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enter()
        position += 1
        var elements: [JSONValue] = []
        elements.reserveCapacity(4)
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue())
            skipWhitespace()
            guard position < bytes.count else { throw fail(.unexpectedEnd, "expected ',' or ']' in an array") }
            switch bytes[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"):
                position += 1
                depth -= 1
                return .array(elements)
            default: throw fail(.unexpectedByte, "expected ',' or ']' in an array, found \(describeByte(position))")
            }
        }
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enter()
        position += 1
        var members: [JSONObject.Member] = []
        members.reserveCapacity(8)
        var seen: Set<String>? = nil
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return .object(JSONObject(members))
        }
        while true {
            skipWhitespace()
            guard position < bytes.count else { throw fail(.unexpectedEnd, "expected a member name (a string) in an object") }
            guard bytes[position] == UInt8(ascii: "\"") else {
                throw fail(.unexpectedByte, "expected a member name (a string) in an object, found \(describeByte(position))")
            }
            let keyOffset = position
            let key = try parseString()
            // Small objects: a linear scan; larger ones switch to a set.
            if members.count < 12 {
                for member in members where member.key == key {
                    throw fail(.duplicateKey, "the key \"\(key)\" appears twice in one object", at: keyOffset)
                }
            } else {
                if seen == nil { seen = Set(members.map(\.key)) }
                if !seen!.insert(key).inserted {
                    throw fail(.duplicateKey, "the key \"\(key)\" appears twice in one object", at: keyOffset)
                }
            }
            skipWhitespace()
            guard position < bytes.count else { throw fail(.unexpectedEnd, "expected ':' after a member name") }
            guard bytes[position] == UInt8(ascii: ":") else {
                throw fail(.unexpectedByte, "expected ':' after a member name, found \(describeByte(position))")
            }
            position += 1
            let value = try parseValue()
            members.append(JSONObject.Member(key, value))
            skipWhitespace()
            guard position < bytes.count else { throw fail(.unexpectedEnd, "expected ',' or '}' in an object") }
            switch bytes[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"):
                position += 1
                depth -= 1
                return .object(JSONObject(members))
            default: throw fail(.unexpectedByte, "expected ',' or '}' in an object, found \(describeByte(position))")
            }
        }
    }

    /// Parses a string starting at the opening quote; validates UTF-8 and escapes.
    private mutating func parseString() throws(JSONParseError) -> String {
        position += 1
        let start = position
        // Fast path: printable ASCII without escapes.
        while position < bytes.count {
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return s
            }
            if b < 0x20 || b >= 0x80 || b == UInt8(ascii: "\\") { break }
            position += 1
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
        while true {
            guard position < bytes.count else { throw fail(.unexpectedEnd, "expected '\"' to close the string that starts at byte \(start - 1)") }
            let b = bytes[position]
            switch b {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: scratch, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape()
            case 0x00..<0x20:
                throw fail(.controlCharacter, "control character 0x\(String(b, radix: 16)) must be escaped inside a string")
            case 0x20..<0x80:
                scratch.append(b)
                position += 1
            default:
                try copyMultibyteScalar()
            }
        }
    }

    /// Validates one multi-byte UTF-8 sequence (no overlongs, no surrogates, at most U+10FFFF).
    private mutating func copyMultibyteScalar() throws(JSONParseError) {
        let lead = bytes[position]
        guard let shape = UTF8SequenceShape(lead: lead) else {
            throw fail(.invalidUTF8, "byte 0x\(String(lead, radix: 16)) cannot start a UTF-8 sequence")
        }
        guard position + shape.length <= bytes.count else { throw fail(.invalidUTF8, "truncated UTF-8 sequence") }
        let second = bytes[position + 1]
        guard shape.second.contains(second) else {
            throw fail(.invalidUTF8, "byte 0x\(String(second, radix: 16)) is not valid after 0x\(String(lead, radix: 16))", at: position + 1)
        }
        for i in 2..<max(2, shape.length) {
            let c = bytes[position + i]
            guard UTF8SequenceShape.isContinuation(c) else {
                throw fail(.invalidUTF8, "byte 0x\(String(c, radix: 16)) is not a UTF-8 continuation byte", at: position + i)
            }
        }
        scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + shape.length)]))
        position += shape.length
    }

    private mutating func parseEscape() throws(JSONParseError) {
        let escapeStart = position
        guard position + 1 < bytes.count else { throw fail(.unexpectedEnd, "expected an escape character after '\\'") }
        let c = bytes[position + 1]
        position += 2
        if let character = JSONEscape.character(escapedBy: c) {
            scratch.append(character)
            return
        }
        switch c {
        case UInt8(ascii: "u"):
            var scalar = try parseHex4(escapeStart)
            if scalar >= 0xdc00 && scalar <= 0xdfff {
                throw fail(.loneSurrogate, "\\u\(String(scalar, radix: 16)) is a low surrogate without a high surrogate before it", at: escapeStart)
            }
            if scalar >= 0xd800 && scalar <= 0xdbff {
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                    throw fail(.loneSurrogate, "\\u\(String(scalar, radix: 16)) is a high surrogate not followed by a \\u low surrogate", at: escapeStart)
                }
                let lowStart = position
                position += 2
                let low = try parseHex4(lowStart)
                guard low >= 0xdc00 && low <= 0xdfff else {
                    throw fail(.loneSurrogate, "\\u\(String(scalar, radix: 16)) is a high surrogate followed by \\u\(String(low, radix: 16)), not a low surrogate", at: escapeStart)
                }
                scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
            }
            appendUTF8(scalar)
        default:
            throw fail(.invalidEscape, "'\\' must be followed by one of \" \\ / b f n r t u, found \(describeByte(position - 1))", at: escapeStart)
        }
    }

    private mutating func parseHex4(_ escapeStart: Int) throws(JSONParseError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw fail(.unexpectedEnd, "expected four hex digits after \\u", at: escapeStart) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail(.invalidEscape, "expected a hex digit in \\u escape, found \(describeByte(position))")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xc0 | (scalar >> 6)))
            scratch.append(UInt8(0x80 | (scalar & 0x3f)))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xe0 | (scalar >> 12)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3f)))
            scratch.append(UInt8(0x80 | (scalar & 0x3f)))
        default:
            scratch.append(UInt8(0xf0 | (scalar >> 18)))
            scratch.append(UInt8(0x80 | ((scalar >> 12) & 0x3f)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3f)))
            scratch.append(UInt8(0x80 | (scalar & 0x3f)))
        }
    }

    /// Parses a number per the JSON grammar into the nearest double (correctly rounded).
    private mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = position
        var negative = false
        if bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        guard position < bytes.count else { throw fail(.unexpectedEnd, "expected a digit after '-'") }
        var integer: UInt64 = 0
        var digits = 0
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            digits = 1
            if position < bytes.count, isDigit(bytes[position]) {
                throw fail(.invalidNumber, "a number must not have a leading zero")
            }
        } else {
            guard isDigit(bytes[position]) else { throw fail(.invalidNumber, "expected a digit, found \(describeByte(position))") }
            while position < bytes.count, isDigit(bytes[position]) {
                if digits < 19 { integer = integer * 10 + UInt64(bytes[position] - UInt8(ascii: "0")) }
                digits += 1
                position += 1
            }
        }
        var simple = true
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            simple = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw fail(.invalidNumber, "expected a digit after the decimal point, found \(describeByte(position))")
            }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            simple = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw fail(.invalidNumber, "expected a digit in the exponent, found \(describeByte(position))")
            }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if simple && digits <= 15 {
            let magnitude = Double(integer)
            return negative ? -magnitude : magnitude
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw fail(.numberOutOfRange, "\(text) is outside the range of an IEEE-754 double", at: start)
        }
        return value
    }

    @inline(__always)
    private func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }
}
