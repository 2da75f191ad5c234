import Foundation

/// Masks credentials in anything that may be printed: URLs, error texts, log metadata,
/// stored fixtures. It knows the configured key values (masked wherever they appear) and
/// the query parameter names that carry credentials (their values masked even for keys it
/// was never told about).
public struct Redactor: Sendable {
    /// What replaces a secret.
    public static let mask = "***"

    /// Query parameter names that carry credentials, compared case-insensitively.
    public static let credentialParameterNames: Set<String> = [
        "apikey", "api_key", "api-key", "token", "key", "access_token", "api_token", "apitoken",
        "auth", "client_secret", "secret", "password", "sig", "signature",
    ]

    private let secrets: [String]

    /// A redactor for `keys` (plus the standard credential parameter names).
    public init(keys: [APIKey] = []) {
        var variants = Set<String>()
        for key in keys where !key.revealedValue.isEmpty {
            variants.insert(key.revealedValue)
            if let encoded = key.revealedValue.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
                variants.insert(encoded)
            }
        }
        secrets = variants.sorted { $0.count > $1.count }
    }

    /// A redactor that also masks `keys`.
    public func adding(_ keys: [APIKey]) -> Redactor {
        Redactor(secretValues: secrets + Redactor(keys: keys).secrets)
    }

    private init(secretValues: [String]) {
        secrets = Set(secretValues).sorted { $0.count > $1.count }
    }

    /// True when a query parameter of this name carries a credential.
    public static func isCredentialParameter(_ name: String) -> Bool {
        credentialParameterNames.contains(name.lowercased())
    }

    /// `text` with every known key, every credential parameter's value and every bearer
    /// token replaced by `***`.
    public func redact(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: Redactor.mask)
        }
        return Redactor.maskCredentialParameters(Redactor.maskBearerTokens(result))
    }

    /// A URL as it may be printed.
    public func redact(_ url: URL) -> String { redact(url.absoluteString) }

    /// `METHOD url` as it may be printed.
    public func describe(_ request: HTTPRequest) -> String { "\(request.method) \(redact(request.url))" }

    /// Masks `name=value` where `name` is a credential parameter and `name` starts the
    /// text or follows `?`, `&`, `;` or whitespace.
    static func maskCredentialParameters(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let atBoundary = i == 0 || isParameterBoundary(bytes[i - 1])
            if atBoundary, let equals = parameterNameEnd(bytes, from: i),
               isCredentialParameter(String(decoding: bytes[i..<equals], as: UTF8.self)) {
                out.append(contentsOf: bytes[i...equals])
                var j = equals + 1
                while j < bytes.count, !isValueTerminator(bytes[j]) { j += 1 }
                if j > equals + 1 { out.append(contentsOf: Redactor.mask.utf8) }
                i = j
                continue
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func maskBearerTokens(_ text: String) -> String {
        guard text.range(of: "bearer ", options: .caseInsensitive) != nil else { return text }
        var result = ""
        var rest = Substring(text)
        while let range = rest.range(of: "bearer ", options: .caseInsensitive) {
            result += rest[..<range.upperBound]
            var end = range.upperBound
            while end < rest.endIndex, !rest[end].isWhitespace, rest[end] != "\"", rest[end] != "'" { end = rest.index(after: end) }
            if end > range.upperBound { result += mask }
            rest = rest[end...]
        }
        return result + rest
    }

    private static func parameterNameEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var j = start
        while j < bytes.count, j - start < 32 {
            let b = bytes[j]
            if b == UInt8(ascii: "=") { return j > start ? j : nil }
            let isNameByte = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
            if !isNameByte { return nil }
            j += 1
        }
        return nil
    }

    private static func isParameterBoundary(_ b: UInt8) -> Bool {
        b == UInt8(ascii: "?") || b == UInt8(ascii: "&") || b == UInt8(ascii: ";") || b == UInt8(ascii: " ")
            || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\"") || b == UInt8(ascii: "'")
    }

    private static func isValueTerminator(_ b: UInt8) -> Bool {
        b == UInt8(ascii: "&") || b == UInt8(ascii: "#") || b == UInt8(ascii: " ") || b == UInt8(ascii: "\n")
            || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") || b == UInt8(ascii: ",")
            || b == UInt8(ascii: ")") || b == UInt8(ascii: ">") || b == UInt8(ascii: "\r")
    }
}
