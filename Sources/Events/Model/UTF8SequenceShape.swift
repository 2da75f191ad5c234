/// What a multi-byte UTF-8 sequence must look like, given its lead byte (Unicode table 3-7):
/// its length, and the range its second byte must fall in, which is what excludes overlong
/// forms, surrogates and scalars beyond U+10FFFF. Later bytes are plain continuation bytes.
/// Shared by the JSON parser and the envelope scanner so both accept exactly the same text.
struct UTF8SequenceShape {
    let length: Int
    let second: ClosedRange<UInt8>

    /// Nil when `lead` cannot start a multi-byte sequence.
    @inline(__always)
    init?(lead: UInt8) {
        switch lead {
        case 0xc2...0xdf: (length, second) = (2, 0x80...0xbf)
        case 0xe0: (length, second) = (3, 0xa0...0xbf)
        case 0xe1...0xec, 0xee...0xef: (length, second) = (3, 0x80...0xbf)
        case 0xed: (length, second) = (3, 0x80...0x9f)
        case 0xf0: (length, second) = (4, 0x90...0xbf)
        case 0xf1...0xf3: (length, second) = (4, 0x80...0xbf)
        case 0xf4: (length, second) = (4, 0x80...0x8f)
        default: return nil
        }
    }

    /// Whether `byte` may follow the second byte.
    @inline(__always)
    static func isContinuation(_ byte: UInt8) -> Bool { byte & 0xc0 == 0x80 }
}
