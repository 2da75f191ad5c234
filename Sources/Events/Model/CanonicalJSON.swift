/// Why a value has no RFC 8785 canonical form.
public struct CanonicalJSONError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }
        public static let nonFiniteNumber = Code(name: "non-finite number")
        public static let duplicateKey = Code(name: "duplicate key")
    }

    public let code: Code
    public let detail: String

    public var description: String { "cannot canonicalize JSON (\(code)): \(detail)" }
}

/// Writes RFC 8785 (JCS) canonical JSON into a reusable byte buffer.
///
/// Keys are sorted by UTF-16 code units, strings use the minimal escaping of RFC 8785 §3.2.2.2,
/// numbers are serialized like ECMAScript's `Number.prototype.toString` (shortest round-trip
/// digits, `1e+21`, `1e-7`, `-0` → `0`). Call `reset()` between documents to reuse the storage.
public struct CanonicalJSONWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 512) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Forgets the written bytes, keeping the allocation.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// Appends the canonical form of `value`.
    public mutating func write(_ value: JSONValue) throws(CanonicalJSONError) {
        switch value {
        case .null: appendASCII("null")
        case .bool(let b): appendASCII(b ? "true" : "false")
        case .number(let d): try writeNumber(d)
        case .string(let s): writeString(s)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                try write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            try writeObject(object)
        }
    }

    /// Appends an object with its members sorted by UTF-16 code units (already-sorted objects,
    /// such as ones parsed from canonical bytes, skip the sort).
    public mutating func writeObject(_ object: JSONObject) throws(CanonicalJSONError) {
        var members = object.members
        var sorted = true
        var index = 1
        while index < members.count {
            if !Self.keyPrecedes(members[index - 1].key, members[index].key) {
                sorted = false
                break
            }
            index += 1
        }
        if !sorted {
            members.sort { Self.keyPrecedes($0.key, $1.key) }
            for i in 1..<members.count where members[i - 1].key == members[i].key {
                throw CanonicalJSONError(code: .duplicateKey, detail: "the key \"\(members[i].key)\" appears twice in one object")
            }
        }
        bytes.append(UInt8(ascii: "{"))
        var first = true
        for member in members {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            writeString(member.key)
            bytes.append(UInt8(ascii: ":"))
            try write(member.value)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// RFC 8785 key order: lexicographic by UTF-16 code units. UTF-8 byte order equals code
    /// point order, which agrees with UTF-16 order unless a key holds a 4-byte sequence.
    public static func keyPrecedes(_ a: String, _ b: String) -> Bool {
        // 1: precedes, 0: does not, -1: needs the UTF-16 comparison.
        let answer: Int? = a.utf8.withContiguousStorageIfAvailable { ua -> Int in
            let inner: Int? = b.utf8.withContiguousStorageIfAvailable { ub -> Int in
                let n = min(ua.count, ub.count)
                var i = 0
                while i < n {
                    let x = ua[i], y = ub[i]
                    if x != y {
                        // Lead bytes 0xEE-0xEF (U+E000-U+FFFF) sort after surrogate pairs in UTF-16.
                        if x >= 0xee || y >= 0xee { return -1 }
                        return x < y ? 1 : 0
                    }
                    i += 1
                }
                return ua.count < ub.count ? 1 : 0
            }
            return inner ?? -1
        }
        switch answer {
        case 1: return true
        case 0: return false
        default: return utf16Precedes(a, b)
        }
    }

    private static func utf16Precedes(_ a: String, _ b: String) -> Bool {
        a.utf16.lexicographicallyPrecedes(b.utf16)
    }

    /// Appends a string with RFC 8785 escaping.
    public mutating func writeString(_ string: String) {
        var string = string
        string.withUTF8 { writeString(utf8: $0) }
    }

    /// Appends a string given as valid UTF-8 bytes with RFC 8785 escaping.
    public mutating func writeString(utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        var i = 0
        let hex = Self.hexDigits
        while i < utf8.count {
            let b = utf8[i]
            if b >= 0x20 && b != 0x22 && b != 0x5c {
                i += 1
                continue
            }
            if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
            bytes.append(UInt8(ascii: "\\"))
            switch b {
            case 0x22: bytes.append(0x22)
            case 0x5c: bytes.append(0x5c)
            case 0x08: bytes.append(UInt8(ascii: "b"))
            case 0x09: bytes.append(UInt8(ascii: "t"))
            case 0x0a: bytes.append(UInt8(ascii: "n"))
            case 0x0c: bytes.append(UInt8(ascii: "f"))
            case 0x0d: bytes.append(UInt8(ascii: "r"))
            default:
                bytes.append(UInt8(ascii: "u"))
                bytes.append(UInt8(ascii: "0"))
                bytes.append(UInt8(ascii: "0"))
                bytes.append(hex[Int(b >> 4)])
                bytes.append(hex[Int(b & 0x0f)])
            }
            i += 1
            runStart = i
        }
        if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count])) }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends a number formatted like ECMAScript `Number.prototype.toString`.
    public mutating func writeNumber(_ value: Double) throws(CanonicalJSONError) {
        guard value.isFinite else {
            throw CanonicalJSONError(code: .nonFiniteNumber, detail: "\(value) has no JSON representation")
        }
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        // Integers below 2^53 print as their exact digits, which are also the shortest.
        if value.magnitude < 9_007_199_254_740_992, value.rounded(.towardZero) == value {
            writeInteger(Int64(value))
            return
        }
        writeShortestDecimal(value)
    }

    /// Appends a decimal integer.
    public mutating func writeInteger(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(20 - count)...]))
        }
    }

    /// The general ECMAScript path: Swift's `description` yields the shortest round-trip digits
    /// closest to the value (SwiftDtoa); only their layout is rearranged here.
    private mutating func writeShortestDecimal(_ value: Double) {
        var text = value.magnitude.description
        var digits: [UInt8] = []
        digits.reserveCapacity(20)
        var integerDigits = 0
        var exponent = 0
        var seenPoint = false
        text.withUTF8 { utf8 in
            var i = 0
            while i < utf8.count {
                let c = utf8[i]
                if c == UInt8(ascii: ".") {
                    seenPoint = true
                } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                    var sign = 1
                    i += 1
                    if utf8[i] == UInt8(ascii: "-") { sign = -1; i += 1 } else if utf8[i] == UInt8(ascii: "+") { i += 1 }
                    var e = 0
                    while i < utf8.count {
                        e = e * 10 + Int(utf8[i] - UInt8(ascii: "0"))
                        i += 1
                    }
                    exponent = sign * e
                    break
                } else {
                    digits.append(c)
                    if !seenPoint { integerDigits += 1 }
                }
                i += 1
            }
        }
        // value = 0.d1d2…dk × 10^n
        var n = integerDigits + exponent
        var leading = 0
        while leading < digits.count - 1, digits[leading] == UInt8(ascii: "0") { leading += 1 }
        n -= leading
        var end = digits.count
        while end > leading + 1, digits[end - 1] == UInt8(ascii: "0") { end -= 1 }
        let significant = digits[leading..<end]
        let k = significant.count

        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        if k <= n && n <= 21 {
            bytes.append(contentsOf: significant)
            for _ in 0..<(n - k) { bytes.append(UInt8(ascii: "0")) }
        } else if 0 < n && n <= 21 {
            bytes.append(contentsOf: significant.prefix(n))
            bytes.append(UInt8(ascii: "."))
            bytes.append(contentsOf: significant.dropFirst(n))
        } else if -6 < n && n <= 0 {
            bytes.append(UInt8(ascii: "0"))
            bytes.append(UInt8(ascii: "."))
            for _ in 0..<(-n) { bytes.append(UInt8(ascii: "0")) }
            bytes.append(contentsOf: significant)
        } else {
            bytes.append(significant[significant.startIndex])
            if k > 1 {
                bytes.append(UInt8(ascii: "."))
                bytes.append(contentsOf: significant.dropFirst())
            }
            bytes.append(UInt8(ascii: "e"))
            bytes.append(n - 1 >= 0 ? UInt8(ascii: "+") : UInt8(ascii: "-"))
            writeInteger(Int64((n - 1).magnitude))
        }
    }

    /// Appends raw bytes the caller knows to be canonical already (punctuation, literal keys).
    public mutating func appendRaw(_ raw: some Sequence<UInt8>) {
        bytes.append(contentsOf: raw)
    }

    /// Appends ASCII text verbatim.
    public mutating func appendASCII(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends a timestamp's canonical text as a JSON string.
    public mutating func writeTimestamp(_ time: Timestamp) {
        bytes.append(UInt8(ascii: "\""))
        time.write(into: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends an event id as a JSON string of lowercase hex.
    public mutating func writeEventID(_ id: EventID) {
        bytes.append(UInt8(ascii: "\""))
        id.withUnsafeBytes { digest in
            for b in digest {
                bytes.append(Self.hexDigits[Int(b >> 4)])
                bytes.append(Self.hexDigits[Int(b & 0x0f)])
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends one byte verbatim.
    public mutating func appendByte(_ byte: UInt8) {
        bytes.append(byte)
    }
}

/// One-shot helpers around `CanonicalJSONWriter`.
public enum CanonicalJSON {
    /// The RFC 8785 canonical bytes of `value`.
    public static func encode(_ value: JSONValue) throws(CanonicalJSONError) -> [UInt8] {
        var writer = CanonicalJSONWriter()
        try writer.write(value)
        return writer.bytes
    }

    /// Parses any JSON text and returns its canonical form.
    public static func canonicalize(_ bytes: some Collection<UInt8>) throws -> [UInt8] {
        try encode(JSONValue.parse(bytes))
    }
}
