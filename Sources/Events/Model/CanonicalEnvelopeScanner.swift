import Crypto

/// Reads an envelope already in its canonical form (RFC 8785: members sorted, no whitespace,
/// minimal escapes, shortest numbers) in one pass, without building a JSON tree; the payload
/// is validated in place and kept as bytes.
///
/// It only says yes to input it proves canonical and valid (with `.trustLog`, a payload is only
/// delimited: see `IDVerification`). For anything else (whitespace,
/// another member order, non-canonical escapes or numbers, deep nesting, escaped or
/// ambiguous-order payload keys, an id mismatch) it says nil and `EventDecoder` takes the
/// general path, which accepts or names the problem. Because the input is canonical, the
/// identity object is `{` + the bytes from `"occurredAt"` to the end of the payload + the bytes
/// from `,"source"` to the end of the version + `}`: recomputing the id hashes slices.
struct CanonicalEnvelopeScanner {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    /// Unescaped string bytes, for the rare envelope strings that carry escapes.
    private var unescaped: [UInt8] = []
    /// Canonical text of numbers that are not small integers, to compare with the input.
    private var numberWriter = CanonicalJSONWriter(capacity: 0)

    /// Payload nesting this scanner follows; deeper payloads take the general path (whose limit,
    /// 64 levels counting the envelope, is well above it).
    static let maximumPayloadDepth = 32

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The event, or nil when the bytes are not a canonical envelope this scanner proves valid
    /// (or, with `.recompute`, when the content does not hash to the stored id).
    mutating func scan(verification: IDVerification) -> Event? {
        guard expect("{\"id\":\""), let id = hexID(), expectByte(UInt8(ascii: "\"")) else { return nil }
        var observedAt: Timestamp?
        if expect(",\"observedAt\":\"") {
            guard let time = timestamp() else { return nil }
            observedAt = time
        }
        let identityHeadStart = position + 1
        guard expect(",\"occurredAt\":\""), let occurredAt = timestamp(), expect(",\"payload\":") else { return nil }
        let payloadStart = position
        guard position < bytes.count, bytes[position] == UInt8(ascii: "{") else { return nil }
        if case .trustLog = verification {
            guard skipTrustedPayload() else { return nil }
        } else {
            guard skipObject(depth: 1) else { return nil }
        }
        let payloadEnd = position

        var provenance: Provenance?
        if expect(",\"provenance\":{") {
            var result = Provenance()
            if expect("\"causation\":") {
                guard let causation = string() else { return nil }
                result.causation = causation
            }
            if expect(result.causation == nil ? "\"request\":" : ",\"request\":") {
                guard let request = string() else { return nil }
                result.request = request
            }
            guard result.request != nil || result.causation != nil, expectByte(UInt8(ascii: "}")) else { return nil }
            provenance = result
        }
        var seq: UInt64?
        if expect(",\"seq\":") {
            guard let value = integer(maximum: 9_007_199_254_740_991), value >= 1 else { return nil }
            seq = value
        }
        let identityTailStart = position
        guard expect(",\"source\":"), let source = string(), (1...512).contains(source.utf8.count),
              expect(",\"subject\":"), let subject = string(), (1...512).contains(subject.utf8.count),
              expect(",\"type\":"), let type = typeName(),
              expect(",\"version\":"), let version = integer(maximum: 1_000_000), version >= 1
        else { return nil }
        let identityTailEnd = position
        guard expectByte(UInt8(ascii: "}")), position == bytes.count else { return nil }

        if case .recompute = verification {
            // One contiguous copy hashes faster than four incremental updates.
            let head = UnsafeRawBufferPointer(rebasing: bytes[identityHeadStart..<payloadEnd])
            let tail = UnsafeRawBufferPointer(rebasing: bytes[identityTailStart..<identityTailEnd])
            let matches = withUnsafeTemporaryAllocation(byteCount: head.count + tail.count + 2, alignment: 8) { identity in
                identity[0] = UInt8(ascii: "{")
                UnsafeMutableRawBufferPointer(rebasing: identity[1...]).copyMemory(from: head)
                UnsafeMutableRawBufferPointer(rebasing: identity[(1 + head.count)...]).copyMemory(from: tail)
                identity[identity.count - 1] = UInt8(ascii: "}")
                return SHA256.hash(data: UnsafeRawBufferPointer(identity)).withUnsafeBytes { digest in
                    id.withUnsafeBytes { Self.equal(digest, $0) }
                }
            }
            guard matches else { return nil }
        }
        let payloadBytes = Array(UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<payloadEnd]))
        return Event(
            id: id, type: type, version: Int(version), source: source, subject: subject, occurredAt: occurredAt,
            observedAt: observedAt, payloadBytes: payloadBytes, provenance: provenance, seq: seq)
    }

    // MARK: envelope members

    /// Consumes `literal` if the input continues with it.
    @inline(__always)
    private mutating func expect(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count else { return false }
        let expected = UnsafeRawPointer(literal.utf8Start)
        if count >= 8 {
            // Two possibly overlapping words cover literals of 8 to 16 bytes.
            guard bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self) == expected.loadUnaligned(as: UInt64.self),
                  bytes.loadUnaligned(fromByteOffset: position + count - 8, as: UInt64.self) == expected.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            else { return false }
            if count > 16 {
                for i in 8..<(count - 8) where bytes[position + i] != expected.load(fromByteOffset: i, as: UInt8.self) { return false }
            }
        } else {
            for i in 0..<count where bytes[position + i] != expected.load(fromByteOffset: i, as: UInt8.self) { return false }
        }
        position += count
        return true
    }

    private mutating func expectByte(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    /// 64 lowercase hex digits, eight at a time.
    private mutating func hexID() -> EventID? {
        guard bytes.count - position >= 64 else { return nil }
        var valid = true
        let id = withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { output in
            for word in 0..<8 {
                let x = bytes.loadUnaligned(fromByteOffset: position + 8 * word, as: UInt64.self)
                valid = valid && Self.isLowercaseHex(x)
                // '0'...'9' → 0...9, 'a'...'f' → 10...15, then pairs of digits into bytes.
                let digits = (x & 0x0f0f_0f0f_0f0f_0f0f) &+ ((x >> 6) & 0x0101_0101_0101_0101) &* 9
                var packed = ((digits << 4) | (digits >> 8)) & 0x00ff_00ff_00ff_00ff
                packed = (packed | (packed >> 8)) & 0x0000_ffff_0000_ffff
                packed = (packed | (packed >> 16)) & 0xffff_ffff
                output.storeBytes(of: UInt32(truncatingIfNeeded: packed).littleEndian, toByteOffset: 4 * word, as: UInt32.self)
            }
            return EventID(digest: UnsafeRawBufferPointer(output))
        }
        guard valid else { return nil }
        position += 64
        return id
    }

    /// Whether all eight bytes are in '0'...'9' or 'a'...'f'.
    @inline(__always)
    private static func isLowercaseHex(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high = ones &* 0x80
        // With every byte below 0x80, adding (0x80 - low) sets a byte's top bit iff byte >= low,
        // and adding (0x7f - highest) iff byte > highest; no carries cross bytes.
        func within(_ low: UInt64, _ highest: UInt64) -> UInt64 {
            (x &+ ones &* (0x80 - low)) & ~(x &+ ones &* (0x7f - highest)) & high
        }
        return x & high == 0 && (within(0x30, 0x39) | within(0x61, 0x66)) == high
    }

    /// The value of a lowercase hex digit, or 0xff.
    @inline(__always)
    private static func nibble(_ c: UInt8) -> UInt8 {
        if c &- UInt8(ascii: "0") < 10 { return c &- UInt8(ascii: "0") }
        if c &- UInt8(ascii: "a") < 6 { return c &- UInt8(ascii: "a") &+ 10 }
        return 0xff
    }

    /// The 24 bytes of a canonical timestamp and the closing quote.
    private mutating func timestamp() -> Timestamp? {
        guard bytes.count - position >= 25, bytes[position + 24] == UInt8(ascii: "\""),
              let milliseconds = Timestamp.parseCanonical(UnsafeRawBufferPointer(rebasing: bytes[position..<(position + 24)]))
        else { return nil }
        position += 25
        return Timestamp(millisecondsSinceEpoch: milliseconds)
    }

    /// A canonical unsigned integer (no sign, no leading zero, no fraction) up to `maximum`.
    private mutating func integer(maximum: UInt64) -> UInt64? {
        var value: UInt64 = 0
        var digits = 0
        while position < bytes.count, bytes[position] &- UInt8(ascii: "0") < 10, digits < 17 {
            value = value * 10 + UInt64(bytes[position] &- UInt8(ascii: "0"))
            digits += 1
            position += 1
        }
        guard digits > 0, digits == 1 || bytes[position - digits] != UInt8(ascii: "0"), value <= maximum else { return nil }
        guard position == bytes.count || bytes[position] &- UInt8(ascii: "0") >= 10 else { return nil }
        return value
    }

    /// A canonical JSON string as a Swift string.
    private mutating func string() -> String? {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\""), let span = skipString() else { return nil }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[span.start..<span.end])
        guard span.escaped else { return String(decoding: raw, as: UTF8.self) }
        unescaped.removeAll(keepingCapacity: true)
        var i = 0
        while i < raw.count {
            let b = raw[i]
            guard b == UInt8(ascii: "\\") else {
                unescaped.append(b)
                i += 1
                continue
            }
            // skipString admitted only the canonical escapes.
            if let character = JSONEscape.character(escapedBy: raw[i + 1]) {
                unescaped.append(character)
            } else {  // \u00XX
                unescaped.append(Self.nibble(raw[i + 4]) << 4 | Self.nibble(raw[i + 5]))
                i += 4
            }
            i += 2
        }
        return String(decoding: unescaped, as: UTF8.self)
    }

    /// A valid `type` (dotted lowercase name); catalogued names are shared, not re-validated.
    private mutating func typeName() -> String? {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\""), let span = skipString(), !span.escaped else { return nil }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[span.start..<span.end])
        if let known = Self.catalogued(raw) { return known }
        let type = String(decoding: raw, as: UTF8.self)
        guard (try? Event.validateType(type)) != nil else { return nil }
        return type
    }

    private static let cataloguedTypes: [(utf8: [UInt8], name: String)] = EventCatalog.standard.types.map { (Array($0.utf8), $0) }

    private static func catalogued(_ raw: UnsafeRawBufferPointer) -> String? {
        for entry in cataloguedTypes where entry.utf8.count == raw.count {
            if entry.utf8.withUnsafeBytes({ equal($0, raw) }) { return entry.name }
        }
        return nil
    }

    /// Byte equality, a word at a time.
    static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var i = 0
        while a.count - i >= 8 {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        while i < a.count {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }

    // MARK: trusted payload

    /// Skips the payload of an envelope read from the log, which validated its canonical form on
    /// append and checksums the stored blocks: only strings and brackets are followed. On bytes
    /// that are not valid JSON it can only end in the wrong place, and the envelope members
    /// expected after the payload then fail to match (the general path names the problem).
    private mutating func skipTrustedPayload() -> Bool {
        var depth = 0
        let count = bytes.count
        while position < count {
            switch bytes[position] {
            case UInt8(ascii: "\""):
                guard skipTrustedString() else { return false }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                // Deeper payloads take the general path, which enforces the parser's limit.
                guard depth <= Self.maximumPayloadDepth else { return false }
                position += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                position += 1
                if depth == 0 { return true }
            default:
                position += 1
            }
        }
        return false
    }

    /// Skips a string whose content is taken as valid; the position is on the opening quote.
    @inline(__always)
    private mutating func skipTrustedString() -> Bool {
        let count = bytes.count
        var i = position + 1
        while true {
            while count - i >= 8 {
                let flags = Self.quoteOrBackslash(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
                // The lowest flag is always a real match (borrows only flag bytes above one).
                if flags != 0 {
                    i += flags.trailingZeroBitCount >> 3
                    break
                }
                i += 8
            }
            while i < count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") { i += 1 }
            guard i < count else { return false }
            if bytes[i] == UInt8(ascii: "\"") {
                position = i + 1
                return true
            }
            i += 2  // an escape: its second byte is never the closing quote
        }
    }

    /// The high bit of each byte of `word` that may be a quote or a backslash; the lowest set
    /// one is exact.
    @inline(__always)
    static func quoteOrBackslash(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quotes = word ^ (ones &* 0x22)
        let backslashes = word ^ (ones &* 0x5c)
        return ((quotes &- ones) & ~quotes | (backslashes &- ones) & ~backslashes) & (ones &* 0x80)
    }

    // MARK: payload validation

    /// Where a scanned string's contents lie and whether they need unescaping or a careful
    /// key comparison.
    private struct StringSpan {
        var start: Int
        var end: Int
        var escaped: Bool
        var nonASCII: Bool
    }

    /// Skips a string in canonical form (valid UTF-8, no lone surrogates, escapes only where RFC
    /// 8785 requires them and in its spelling); the position is on the opening quote.
    private mutating func skipString() -> StringSpan? {
        position += 1
        var span = StringSpan(start: position, end: 0, escaped: false, nonASCII: false)
        let count = bytes.count
        while true {
            // Plain ASCII eight bytes at a time.
            var run = position
            while count - run >= 8, !Self.needsAttention(bytes.loadUnaligned(fromByteOffset: run, as: UInt64.self)) {
                run += 8
            }
            position = run
            guard position < count else { return nil }
            let b = bytes[position]
            switch b {
            case UInt8(ascii: "\""):
                span.end = position
                position += 1
                return span
            case UInt8(ascii: "\\"):
                guard count - position >= 2 else { return nil }
                span.escaped = true
                switch bytes[position + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "b"), UInt8(ascii: "t"), UInt8(ascii: "n"), UInt8(ascii: "f"), UInt8(ascii: "r"):
                    position += 2
                case UInt8(ascii: "u"):
                    // Only control characters without a short escape, as \u00xx in lowercase hex.
                    guard count - position >= 6, bytes[position + 2] == UInt8(ascii: "0"), bytes[position + 3] == UInt8(ascii: "0") else { return nil }
                    let high = bytes[position + 4], low = Self.nibble(bytes[position + 5])
                    guard high == UInt8(ascii: "0") || high == UInt8(ascii: "1"), low < 16 else { return nil }
                    let value = (high &- UInt8(ascii: "0")) << 4 | low
                    guard value != 0x08, value != 0x09, value != 0x0a, value != 0x0c, value != 0x0d else { return nil }
                    position += 6
                default:
                    return nil
                }
            case 0x00..<0x20:
                return nil
            case 0x20..<0x80:
                position += 1
            default:
                span.nonASCII = true
                guard skipMultibyteScalar() else { return nil }
            }
        }
    }

    /// Whether any of the eight bytes is a quote, a backslash, a control character or non-ASCII.
    @inline(__always)
    static func needsAttention(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let hasControl = (word &- ones &* 0x20) & ~word
        return quoteOrBackslash(word) | (hasControl | word) & (ones &* 0x80) != 0
    }

    /// One multi-byte UTF-8 sequence: no overlongs, no surrogates, at most U+10FFFF.
    private mutating func skipMultibyteScalar() -> Bool {
        guard let shape = UTF8SequenceShape(lead: bytes[position]), bytes.count - position >= shape.length,
              shape.second.contains(bytes[position + 1]) else { return false }
        for i in 2..<max(2, shape.length) where !UTF8SequenceShape.isContinuation(bytes[position + i]) { return false }
        position += shape.length
        return true
    }

    private mutating func skipValue(depth: Int) -> Bool {
        guard position < bytes.count else { return false }
        switch bytes[position] {
        case UInt8(ascii: "\""): return skipString() != nil
        case UInt8(ascii: "{"): return skipObject(depth: depth + 1)
        case UInt8(ascii: "["): return skipArray(depth: depth + 1)
        case UInt8(ascii: "t"): return expect("true")
        case UInt8(ascii: "f"): return expect("false")
        case UInt8(ascii: "n"): return expect("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return skipNumber()
        default: return false
        }
    }

    /// An object whose keys are strictly increasing in UTF-16 order; the position is on `{`.
    private mutating func skipObject(depth: Int) -> Bool {
        guard depth <= Self.maximumPayloadDepth else { return false }
        position += 1
        if expectByte(UInt8(ascii: "}")) { return true }
        var previous: StringSpan?
        while true {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\""), let key = skipString(), !key.escaped else { return false }
            if let previous, !keyPrecedes(previous, key) { return false }
            previous = key
            guard expectByte(UInt8(ascii: ":")), skipValue(depth: depth) else { return false }
            if expectByte(UInt8(ascii: ",")) { continue }
            return expectByte(UInt8(ascii: "}"))
        }
    }

    /// Whether unescaped key `a` sorts strictly before `b` in UTF-16 order; false when equal or
    /// when only a UTF-16 comparison could tell (then the general path decides).
    private func keyPrecedes(_ a: StringSpan, _ b: StringSpan) -> Bool {
        let lengthA = a.end - a.start, lengthB = b.end - b.start
        for i in 0..<min(lengthA, lengthB) {
            let x = bytes[a.start + i], y = bytes[b.start + i]
            if x != y {
                // Lead bytes 0xEE-0xEF (U+E000-U+FFFF) sort after surrogate pairs in UTF-16.
                if x >= 0xee || y >= 0xee { return false }
                return x < y
            }
        }
        return lengthA < lengthB
    }

    private mutating func skipArray(depth: Int) -> Bool {
        guard depth <= Self.maximumPayloadDepth else { return false }
        position += 1
        if expectByte(UInt8(ascii: "]")) { return true }
        while true {
            guard skipValue(depth: depth) else { return false }
            if expectByte(UInt8(ascii: ",")) { continue }
            return expectByte(UInt8(ascii: "]"))
        }
    }

    /// A number in its canonical (ECMAScript) spelling: small integers are checked directly,
    /// anything else is parsed and re-serialized for comparison.
    private mutating func skipNumber() -> Bool {
        let start = position
        let negative = bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        let integerStart = position
        while position < bytes.count, bytes[position] &- UInt8(ascii: "0") < 10 { position += 1 }
        let integerDigits = position - integerStart
        guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else { return false }
        var plainInteger = true
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            plainInteger = false
            position += 1
            let fractionStart = position
            while position < bytes.count, bytes[position] &- UInt8(ascii: "0") < 10 { position += 1 }
            guard position > fractionStart else { return false }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            plainInteger = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            let exponentStart = position
            while position < bytes.count, bytes[position] &- UInt8(ascii: "0") < 10 { position += 1 }
            guard position > exponentStart else { return false }
        }
        if plainInteger && integerDigits <= 15 {
            // Exact doubles print as their digits; only "-0" is not canonical.
            return !(negative && bytes[integerStart] == UInt8(ascii: "0"))
        }
        let token = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
        guard let value = Double(String(decoding: token, as: UTF8.self)), value.isFinite else { return false }
        numberWriter.reset()
        guard (try? numberWriter.writeNumber(value)) != nil else { return false }
        return numberWriter.bytes.elementsEqual(token)
    }
}
