import Events

/// Normalizes the number and date spellings found in real-world price exports into the
/// event model's exact forms. Every function works on the text: no value ever passes through
/// `Double`, so `187.35` stays `187.35` and `210.0` stays `210.0`.
public enum CSVFieldParsing {
    /// Texts meaning "no value" in exports (Yahoo writes `null`, websites `-`, pandas `NaN`).
    public static func isMissing(_ text: Substring) -> Bool {
        switch text.lowercased() {
        case "", "null", "nan", "-", "n/a", "na", "none": return true
        default: return false
        }
    }

    /// A plain decimal string (`DecimalString` form) for a number as written.
    ///
    /// Accepted: surrounding spaces, a leading `+` or `-`, a `$` (Nasdaq exports), thousands
    /// separators `,` in well-formed groups of three (`1,234.50`; `1,23.4` or `187,35` are
    /// refused rather than guessed), `.5` and `5.`, and an exponent (`1.2345E7`), expanded
    /// exactly by moving the decimal point. Redundant leading zeros are dropped; fraction
    /// digits are kept as written. Returns the reason on failure.
    public static func decimal(_ raw: Substring) -> Result<String, CSVFieldError> {
        var text = raw.trimmingSpaces
        var negative = false
        if text.first == "-" || text.first == "+" {
            negative = text.first == "-"
            text = text.dropFirst()
        }
        if text.first == "$" { text = text.dropFirst() }
        var integer: [UInt8] = []
        var fraction: [UInt8] = []
        var exponent = 0
        var utf8 = Array(text.utf8)[...]
        var groups: [Int] = [0]
        while let b = utf8.first, b == UInt8(ascii: ",") || b &- 0x30 < 10 {
            utf8 = utf8.dropFirst()
            if b == UInt8(ascii: ",") {
                groups.append(0)
            } else {
                integer.append(b)
                groups[groups.count - 1] += 1
            }
        }
        if groups.count > 1 {
            guard (1...3).contains(groups[0]), groups.dropFirst().allSatisfy({ $0 == 3 }) else {
                return .failure(CSVFieldError("\"\(raw)\" has misplaced thousands separators (expected groups of three like 1,234.50)"))
            }
        }
        if utf8.first == UInt8(ascii: ".") {
            utf8 = utf8.dropFirst()
            while let b = utf8.first, b &- 0x30 < 10 {
                fraction.append(b)
                utf8 = utf8.dropFirst()
            }
        }
        guard !integer.isEmpty || !fraction.isEmpty else {
            return .failure(CSVFieldError("\"\(raw)\" is not a number"))
        }
        if let e = utf8.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            utf8 = utf8.dropFirst()
            var exponentNegative = false
            if let sign = utf8.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
                exponentNegative = sign == UInt8(ascii: "-")
                utf8 = utf8.dropFirst()
            }
            var digitCount = 0
            while let b = utf8.first, b &- 0x30 < 10, digitCount < 4 {
                exponent = exponent * 10 + Int(b &- 0x30)
                digitCount += 1
                utf8 = utf8.dropFirst()
            }
            guard digitCount > 0 else { return .failure(CSVFieldError("\"\(raw)\" has an exponent without digits")) }
            guard exponent <= maximumExponent else {
                return .failure(CSVFieldError("\"\(raw)\" has an exponent beyond ±\(maximumExponent)"))
            }
            if exponentNegative { exponent = -exponent }
        }
        guard utf8.isEmpty else {
            return .failure(CSVFieldError("\"\(raw)\" is not a number"))
        }
        if exponent != 0 {
            let digits = integer + fraction
            let point = integer.count + exponent
            if point <= 0 {
                integer = []
                fraction = [UInt8](repeating: UInt8(ascii: "0"), count: -point) + digits
            } else if point >= digits.count {
                integer = digits + [UInt8](repeating: UInt8(ascii: "0"), count: point - digits.count)
                fraction = []
            } else {
                integer = Array(digits[..<point])
                fraction = Array(digits[point...])
            }
        }
        let firstSignificant = integer.firstIndex { $0 != UInt8(ascii: "0") } ?? integer.count
        integer.removeFirst(firstSignificant)
        if integer.isEmpty { integer = [UInt8(ascii: "0")] }
        let isZero = integer == [UInt8(ascii: "0")] && fraction.allSatisfy { $0 == UInt8(ascii: "0") }
        var out: [UInt8] = negative && !isZero ? [UInt8(ascii: "-")] : []
        out += integer
        if !fraction.isEmpty {
            out.append(UInt8(ascii: "."))
            out += fraction
        }
        return .success(String(decoding: out, as: UTF8.self))
    }

    /// Exponents larger than this are refused: no price or volume needs them, and expanding
    /// them would make absurdly long strings.
    public static let maximumExponent = 30

    /// A share volume as a whole number, from the same spellings as `decimal` (`1,234,567`,
    /// `1.2345E7`, and `1234567.0` as pandas writes float columns). A non-zero fraction,
    /// abbreviations like `45.67M` (rounded by the exporter) and negative volumes are refused.
    public static func volume(_ raw: Substring) -> Result<Int, CSVFieldError> {
        let trimmed = raw.trimmingSpaces
        if let last = trimmed.last, "KkMmBb".contains(last) {
            return .failure(CSVFieldError("volume \"\(raw)\" is abbreviated (rounded by the exporter); export full volumes"))
        }
        let text: String
        switch decimal(trimmed) {
        case .success(let value): text = value
        case .failure(let error): return .failure(CSVFieldError("volume \(error.reason)"))
        }
        guard !text.hasPrefix("-") else { return .failure(CSVFieldError("volume \(text) is negative")) }
        let parts = text.split(separator: ".", maxSplits: 1)
        if parts.count == 2, !parts[1].allSatisfy({ $0 == "0" }) {
            return .failure(CSVFieldError("volume \(text) is not a whole number"))
        }
        guard let value = Int(parts[0]), value <= maximumJSONInteger else {
            return .failure(CSVFieldError("volume \(text) is too large"))
        }
        return .success(value)
    }

    /// The largest integer a JSON number carries exactly everywhere (2^53 − 1).
    static let maximumJSONInteger = 9_007_199_254_740_991

    /// Whether non-negative plain decimal string `a` is smaller than `b`, compared exactly.
    public static func isLess(_ a: String, than b: String) -> Bool {
        let (ai, af) = split(a)
        let (bi, bf) = split(b)
        if ai.count != bi.count { return ai.count < bi.count }
        if ai != bi { return ai.lexicographicallyPrecedes(bi) }
        let length = max(af.count, bf.count)
        let ap = af + [UInt8](repeating: UInt8(ascii: "0"), count: length - af.count)
        let bp = bf + [UInt8](repeating: UInt8(ascii: "0"), count: length - bf.count)
        return ap.lexicographicallyPrecedes(bp)
    }

    private static func split(_ text: String) -> ([UInt8], [UInt8]) {
        let utf8 = Array(text.utf8)
        guard let dot = utf8.firstIndex(of: UInt8(ascii: ".")) else { return (utf8, []) }
        return (Array(utf8[..<dot]), Array(utf8[(dot + 1)...]))
    }

    /// A calendar date from the spellings exports use; the reason on failure.
    ///
    /// - `YYYY-MM-DD` (also `YYYY/MM/DD`), optionally followed by a time after a space or `T`
    ///   (`2025-01-02 00:00:00-05:00` from yfinance): the date part is the exchange's trading
    ///   day and is kept as written, never shifted by the offset.
    /// - `M/D/YYYY` and `MM/DD/YYYY` (US order, as Excel and Nasdaq write them; `27/2/2026` is
    ///   refused, not reinterpreted), optionally followed by a time (`2/27/2026 0:00`).
    /// - `D-Mon-YY`, `D-Mon-YYYY` (`27-Feb-26`), `D Mon YYYY` and `Mon D, YYYY` (`Feb 27, 2026`),
    ///   English month names or their first three or more letters, any case.
    /// - Two-digit years use the POSIX `%y` pivot: `00`–`68` are 2000–2068, `69`–`99` are 1969–1999.
    public static func date(_ raw: Substring) -> Result<LocalDate, CSVFieldError> {
        let text = raw.trimmingSpaces
        let shape = "date \"\(raw)\" is not YYYY-MM-DD, M/D/YYYY, D-Mon-YY or Mon D, YYYY"
        var tokens = text.split(whereSeparator: { $0 == " " || $0 == "," })
        guard let first = tokens.first else { return .failure(CSVFieldError("date is missing")) }
        if let t = first.firstIndex(of: "T"), t > first.startIndex, first[first.index(before: t)].isASCIIDigit,
           first.index(after: t) < first.endIndex, first[first.index(after: t)].isASCIIDigit {
            tokens[0] = first[..<t]
            tokens.insert(first[first.index(after: t)...], at: 1)
        }
        // Date parts come from the leading tokens; what follows must be a time of day.
        var parts: [Substring] = []
        var used = 0
        while used < tokens.count, parts.count < 3 {
            parts += tokens[used].split(omittingEmptySubsequences: false, whereSeparator: { $0 == "-" || $0 == "/" })
            used += 1
        }
        guard parts.count == 3, tokens[used...].allSatisfy({ $0.first?.isASCIIDigit == true && $0.contains(":") }) else {
            return .failure(CSVFieldError(shape))
        }
        if parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }) {
            let p = parts.map { Int($0)! }
            if parts[0].count == 4 {
                guard parts[1].count <= 2, parts[2].count <= 2 else { return .failure(CSVFieldError(shape)) }
                return calendarDate(year: p[0], month: p[1], day: p[2], raw: raw)
            }
            guard tokens[0].contains("/"), parts[0].count <= 2, parts[1].count <= 2, parts[2].count == 4 || parts[2].count == 2 else {
                return .failure(CSVFieldError(shape))
            }
            if p[0] > 12 && p[1] <= 12 {
                return .failure(CSVFieldError("date \"\(raw)\" looks like D/M/YYYY; only US M/D/YYYY is read"))
            }
            let year = parts[2].count == 2 ? pivotYear(p[2]) : p[2]
            return calendarDate(year: year, month: p[0], day: p[1], raw: raw)
        }
        // Month names: D-Mon-YY, D Mon YYYY, Mon D YYYY.
        let dayFirst = parts[0].allSatisfy(\.isASCIIDigit)
        let monthText = dayFirst ? parts[1] : parts[0]
        let dayText = dayFirst ? parts[0] : parts[1]
        let yearText = parts[2]
        guard let month = monthNumber(monthText), (1...2).contains(dayText.count), dayText.allSatisfy(\.isASCIIDigit),
              yearText.count == 2 || yearText.count == 4, yearText.allSatisfy(\.isASCIIDigit)
        else { return .failure(CSVFieldError(shape)) }
        let year = yearText.count == 2 ? pivotYear(Int(yearText)!) : Int(yearText)!
        return calendarDate(year: year, month: month, day: Int(dayText)!, raw: raw)
    }

    /// The POSIX `%y` century pivot: 00–68 → 2000–2068, 69–99 → 1969–1999.
    public static func pivotYear(_ twoDigits: Int) -> Int { twoDigits <= 68 ? 2000 + twoDigits : 1900 + twoDigits }

    private static let monthNames = [
        "january", "february", "march", "april", "may", "june",
        "july", "august", "september", "october", "november", "december",
    ]

    private static func monthNumber(_ text: Substring) -> Int? {
        let lower = text.lowercased().replacingDot()
        guard lower.count >= 3 else { return nil }
        return monthNames.firstIndex { $0.hasPrefix(lower) }.map { $0 + 1 }
    }

    private static func calendarDate(year: Int, month: Int, day: Int, raw: Substring) -> Result<LocalDate, CSVFieldError> {
        guard let date = LocalDate(year: year, month: month, day: day) else {
            return .failure(CSVFieldError("date \"\(raw)\" is not a calendar date (year \(year), month \(month), day \(day))"))
        }
        return .success(date)
    }
}

/// Why one CSV field could not be read; becomes the reason of a rejected row.
public struct CSVFieldError: Error, CustomStringConvertible, Sendable, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}

extension String {
    /// `Sept.` → `Sept`: month abbreviations sometimes carry a full stop.
    fileprivate func replacingDot() -> String { hasSuffix(".") ? String(dropLast()) : self }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
