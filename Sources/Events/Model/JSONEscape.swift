/// The two-character JSON escapes (RFC 8259 §7) other than `\u`, shared by the parser, the
/// envelope scanner and the relay's tail reader so they unescape exactly alike.
enum JSONEscape {
    /// The byte `\` followed by `letter` stands for; nil for `u` and for anything invalid.
    @inline(__always)
    static func character(escapedBy letter: UInt8) -> UInt8? {
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): letter
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0c
        case UInt8(ascii: "n"): 0x0a
        case UInt8(ascii: "r"): 0x0d
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
    }
}
