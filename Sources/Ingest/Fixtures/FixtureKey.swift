import Crypto

/// What a fixture is recorded under: method, decoded path segments, and the query with
/// credential parameters removed and pairs sorted, so parameter order and API keys never
/// matter when matching.
public struct FixtureKey: Sendable, Hashable, CustomStringConvertible {
    public let method: String
    public let segments: [String]
    /// Sorted by name, then value; credential parameters removed.
    public let query: [Pair]

    public struct Pair: Sendable, Hashable, Comparable {
        public let name: String
        public let value: String
        public static func < (a: Pair, b: Pair) -> Bool { (a.name, a.value) < (b.name, b.value) }
    }

    /// Longest file stem before the query part is replaced by its hash.
    static let maxStemBytes = 200

    /// Builds the key of a request target (`path` percent-encoded as on the wire, `query`
    /// without the `?`). Returns nil for paths with `.` or `..` segments, which could name
    /// files outside the fixture directory.
    public init?(method: String, path: String, query: String) {
        var segments: [String] = []
        for raw in path.split(separator: "/", omittingEmptySubsequences: true) {
            let segment = QueryString.percentDecode(raw)
            if segment == "." || segment == ".." || segment.contains("/") || segment.contains("\0") { return nil }
            segments.append(segment)
        }
        self.method = method.uppercased()
        self.segments = segments
        self.query = QueryString.decode(query)
            .filter { !Redactor.isCredentialParameter($0.name) }
            .map { Pair(name: $0.name, value: $0.value) }
            .sorted()
    }

    /// The canonical query, `a=1&b=2`, credential-free.
    public var canonicalQuery: String { QueryString.encode(query.map { ($0.name, $0.value) }) }

    /// The directory below the fixture root: one encoded directory per path segment.
    public var directory: String { segments.map(QueryString.percentEncode).joined(separator: "/") }

    /// The file stem: `GET`, or `GET@a=1&b=2`, or `GET@sha256-…` when the query is long.
    public var stem: String {
        let query = canonicalQuery
        if query.isEmpty { return method }
        let stem = "\(method)@\(query)"
        if stem.utf8.count <= FixtureKey.maxStemBytes { return stem }
        let digest = SHA256.hash(data: Array(query.utf8)).prefix(8).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
        }.joined()
        return "\(method)@sha256-\(digest)"
    }

    /// `GET /a/b?x=1`, credential-free: safe in logs and 404 bodies.
    public var description: String {
        let path = "/" + segments.map(QueryString.percentEncode).joined(separator: "/")
        let query = canonicalQuery
        return query.isEmpty ? "\(method) \(path)" : "\(method) \(path)?\(query)"
    }
}
