/// Why a date or time text was refused.
public struct TimeFormatError: Error, CustomStringConvertible, Sendable, Equatable {
    public let text: String
    /// What the text should have looked like or which part was wrong.
    public let detail: String

    public var description: String { "invalid date/time \"\(text)\": \(detail)" }
}

/// An instant in UTC with millisecond precision, the resolution of `occurredAt`/`observedAt`.
///
/// Its canonical text is RFC 3339 with exactly three fraction digits and `Z`
/// (`2025-01-31T10:57:09.000Z`); envelopes carry only that form, so an event's id never depends
/// on how a source spelled a time. `parseRFC3339` accepts the other RFC 3339 spellings at ingest.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var millisecondsSinceEpoch: Int64

    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    /// The earliest and latest instants with a four-digit year.
    public static let range: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }

    /// Parses exactly the canonical form `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public init(canonical text: String) throws(TimeFormatError) {
        let contiguous: Int64?? = text.utf8.withContiguousStorageIfAvailable { Timestamp.parseCanonical($0) }
        let parsed: Int64? = contiguous ?? Timestamp.parseCanonical(Array(text.utf8))
        guard let milliseconds = parsed else {
            throw TimeFormatError(text: text, detail: "expected YYYY-MM-DDTHH:MM:SS.mmmZ (UTC, milliseconds) with a real date and time")
        }
        millisecondsSinceEpoch = milliseconds
    }

    /// Milliseconds since the epoch, or nil when the bytes are not exactly the canonical form.
    static func parseCanonical(_ b: some RandomAccessCollection<UInt8>) -> Int64? {
        guard b.count == 24 else { return nil }
        let s = b.startIndex
        func at(_ i: Int) -> UInt8 { b[b.index(s, offsetBy: i)] }
        func number(_ start: Int, _ count: Int) -> Int? {
            var value = 0
            for i in start..<(start + count) {
                let d = at(i) &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                value = value * 10 + Int(d)
            }
            return value
        }
        guard at(4) == UInt8(ascii: "-"), at(7) == UInt8(ascii: "-"), at(10) == UInt8(ascii: "T"), at(13) == UInt8(ascii: ":"),
              at(16) == UInt8(ascii: ":"), at(19) == UInt8(ascii: "."), at(23) == UInt8(ascii: "Z"),
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2), let milli = number(20, 3),
              hour < 24, minute < 60, second < 60,
              let date = LocalDate(year: year, month: month, day: day)
        else { return nil }
        return ((date.daysSinceEpoch * 24 + Int64(hour)) * 60 + Int64(minute)) * 60_000 + Int64(second) * 1000 + Int64(milli)
    }

    /// `parseCanonical` for raw bytes (envelope scanning): checks the 24 bytes three words at a
    /// time instead of byte by byte.
    static func parseCanonical(_ b: UnsafeRawBufferPointer) -> Int64? {
        guard b.count == 24 else { return nil }
        // "YYYY-MM-" "DDTHH:MM" ":SS.mmmZ": separators must match exactly; every other byte is a digit.
        let words = (b.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian,
                     b.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian,
                     b.loadUnaligned(fromByteOffset: 16, as: UInt64.self).littleEndian)
        func digitsValid(_ word: UInt64, separators: UInt64, expected: UInt64) -> Bool {
            let digitMask = ~separators
            // Digit bytes XOR '0' must be 0...9: high nibble zero, and adding 6 must not carry into bit 4.
            let values = (word ^ 0x3030_3030_3030_3030) & digitMask
            return word & separators == expected && values & 0xf0f0_f0f0_f0f0_f0f0 == 0
                && (values &+ 0x0606_0606_0606_0606) & 0x1010_1010_1010_1010 & digitMask == 0
        }
        guard digitsValid(words.0, separators: 0xff00_00ff_0000_0000, expected: 0x2d00_002d_0000_0000),
              digitsValid(words.1, separators: 0x0000_ff00_00ff_0000, expected: 0x0000_3a00_0054_0000),
              digitsValid(words.2, separators: 0xff00_0000_ff00_00ff, expected: 0x5a00_0000_2e00_003a)
        else { return nil }
        func digit(_ i: Int) -> Int { Int(b[i] &- UInt8(ascii: "0")) }
        let year = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3)
        let month = digit(5) * 10 + digit(6), day = digit(8) * 10 + digit(9)
        let hour = digit(11) * 10 + digit(12), minute = digit(14) * 10 + digit(15), second = digit(17) * 10 + digit(18)
        let milli = digit(20) * 100 + digit(21) * 10 + digit(22)
        guard hour < 24, minute < 60, second < 60, let date = LocalDate(year: year, month: month, day: day) else { return nil }
        return ((date.daysSinceEpoch * 24 + Int64(hour)) * 60 + Int64(minute)) * 60_000 + Int64(second) * 1000 + Int64(milli)
    }

    /// Parses any RFC 3339 date-time (`T`/`t`/space separator, 0–9 fraction digits truncated to
    /// milliseconds, `Z` or a ±HH:MM offset) into UTC.
    public static func parseRFC3339(_ text: String) throws(TimeFormatError) -> Timestamp {
        let utf8 = Array(text.utf8)
        let shape = "expected an RFC 3339 date-time like 2025-01-31T10:57:09Z"
        guard utf8.count >= 20 else { throw TimeFormatError(text: text, detail: shape) }
        let date = try LocalDate.parse(utf8[0..<10], text: text)
        guard [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(utf8[10]),
              utf8[13] == UInt8(ascii: ":"), utf8[16] == UInt8(ascii: ":"),
              let hour = decimalDigits(utf8, 11, 2), let minute = decimalDigits(utf8, 14, 2), let second = decimalDigits(utf8, 17, 2)
        else { throw TimeFormatError(text: text, detail: shape) }
        guard hour < 24, minute < 60, second < 61 else {
            throw TimeFormatError(text: text, detail: "hour, minute or second out of range")
        }
        var i = 19
        var milli = 0
        if utf8[i] == UInt8(ascii: ".") {
            i += 1
            var count = 0
            while i < utf8.count, let d = decimalDigits(utf8, i, 1) {
                if count < 3 { milli = milli * 10 + d }
                count += 1
                i += 1
            }
            guard count > 0 else { throw TimeFormatError(text: text, detail: "expected digits after the decimal point") }
            for _ in min(count, 3)..<3 { milli *= 10 }
        }
        guard i < utf8.count else { throw TimeFormatError(text: text, detail: "missing time zone (Z or ±HH:MM)") }
        var offsetMinutes = 0
        switch utf8[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard i + 6 == utf8.count, utf8[i + 3] == UInt8(ascii: ":"),
                  let oh = decimalDigits(utf8, i + 1, 2), let om = decimalDigits(utf8, i + 4, 2), oh < 24, om < 60
            else { throw TimeFormatError(text: text, detail: "expected a ±HH:MM offset") }
            offsetMinutes = (oh * 60 + om) * (utf8[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        default:
            throw TimeFormatError(text: text, detail: "expected Z or ±HH:MM after the time")
        }
        guard i == utf8.count else { throw TimeFormatError(text: text, detail: "unexpected text after the time zone") }
        let seconds = ((date.daysSinceEpoch * 24 + Int64(hour)) * 60 + Int64(minute - offsetMinutes)) * 60 + Int64(min(second, 59))
        return Timestamp(millisecondsSinceEpoch: seconds * 1000 + Int64(milli))
    }

    /// The canonical text; only meaningful inside `Timestamp.range`.
    public var rfc3339: String {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { rfc3339 }

    /// Appends the canonical text (24 bytes) to `out`.
    public func write(into out: inout [UInt8]) {
        let ms = millisecondsSinceEpoch
        let days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        let inDay = ms - days * 86_400_000
        LocalDate(daysSinceEpoch: days).write(into: &out)
        out.append(UInt8(ascii: "T"))
        appendDigits(&out, Int(inDay / 3_600_000), 2)
        out.append(UInt8(ascii: ":"))
        appendDigits(&out, Int(inDay / 60_000 % 60), 2)
        out.append(UInt8(ascii: ":"))
        appendDigits(&out, Int(inDay / 1000 % 60), 2)
        out.append(UInt8(ascii: "."))
        appendDigits(&out, Int(inDay % 1000), 3)
        out.append(UInt8(ascii: "Z"))
    }
}

/// A calendar date without time zone (`YYYY-MM-DD`), as sources give bar and report dates.
public struct LocalDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// A valid proleptic Gregorian date with a four-digit year, or nil.
    public init?(year: Int, month: Int, day: Int) {
        guard (0...9999).contains(year), (1...12).contains(month), day >= 1,
              day <= LocalDate.daysInMonth(year: year, month: month)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses exactly `YYYY-MM-DD`.
    public init(_ text: String) throws(TimeFormatError) {
        guard text.utf8.count == 10 else { throw TimeFormatError(text: text, detail: "expected YYYY-MM-DD") }
        let contiguous = text.utf8.withContiguousStorageIfAvailable { utf8 in
            Result { () throws(TimeFormatError) in try LocalDate.parse(utf8, text: text) }
        }
        self = try (contiguous ?? Result { () throws(TimeFormatError) in try LocalDate.parse(text.utf8, text: text) }).get()
    }

    /// The date `days` after 1970-01-01 (negative: before).
    public init(daysSinceEpoch days: Int64) {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        year = Int(yoe + era * 400 + (m <= 2 ? 1 : 0))
        month = Int(m)
        day = Int(d)
    }

    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int64 {
        // Howard Hinnant's days_from_civil.
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// `YYYY-MM-DD`, written in place (projections format a date per row).
    public var description: String {
        String(unsafeUninitializedCapacity: 10) { text in
            func put(_ value: Int, at start: Int, width: Int) {
                var v = value
                for i in (start..<(start + width)).reversed() {
                    text[i] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
            }
            put(year, at: 0, width: 4)
            text[4] = UInt8(ascii: "-")
            put(month, at: 5, width: 2)
            text[7] = UInt8(ascii: "-")
            put(day, at: 8, width: 2)
            return 10
        }
    }

    /// Appends `YYYY-MM-DD`.
    public func write(into out: inout [UInt8]) {
        appendDigits(&out, year, 4)
        out.append(UInt8(ascii: "-"))
        appendDigits(&out, month, 2)
        out.append(UInt8(ascii: "-"))
        appendDigits(&out, day, 2)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// `YYYY-MM-DD` read in one pass, without copying (payload decoding reads a date per bar).
    static func parse(_ utf8: some Collection<UInt8>, text: String) throws(TimeFormatError) -> LocalDate {
        var valid = utf8.count == 10
        var y = 0, m = 0, d = 0
        var offset = 0
        for b in utf8 where valid {
            if offset == 4 || offset == 7 {
                valid = b == UInt8(ascii: "-")
            } else {
                let digit = Int(b &- UInt8(ascii: "0"))
                valid = digit < 10
                if offset < 4 { y = y * 10 + digit } else if offset < 7 { m = m * 10 + digit } else { d = d * 10 + digit }
            }
            offset += 1
        }
        guard valid else { throw TimeFormatError(text: text, detail: "expected a date YYYY-MM-DD") }
        guard let date = LocalDate(year: y, month: m, day: d) else {
            throw TimeFormatError(text: text, detail: "\(y)-\(m)-\(d) is not a calendar date")
        }
        return date
    }
}

/// The decimal number written by `count` ASCII digits of `b` from `start`; nil when one of
/// them is not a digit or the bytes end first.
package func decimalDigits(_ b: [UInt8], _ start: Int, _ count: Int) -> Int? {
    guard start + count <= b.count else { return nil }
    var value = 0
    for i in start..<(start + count) {
        let d = b[i] &- UInt8(ascii: "0")
        guard d < 10 else { return nil }
        value = value * 10 + Int(d)
    }
    return value
}

private func appendDigits(_ out: inout [UInt8], _ value: Int, _ width: Int) {
    var divisor = 1
    for _ in 1..<width { divisor *= 10 }
    var v = value
    while divisor > 0 {
        out.append(UInt8(ascii: "0") + UInt8(v / divisor % 10))
        v %= divisor
        divisor /= 10
    }
}
