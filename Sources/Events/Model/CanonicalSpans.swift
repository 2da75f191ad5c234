/// One JSON value inside canonical JSON bytes (an event's `payloadBytes`), found without
/// building a tree: direct payload decoding reads members from their spans and parses only the
/// scalars a payload type asks for.
///
/// The bytes must be valid JSON without whitespace, as RFC 8785 writes it; `Event` guarantees
/// that for `payloadBytes`. Anything else stops the process, as `Event.payload` does.
struct CanonicalSpan {
    let bytes: UnsafeRawBufferPointer
    /// The value's first byte.
    let start: Int
    /// Just after the value's last byte.
    let end: Int
    /// Whether the value is known to be a string without escapes.
    private let unescapedString: Bool

    /// The whole of `bytes`, which must hold one value.
    init(document bytes: UnsafeRawBufferPointer) {
        precondition(!bytes.isEmpty && bytes.count <= UInt32.max, "payload bytes are one canonical JSON value, under 4 GiB")
        self.init(bytes, start: 0, end: bytes.count, unescapedString: false)
    }

    private init(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int, unescapedString: Bool) {
        self.bytes = bytes
        self.start = start
        self.end = end
        self.unescapedString = unescapedString
    }

    var isObject: Bool { bytes[start] == UInt8(ascii: "{") }
    var isArray: Bool { bytes[start] == UInt8(ascii: "[") }
    var isNull: Bool { bytes[start] == UInt8(ascii: "n") }

    /// The value exactly as the tree parser gives it; only scalars are asked for when decoding
    /// succeeds. A string without escapes is its bytes, which is what the parser makes of valid
    /// UTF-8; anything else goes through the parser itself, so escapes and numbers come out alike.
    var json: JSONValue {
        if unescapedString {
            return .string(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<(end - 1)]), as: UTF8.self))
        }
        var parser = JSONParser(bytes: UnsafeRawBufferPointer(rebasing: bytes[..<end]), maximumDepth: JSONValue.defaultMaximumDepth)
        parser.position = start
        do {
            return try parser.parseValue()
        } catch {
            preconditionFailure("payload bytes are canonical JSON, but \(error)")
        }
    }

    /// Calls `body` with the members of this object, indexed in one pass into temporary storage.
    func withMembers<R>(_ body: (UnsafeBufferPointer<CanonicalMember>) throws(PayloadError) -> R) throws(PayloadError) -> R {
        // A member takes at least five bytes (`"":0,`), which bounds the count.
        try withUnsafeTemporaryAllocation(of: CanonicalMember.self, capacity: (end - start) / 5 + 1) { (storage) throws(PayloadError) in
            try body(UnsafeBufferPointer(rebasing: storage[..<indexMembers(into: storage)]))
        }
    }

    /// Stores this object's members in `storage`; returns how many there are.
    private func indexMembers(into storage: UnsafeMutableBufferPointer<CanonicalMember>) -> Int {
        var count = 0
        var position = start + 1
        if byte(at: position) == UInt8(ascii: "}") { return count }
        while true {
            guard byte(at: position) == UInt8(ascii: "\"") else { Self.malformed(at: position) }
            let key = skipString(from: position)
            guard byte(at: key.end) == UInt8(ascii: ":") else { Self.malformed(at: key.end) }
            let value = skipValue(from: key.end + 1)
            storage.initializeElement(at: count, to: CanonicalMember(
                keyStart: position + 1, keyEnd: key.end - 1, keyPrefix: keyPrefix(from: position + 1, to: key.end - 1),
                valueEnd: value.end, plainKey: key.plain, unescapedString: value.unescapedString))
            count += 1
            switch byte(at: value.end) {
            case UInt8(ascii: ","): position = value.end + 1
            case UInt8(ascii: "}"): return count
            default: Self.malformed(at: value.end)
            }
        }
    }

    /// The value of `member`.
    func value(of member: CanonicalMember) -> CanonicalSpan {
        CanonicalSpan(bytes, start: member.keyEnd + 2, end: member.valueEnd, unescapedString: member.unescapedString)
    }

    /// The key of `member`, unescaped.
    func key(of member: CanonicalMember) -> String {
        guard case .string(let key) = CanonicalSpan(bytes, start: member.keyStart - 1, end: member.keyEnd + 1, unescapedString: false).json else {
            preconditionFailure("a member name is a string")
        }
        return key
    }

    /// The index of the member named `key` with the tree's rule (equal UTF-8 length, then equal
    /// strings). A plain key (ASCII, no escape) equals a string of its length only byte for
    /// byte, since text canonically equivalent to ASCII but not ASCII itself is longer.
    func index(of key: String, in members: UnsafeBufferPointer<CanonicalMember>) -> Int? {
        let found = key.utf8.withContiguousStorageIfAvailable { utf8 in
            index(of: key, utf8: UnsafeRawBufferPointer(utf8), in: members)
        }
        return found ?? Array(key.utf8).withUnsafeBytes { index(of: key, utf8: $0, in: members) }
    }

    private func index(of key: String, utf8: UnsafeRawBufferPointer, in members: UnsafeBufferPointer<CanonicalMember>) -> Int? {
        let length = utf8.count
        let prefix = Self.prefix(utf8)
        for index in members.indices {
            let member = members[index]
            if member.plainKey {
                if member.keyPrefix == prefix, member.keyEnd - member.keyStart == length,
                   length <= 8 || CanonicalEnvelopeScanner.equal(UnsafeRawBufferPointer(rebasing: bytes[(member.keyStart + 8)..<member.keyEnd]), UnsafeRawBufferPointer(rebasing: utf8[8...])) {
                    return index
                }
            } else {
                let unescaped = self.key(of: member)
                if unescaped.utf8.count == length && unescaped == key { return index }
            }
        }
        return nil
    }

    /// `prefix` of the key between `start` and `keyEnd`, in one load when the span allows it.
    @inline(__always)
    private func keyPrefix(from start: Int, to keyEnd: Int) -> UInt64 {
        let length = keyEnd - start
        guard end - start >= 8 else { return Self.prefix(UnsafeRawBufferPointer(rebasing: bytes[start..<keyEnd])) }
        let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt64.self))
        return length >= 8 ? word : word & ((1 << (8 * UInt64(length))) &- 1)
    }

    /// The first eight bytes of `text`, zero-padded: most keys compare in one word.
    @inline(__always)
    private static func prefix(_ text: UnsafeRawBufferPointer) -> UInt64 {
        var word: UInt64 = 0
        withUnsafeMutableBytes(of: &word) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: text.prefix(8))) }
        return UInt64(littleEndian: word)
    }

    /// The elements of this array, one span at a time.
    func elements() -> Elements {
        Elements(array: self)
    }

    /// An array's elements in order.
    struct Elements {
        let array: CanonicalSpan
        /// The next element's first byte, or nil after the last.
        private var position: Int?

        init(array: CanonicalSpan) {
            self.array = array
            position = array.byte(at: array.start + 1) == UInt8(ascii: "]") ? nil : array.start + 1
        }

        mutating func next() -> CanonicalSpan? {
            guard let start = position else { return nil }
            let value = array.skipValue(from: start)
            switch array.byte(at: value.end) {
            case UInt8(ascii: ","): position = value.end + 1
            case UInt8(ascii: "]"): position = nil
            default: CanonicalSpan.malformed(at: value.end)
            }
            return CanonicalSpan(array.bytes, start: start, end: value.end, unescapedString: value.unescapedString)
        }
    }

    /// The byte at `offset`; past the end is malformed input.
    @inline(__always)
    private func byte(at offset: Int) -> UInt8 {
        guard offset < end else { Self.malformed(at: offset) }
        return bytes[offset]
    }

    /// Where the value starting at `offset` ends, and whether it is a string without escapes.
    private func skipValue(from offset: Int) -> (end: Int, unescapedString: Bool) {
        switch byte(at: offset) {
        case UInt8(ascii: "\""):
            let string = skipString(from: offset)
            return (string.end, !string.escaped)
        case UInt8(ascii: "{"), UInt8(ascii: "["): return (skipContainer(from: offset), false)
        case UInt8(ascii: "t"), UInt8(ascii: "n"): return (offset + 4, false)
        case UInt8(ascii: "f"): return (offset + 5, false)
        default:
            // A number runs to the comma or bracket after it (no whitespace in canonical JSON).
            var position = offset + 1
            while position < end, !Self.endsNumber(bytes[position]) { position += 1 }
            return (position, false)
        }
    }

    /// Where the string whose opening quote is at `offset` ends, whether it has escapes, and
    /// whether its contents are plain: ASCII without escapes.
    private func skipString(from offset: Int) -> (end: Int, escaped: Bool, plain: Bool) {
        var position = offset + 1
        var escaped = false
        var ascii = true
        while true {
            // Printable ASCII eight bytes at a time.
            while end - position >= 8, !CanonicalEnvelopeScanner.needsAttention(bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self)) {
                position += 8
            }
            let b = byte(at: position)
            if b == UInt8(ascii: "\"") { return (position + 1, escaped, ascii && !escaped) }
            if b == UInt8(ascii: "\\") {
                escaped = true
                position += 2
            } else {
                if b >= 0x80 { ascii = false }
                position += 1
            }
        }
    }

    /// Where the object or array opening at `offset` closes.
    private func skipContainer(from offset: Int) -> Int {
        var depth = 0
        var position = offset
        while true {
            switch byte(at: position) {
            case UInt8(ascii: "\""):
                position = skipString(from: position).end
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { return position + 1 }
            default:
                break
            }
            position += 1
        }
    }

    @inline(__always)
    private static func endsNumber(_ b: UInt8) -> Bool {
        b == UInt8(ascii: ",") || b == UInt8(ascii: "}") || b == UInt8(ascii: "]")
    }

    fileprivate static func malformed(at offset: Int) -> Never {
        preconditionFailure("payload bytes are canonical JSON, but they end or break off at byte \(offset)")
    }
}

/// Where one member of an object lies in canonical JSON bytes: the key's contents (between the
/// quotes; the value starts after the closing quote and the colon) and the value's end. Offsets
/// are 32-bit so that an index of many members stays small.
struct CanonicalMember {
    private let keyStart32: UInt32
    private let keyEnd32: UInt32
    private let valueEnd32: UInt32
    /// The key's first eight bytes, zero-padded.
    let keyPrefix: UInt64
    /// Whether the key is ASCII without escapes, so bytes compare as the tree compares strings.
    let plainKey: Bool
    /// Whether the value is a string without escapes.
    let unescapedString: Bool

    init(keyStart: Int, keyEnd: Int, keyPrefix: UInt64, valueEnd: Int, plainKey: Bool, unescapedString: Bool) {
        keyStart32 = UInt32(keyStart)
        keyEnd32 = UInt32(keyEnd)
        self.keyPrefix = keyPrefix
        valueEnd32 = UInt32(valueEnd)
        self.plainKey = plainKey
        self.unescapedString = unescapedString
    }

    var keyStart: Int { Int(keyStart32) }
    var keyEnd: Int { Int(keyEnd32) }
    var valueEnd: Int { Int(valueEnd32) }
}
