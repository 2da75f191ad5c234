import Events

/// Turns the numbers sources send into the plain-notation decimal text payloads carry
/// (`DecimalString`: no exponent, no `+`, no leading zeros).
///
/// JSON numbers arrive as doubles (the project parser keeps no number text), so a double is
/// written with the *shortest digits that round-trip to the same double* — what Swift's
/// `description` prints, which for a value a source wrote as `187.3499908447266` or `7.5e-05`
/// is exactly the source's digits — then expanded out of exponent form (`0.000075`), with a
/// trailing `.0` dropped and `-0` written `0`. The result is a deterministic function of the
/// double, so re-parsing a response yields the same text and the same event id.
///
/// Numeric *text* (Alpha Vantage, Bithumb, FRED) keeps the source's digits, including trailing
/// fraction zeros (`"112.6300"`); only a leading `+`, leading zeros and exponents are rewritten.
public enum PlainDecimal {
    /// The plain decimal text of a finite double; nil for NaN and infinities.
    public static func text(_ value: Double) -> String? {
        guard value.isFinite else { return nil }
        if value == 0 { return "0" }
        return normalized(value.description, trimTrailingZeros: true)
    }

    /// The source's numeric text in plain notation (`"+1.5E-3"` → `"0.0015"`, `".5"` → `"0.5"`),
    /// or nil when it is not a number.
    public static func normalize(_ text: String) -> String? {
        normalized(text, trimTrailingZeros: false)
    }

    /// The number multiplied by 10^`places` (a fraction `0.11270001` becomes the percent
    /// `11.270001`), computed on the digits so nothing rounds; nil when `text` is not a number.
    public static func shifted(_ text: String, by places: Int) -> String? {
        guard var parts = Parts(text) else { return nil }
        parts.exponent += places
        return parts.render(trimTrailingZeros: false)
    }

    static func normalized(_ text: String, trimTrailingZeros: Bool) -> String? {
        if DecimalString.isValid(text) && !(trimTrailingZeros && text.utf8.contains(UInt8(ascii: "."))) { return text }
        return Parts(text)?.render(trimTrailingZeros: trimTrailingZeros)
    }

    /// A number as sign, integer digits and a power of ten: value = digits × 10^exponent.
    struct Parts {
        var negative = false
        var digits: [UInt8] = []
        var exponent = 0

        init?(_ text: String) {
            var bytes = text.utf8[...]
            if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
                negative = first == UInt8(ascii: "-")
                bytes = bytes.dropFirst()
            }
            var sawDigit = false
            var sawPoint = false
            var fractionDigits = 0
            while let b = bytes.first, b != UInt8(ascii: "e"), b != UInt8(ascii: "E") {
                bytes = bytes.dropFirst()
                if b == UInt8(ascii: ".") {
                    guard !sawPoint else { return nil }
                    sawPoint = true
                    continue
                }
                guard b &- UInt8(ascii: "0") < 10 else { return nil }
                sawDigit = true
                if !(digits.isEmpty && b == UInt8(ascii: "0")) { digits.append(b) }
                if sawPoint { fractionDigits += 1 }
                guard digits.count <= 800 else { return nil }
            }
            guard sawDigit else { return nil }
            var power = 0
            if !bytes.isEmpty {
                bytes = bytes.dropFirst()
                var exponentNegative = false
                if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
                    exponentNegative = sign == UInt8(ascii: "-")
                    bytes = bytes.dropFirst()
                }
                guard !bytes.isEmpty, bytes.count <= 4 else { return nil }
                for b in bytes {
                    guard b &- UInt8(ascii: "0") < 10 else { return nil }
                    power = power * 10 + Int(b &- UInt8(ascii: "0"))
                }
                if exponentNegative { power = -power }
            }
            exponent = power - fractionDigits
            guard exponent >= -400, exponent <= 400 else { return nil }
        }

        func render(trimTrailingZeros: Bool) -> String {
            guard !digits.isEmpty else { return "0" }
            var out: [UInt8] = []
            out.reserveCapacity(digits.count + max(0, exponent) + 4)
            if exponent >= 0 {
                out.append(contentsOf: digits)
                out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: exponent))
            } else {
                let fractionCount = -exponent
                if digits.count > fractionCount {
                    out.append(contentsOf: digits[..<(digits.count - fractionCount)])
                    out.append(UInt8(ascii: "."))
                    out.append(contentsOf: digits[(digits.count - fractionCount)...])
                } else {
                    out.append(UInt8(ascii: "0"))
                    out.append(UInt8(ascii: "."))
                    out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: fractionCount - digits.count))
                    out.append(contentsOf: digits)
                }
                if trimTrailingZeros {
                    while out.last == UInt8(ascii: "0") { out.removeLast() }
                    if out.last == UInt8(ascii: ".") { out.removeLast() }
                }
            }
            let isZero = out.allSatisfy { $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: ".") }
            if negative && !isZero { out.insert(UInt8(ascii: "-"), at: 0) }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
