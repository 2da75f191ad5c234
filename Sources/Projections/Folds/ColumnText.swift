import Events

/// Column values in PostgreSQL's text input form, the form COPY and bound parameters take.
/// Decimal strings pass through unchanged (stored as `numeric`, which keeps their scale),
/// instants are canonical RFC 3339 UTC, dates `YYYY-MM-DD`.
///
/// The event schemas allow a few values PostgreSQL refuses: year 0000 (dates and instants;
/// PostgreSQL has no year 0) and decimals with more digits than `numeric` holds. A row
/// carrying one would fail its whole batch on every retry, so these throw a `FoldFailure`
/// instead and the event becomes a reject like any other it cannot fold.
enum ColumnText {
    /// `numeric` input takes at most this many digits after the point (trailing zeros count)…
    static let maximumFractionDigits = 16_383
    /// … and this many before it (leading zeros do not count).
    static let maximumIntegerDigits = 131_072
    /// 0001-01-01T00:00:00Z, the first instant PostgreSQL's `timestamptz` and `date` hold.
    static let firstInstantMilliseconds: Int64 = -62_135_596_800_000

    static func decimal(_ value: DecimalString?) throws(FoldFailure) -> String? {
        guard let value else { return nil }
        return try decimal(value)
    }

    static func decimal(_ value: DecimalString) throws(FoldFailure) -> String {
        let text = value.text
        // Every decimal the sources send is short; only long texts need their digits counted.
        guard text.utf8.count > maximumFractionDigits else { return text }
        let parts = text.utf8.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        let integer = parts[0].drop { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "0") }.count
        let fraction = parts.count > 1 ? parts[1].count : 0
        guard integer <= maximumIntegerDigits, fraction <= maximumFractionDigits else {
            throw FoldFailure("a decimal with \(integer) digits before and \(fraction) after the point exceeds PostgreSQL numeric "
                + "(at most \(maximumIntegerDigits) and \(maximumFractionDigits))")
        }
        return text
    }

    static func date(_ value: LocalDate?) throws(FoldFailure) -> String? {
        guard let value else { return nil }
        return try date(value)
    }

    static func date(_ value: LocalDate) throws(FoldFailure) -> String {
        guard value.year >= 1 else { throw FoldFailure("date \(value) is in year 0, which PostgreSQL dates do not have") }
        return value.description
    }

    static func time(_ value: Timestamp?) throws(FoldFailure) -> String? {
        guard let value else { return nil }
        return try time(value)
    }

    static func time(_ value: Timestamp) throws(FoldFailure) -> String {
        guard value.millisecondsSinceEpoch >= firstInstantMilliseconds else {
            throw FoldFailure("instant \(value.rfc3339) is in year 0, which PostgreSQL timestamps do not have")
        }
        return value.rfc3339
    }

    static func integer(_ value: Int?) -> String? { value.map { String($0) } }
    static func integer(_ value: Int64) -> String { String(value) }
    static func bool(_ value: Bool?) -> String? { value.map { $0 ? "t" : "f" } }

    /// A `text[]` / `numeric[]` literal: `{"a","b \"c\""}`; every element quoted, so commas,
    /// braces and spaces inside elements survive.
    static func array(_ elements: [String]) -> String {
        nullableArray(elements.map(Optional.some))
    }

    /// `array` with a bare NULL element for each nil.
    static func nullableArray(_ elements: [String?]) -> String {
        var out = "{"
        for (index, element) in elements.enumerated() {
            if index > 0 { out += "," }
            guard let element else {
                out += "NULL"
                continue
            }
            out += "\""
            for character in element.unicodeScalars {
                if character == "\"" || character == "\\" { out += "\\" }
                out.unicodeScalars.append(character)
            }
            out += "\""
        }
        return out + "}"
    }
}
