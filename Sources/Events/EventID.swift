/// An event's content identity: the SHA-256 of the RFC 8785 canonical JSON of
/// `{type, version, source, subject, occurredAt, payload}` (SPEC §1.1).
public struct EventID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 32 digest bytes as four words read big-endian, held inline: an id costs no
    /// allocation, and comparing words compares the bytes in order.
    private let w0, w1, w2, w3: UInt64

    /// Wraps 32 digest bytes; anything else is not an event id.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self = bytes.withUnsafeBytes { EventID(digest: $0) }
    }

    /// Wraps the first 32 bytes of `digest`, which holds at least that many.
    init(digest: UnsafeRawBufferPointer) {
        precondition(digest.count >= 32, "an event id is 32 bytes")
        w0 = UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Parses 64 lowercase or uppercase hex digits.
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 {
            guard let hi = Self.nibble(utf8[2 * i]), let lo = Self.nibble(utf8[2 * i + 1]) else { return nil }
            out[i] = hi << 4 | lo
        }
        self.init(bytes: out)
    }

    /// The 32 digest bytes (allocates; `withUnsafeBytes` does not).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Lends the 32 digest bytes.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let words = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
        return try Swift.withUnsafeBytes(of: words) { (raw) throws(E) -> R in try body(raw) }
    }

    /// Lowercase hex, the form used in envelopes, Kafka headers and the CLI.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        withUnsafeBytes { bytes in
            for b in bytes {
                out.append(digits[Int(b >> 4)])
                out.append(digits[Int(b & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    public static func < (lhs: EventID, rhs: EventID) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
