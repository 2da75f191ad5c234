/// Reads the last members of a stored canonical envelope — `source`, `subject`, `type`,
/// `version` — without parsing the payload, and splices `seq` in for the wire form.
///
/// In RFC 8785 member order these four come last, and none of their values can contain
/// the unescaped byte sequence `,"source":"`; a payload may (news articles have a
/// `source`), but it comes earlier. So the last occurrence of that sequence is the
/// top-level one. The relay's hot path uses this instead of a full decode.
struct EnvelopeTail {
    /// Index of the `,` that starts `,"source":"`.
    let sourceMemberStart: Int
    let version: Int

    private static let sourceMarker = Array(#","source":""#.utf8)
    private static let subjectMarker = Array(#","subject":""#.utf8)
    private static let typeMarker = Array(#","type":""#.utf8)
    private static let versionMarker = Array(#","version":"#.utf8)

    /// Parses the tail of `bytes`, leaving the decoded subject and type in `subject` and
    /// `type`: buffers the caller reuses, so the relay's hot path allocates nothing here.
    init(_ bytes: UnsafeRawBufferPointer, subject: inout [UInt8], type: inout [UInt8]) throws(EventError) {
        guard let start = Self.lastIndex(of: Self.sourceMarker, in: bytes) else {
            throw EventError(code: .missingField, field: "source", detail: "not a canonical envelope")
        }
        var cursor = start + Self.sourceMarker.count
        try Self.string(bytes, &cursor, field: "source", into: &type)
        try Self.expect(Self.subjectMarker, bytes, &cursor, field: "subject")
        try Self.string(bytes, &cursor, field: "subject", into: &subject)
        try Self.expect(Self.typeMarker, bytes, &cursor, field: "type")
        try Self.string(bytes, &cursor, field: "type", into: &type)
        try Self.expect(Self.versionMarker, bytes, &cursor, field: "version")
        var version = 0
        while cursor < bytes.count, bytes[cursor] >= UInt8(ascii: "0"), bytes[cursor] <= UInt8(ascii: "9") {
            version = version &* 10 &+ Int(bytes[cursor] - UInt8(ascii: "0"))
            cursor += 1
        }
        guard cursor == bytes.count - 1, bytes[cursor] == UInt8(ascii: "}") else {
            throw EventError(code: .invalidField, field: "version", detail: "not a canonical envelope ending")
        }
        self.version = version
        sourceMemberStart = start
    }

    /// The wire form: the stored envelope with `,"seq":N` inserted in canonical position
    /// (after `provenance`, before `source`).
    func wireBytes(_ stored: UnsafeRawBufferPointer, seq: UInt64, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: stored[..<sourceMemberStart]))
        out.append(contentsOf: #","seq":"#.utf8)
        Self.appendDecimal(seq, to: &out)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: stored[sourceMemberStart...]))
    }

    /// Appends the decimal digits of `value` to `out`.
    static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for UInt64.max's 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var index = buffer.count
            var rest = value
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[index...]))
        }
    }

    /// Appends the lowercase hex digits of `bytes` to `out`.
    static func appendHex(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: 2 * bytes.count))
        out.withUnsafeMutableBufferPointer { digits in
            for (index, byte) in bytes.enumerated() {
                digits[start + 2 * index] = hexDigit(byte >> 4)
                digits[start + 2 * index + 1] = hexDigit(byte & 0x0f)
            }
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") - 10 + nibble
    }

    private static func lastIndex(of marker: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int? {
        var i = bytes.count - marker.count
        while i >= 0 {
            if bytes[i] == marker[0] {
                var matched = true
                for j in 1..<marker.count where bytes[i + j] != marker[j] { matched = false; break }
                if matched { return i }
            }
            i -= 1
        }
        return nil
    }

    private static func expect(_ marker: [UInt8], _ bytes: UnsafeRawBufferPointer, _ cursor: inout Int, field: String) throws(EventError) {
        guard cursor + marker.count <= bytes.count,
              marker.indices.allSatisfy({ bytes[cursor + $0] == marker[$0] }) else {
            throw EventError(code: .missingField, field: field, detail: "not in canonical position")
        }
        cursor += marker.count
    }

    /// Decodes a canonical JSON string body (the opening quote already consumed), copying
    /// runs without escapes at once.
    private static func string(_ bytes: UnsafeRawBufferPointer, _ cursor: inout Int, field: String, into out: inout [UInt8]) throws(EventError) {
        out.removeAll(keepingCapacity: true)
        var runStart = cursor
        while cursor < bytes.count {
            let b = bytes[cursor]
            guard b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") else {
                cursor += 1
                continue
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<cursor]))
            cursor += 1
            if b == UInt8(ascii: "\"") { return }
            guard cursor < bytes.count else { break }
            let e = bytes[cursor]
            cursor += 1
            if let character = JSONEscape.character(escapedBy: e) {
                out.append(character)
            } else if e == UInt8(ascii: "u") {
                // Canonical JSON escapes only control characters this way (\u00XX).
                guard cursor + 4 <= bytes.count, let value = UInt8(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(cursor + 2)..<(cursor + 4)]), as: UTF8.self), radix: 16) else {
                    throw EventError(code: .invalidField, field: field, detail: "bad \\u escape")
                }
                out.append(value)
                cursor += 4
            } else {
                throw EventError(code: .invalidField, field: field, detail: "bad escape")
            }
            runStart = cursor
        }
        throw EventError(code: .invalidField, field: field, detail: "unterminated string")
    }
}
