import Testing
@testable import Events
import TickfoldTesting

@Suite("Envelope tail: the relay's allocation-free view of a stored envelope", .onTestThreads)
struct EnvelopeTailTests {
    @Test("subject, type and version come out of the tail, escapes decoded, and buffers are overwritten, not appended to")
    func parsesTail() throws {
        let stored = Array(#"{"id":"ab","occurredAt":"2026-02-18T21:00:00.000Z","payload":{"source":"Example Wire"},"source":"x","subject":"a\"b\\c\u001f","type":"social.post","version":12}"#.utf8)
        var subject = Array("left over from the previous message".utf8)
        var type = Array("left over".utf8)
        let tail = try stored.withUnsafeBytes { try EnvelopeTail($0, subject: &subject, type: &type) }
        #expect(subject == Array("a\"b\\c\u{1f}".utf8))
        #expect(type == Array("social.post".utf8))
        #expect(tail.version == 12)
        var wire: [UInt8] = Array("stale".utf8)
        stored.withUnsafeBytes { tail.wireBytes($0, seq: 907, into: &wire) }
        #expect(String(decoding: wire, as: UTF8.self).hasSuffix(#"{"source":"Example Wire"},"seq":907,"source":"x","subject":"a\"b\\c\u001f","type":"social.post","version":12}"#))
    }

    @Test("a value that is not a canonical envelope ending is refused")
    func refusesNonCanonical() {
        var subject: [UInt8] = []
        var type: [UInt8] = []
        for text in [#"{"subject":"s","type":"t","version":1}"#, #"{"source":"x","subject":"s","type":"t","version":1,"extra":2}"#] {
            #expect(throws: EventError.self) {
                _ = try Array(text.utf8).withUnsafeBytes { try EnvelopeTail($0, subject: &subject, type: &type) }
            }
        }
    }

    @Test("an unterminated or badly escaped tail string is refused", arguments: [
        #"{"source":"x","subject":"abc"#,
        #"{"source":"x","subject":"abc\"#,
        #"{"source":"x","subject":"a\qc","type":"t","version":1}"#,
        #"{"source":"x","subject":"a\u00zz","type":"t","version":1}"#,
    ])
    func refusesBrokenStrings(text: String) {
        var subject: [UInt8] = []
        var type: [UInt8] = []
        #expect(throws: EventError.self) {
            _ = try Array(text.utf8).withUnsafeBytes { try EnvelopeTail($0, subject: &subject, type: &type) }
        }
    }

    @Test("decimal and hex header values match Swift's own formatting", arguments: [0, 7, 10, 907, 1_000_000, UInt64.max])
    func decimalAndHex(value: UInt64) {
        var out = Array("x".utf8)
        EnvelopeTail.appendDecimal(value, to: &out)
        #expect(out == Array("x\(value)".utf8))
        var hex: [UInt8] = []
        withUnsafeBytes(of: value.bigEndian) { EnvelopeTail.appendHex($0, to: &hex) }
        let expected = String(value, radix: 16)
        #expect(hex == Array((String(repeating: "0", count: 16 - expected.count) + expected).utf8))
    }
}
