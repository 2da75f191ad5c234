/// Plain text out of the small HTML fragments social APIs send (Mastodon / Truth Social
/// `content`), and entity decoding for texts that are escaped but not marked up (X).
///
/// Tags are removed; `<br>` becomes a line break and the end of a paragraph (`</p>`) a blank
/// line; other block ends (`</div>`, `</li>`, headings) a line break; `<script>` and `<style>`
/// contents are dropped; character references (`&amp;`, `&#39;`, `&#x1F600;`, common named
/// ones) are decoded. Unknown named references stay as written. Runs of more than one blank
/// line collapse to one and the result is trimmed.
public enum HTMLText {
    public static func plainText(_ html: String) -> String {
        let bytes = Array(html.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "<") {
                guard let tag = readTag(bytes, from: i) else {
                    out.append(b)
                    i += 1
                    continue
                }
                i = tag.end
                switch (tag.name, tag.closing) {
                case ("br", _):
                    out.append(UInt8(ascii: "\n"))
                case ("p", true):
                    out.append(contentsOf: [UInt8(ascii: "\n"), UInt8(ascii: "\n")])
                case ("div", true), ("li", true), ("h1", true), ("h2", true), ("h3", true), ("h4", true), ("h5", true),
                     ("h6", true), ("tr", true), ("blockquote", true), ("pre", true):
                    out.append(UInt8(ascii: "\n"))
                case ("script", false), ("style", false):
                    i = skipElementContent(bytes, from: i, name: tag.name)
                default:
                    break
                }
            } else if b == UInt8(ascii: "&") {
                i = decodeReference(bytes, at: i, into: &out)
            } else {
                out.append(b)
                i += 1
            }
        }
        return tidy(out)
    }

    /// `text` with character references decoded and nothing else changed (X escapes `&`, `<`
    /// and `>` in tweet text).
    public static func decodingEntities(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "&")) else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "&") {
                i = decodeReference(bytes, at: i, into: &out)
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    struct Tag {
        let name: String
        let closing: Bool
        let end: Int
    }

    /// The tag starting at `start` (`<`), or nil when the `<` does not open a tag (`a < b`).
    static func readTag(_ bytes: [UInt8], from start: Int) -> Tag? {
        var i = start + 1
        var closing = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "/") {
            closing = true
            i += 1
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "!") || bytes[i] == UInt8(ascii: "?") {
            // Comment, doctype or processing instruction.
            if bytes[i...].starts(with: Array("!--".utf8)) {
                var j = i + 3
                while j + 2 < bytes.count, !(bytes[j] == UInt8(ascii: "-") && bytes[j + 1] == UInt8(ascii: "-") && bytes[j + 2] == UInt8(ascii: ">")) { j += 1 }
                return Tag(name: "!--", closing: false, end: min(j + 3, bytes.count))
            }
            guard let close = bytes[i...].firstIndex(of: UInt8(ascii: ">")) else { return nil }
            return Tag(name: "!", closing: false, end: close + 1)
        }
        let nameStart = i
        while i < bytes.count, isNameByte(bytes[i]) { i += 1 }
        guard i > nameStart else { return nil }
        let name = String(decoding: bytes[nameStart..<i], as: UTF8.self).lowercased()
        var quote: UInt8? = nil
        while i < bytes.count {
            let b = bytes[i]
            if let q = quote {
                if b == q { quote = nil }
            } else if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                quote = b
            } else if b == UInt8(ascii: ">") {
                return Tag(name: name, closing: closing, end: i + 1)
            }
            i += 1
        }
        return Tag(name: name, closing: closing, end: bytes.count)
    }

    static func skipElementContent(_ bytes: [UInt8], from start: Int, name: String) -> Int {
        var i = start
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "<"), let tag = readTag(bytes, from: i), tag.closing, tag.name == name { return tag.end }
            i += 1
        }
        return bytes.count
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
    }

    static let namedReferences: [String: Unicode.Scalar] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ",
        "hellip": "\u{2026}", "mdash": "\u{2014}", "ndash": "\u{2013}", "lsquo": "\u{2018}", "rsquo": "\u{2019}",
        "ldquo": "\u{201C}", "rdquo": "\u{201D}", "copy": "\u{00A9}", "reg": "\u{00AE}", "trade": "\u{2122}",
        "euro": "\u{20AC}", "pound": "\u{00A3}", "yen": "\u{00A5}", "cent": "\u{00A2}", "deg": "\u{00B0}",
        "middot": "\u{00B7}", "bull": "\u{2022}", "laquo": "\u{00AB}", "raquo": "\u{00BB}",
    ]

    /// Decodes the reference at `start` (`&`) into `out`; returns the index after it. A `&`
    /// that starts no known reference is copied as is.
    static func decodeReference(_ bytes: [UInt8], at start: Int, into out: inout [UInt8]) -> Int {
        var end = start + 1
        while end < bytes.count, end - start <= 12, bytes[end] != UInt8(ascii: ";") {
            guard isNameByte(bytes[end]) || bytes[end] == UInt8(ascii: "#") else { break }
            end += 1
        }
        guard end < bytes.count, bytes[end] == UInt8(ascii: ";"), end > start + 1 else {
            out.append(UInt8(ascii: "&"))
            return start + 1
        }
        let name = bytes[(start + 1)..<end]
        var scalar: Unicode.Scalar?
        if name.first == UInt8(ascii: "#") {
            let digits = name.dropFirst()
            let hex = digits.first == UInt8(ascii: "x") || digits.first == UInt8(ascii: "X")
            let text = String(decoding: hex ? digits.dropFirst() : digits, as: UTF8.self)
            if let code = UInt32(text, radix: hex ? 16 : 10), code != 0 { scalar = Unicode.Scalar(code) }
        } else {
            scalar = namedReferences[String(decoding: name, as: UTF8.self)]
        }
        guard let scalar else {
            out.append(UInt8(ascii: "&"))
            return start + 1
        }
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
        return end + 1
    }

    /// Trims each line's trailing spaces, collapses blank-line runs, trims the whole text.
    static func tidy(_ bytes: [UInt8]) -> String {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        var kept: [Substring] = []
        var blank = 0
        for line in lines {
            var trimmed = line
            while let last = trimmed.last, last == " " || last == "\t" || last == "\r" { trimmed = trimmed.dropLast() }
            if trimmed.isEmpty {
                blank += 1
                if blank > 1 { continue }
            } else {
                blank = 0
            }
            kept.append(trimmed)
        }
        return kept.joined(separator: "\n").trimmingASCIIWhitespace()
    }
}
