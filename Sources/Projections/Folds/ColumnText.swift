import Events

/// Column values in PostgreSQL's text input form, the form COPY and bound parameters take.
/// Decimal strings pass through unchanged (stored as `numeric`, which keeps their scale),
/// instants are canonical RFC 3339 UTC, dates `YYYY-MM-DD`.
enum ColumnText {
    static func decimal(_ value: DecimalString?) -> String? { value?.text }
    static func integer(_ value: Int?) -> String? { value.map { String($0) } }
    static func integer(_ value: Int64) -> String { String(value) }
    static func date(_ value: LocalDate?) -> String? { value?.description }
    static func time(_ value: Timestamp?) -> String? { value?.rfc3339 }
    static func bool(_ value: Bool?) -> String? { value.map { $0 ? "t" : "f" } }

    /// A `text[]` / `numeric[]` literal: `{"a","b \"c\""}`; every element quoted, so commas,
    /// braces and spaces inside elements survive.
    static func array(_ elements: [String]) -> String {
        var out = "{"
        for (index, element) in elements.enumerated() {
            if index > 0 { out += "," }
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
