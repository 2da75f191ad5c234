import Crypto
import Foundation

/// An API key or token. Its value is reachable only through `revealedValue`, which request
/// builders call at send time; every printed form (`description`, `dump`, interpolation)
/// shows the fingerprint instead. Deliberately not `Codable`, so it cannot slip into an
/// event or a state file.
public struct APIKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String
    /// A short, stable, non-reversible name for the key: what ledgers and logs record.
    public let fingerprint: KeyFingerprint

    public init(_ value: String) {
        self.value = value
        fingerprint = KeyFingerprint(of: value)
    }

    /// The secret itself, for the one place that puts it on the wire.
    public var revealedValue: String { value }

    public var description: String { "key:\(fingerprint)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["fingerprint": fingerprint], displayStyle: .struct) }
}

/// The first 12 hex digits of SHA-256 over a domain-separated key: enough to tell a
/// handful of keys apart, useless for recovering one.
public struct KeyFingerprint: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let hex: String

    public init(of secret: String) {
        let digest = SHA256.hash(data: Array("tickfold-api-key:\(secret)".utf8))
        hex = digest.prefix(6).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
        }.joined()
    }

    /// The fingerprint sources without credentials use for their limits and ledger rows.
    public static let anonymous = KeyFingerprint(hex: "anonymous")

    private init(hex: String) { self.hex = hex }

    public init(from decoder: any Decoder) throws { hex = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }

    public var description: String { hex }
    public static func < (a: KeyFingerprint, b: KeyFingerprint) -> Bool { a.hex < b.hex }
}
