/// One side of an audit: a PostgreSQL schema and/or a Redis key namespace, written as
/// `pg:SCHEMA`, `pg:CONNINFO#SCHEMA`, `redis:PREFIX` or `redis:URL#PREFIX`, several parts
/// joined by commas (`pg:tickfold,redis:live:`), or a name the caller resolves (the CLI
/// looks names up in the configuration file's `auditTargets` object).
///
/// Without a connection string a part uses the default server the caller supplies, so
/// `pg:live` and `pg:rebuild` are two schemas of one database and `redis:` is the whole
/// keyspace of the default Redis database. A prefix `@NAMESPACE` follows the namespace
/// pointer of `NAMESPACE` when the source is opened (`AuditSource.open`), so `redis:@` names
/// the live keys wherever replays have put them.
public struct AuditTarget: Sendable, Hashable, CustomStringConvertible {
    /// A PostgreSQL schema, on the default database (`conninfo == nil`) or another one.
    public struct PostgresPart: Sendable, Hashable {
        public var conninfo: String?
        public var schema: String

        public init(conninfo: String? = nil, schema: String) {
            self.conninfo = conninfo
            self.schema = schema
        }
    }

    /// A Redis key namespace (a key prefix, possibly empty) on the default server or another one.
    public struct RedisPart: Sendable, Hashable {
        public var url: String?
        public var prefix: String

        public init(url: String? = nil, prefix: String) {
            self.url = url
            self.prefix = prefix
        }
    }

    public var postgres: PostgresPart?
    public var redis: RedisPart?

    public init(postgres: PostgresPart? = nil, redis: RedisPart? = nil) {
        self.postgres = postgres
        self.redis = redis
    }

    /// Parses a target specification; a specification with no `pg:`/`redis:` part is a name
    /// handed to `resolveName`, whose answer is parsed in turn (names do not nest).
    public init(parsing specification: String, resolveName: (String) -> String? = { _ in nil }) throws(AuditError) {
        let text = specification.trimmingWhitespace()
        if !text.hasPrefix("pg:") && !text.hasPrefix("redis:") {
            guard !text.isEmpty else {
                throw AuditError(.invalidTarget, operation: "parse target", message: "empty target; expected pg:SCHEMA, pg:CONNINFO#SCHEMA, redis:PREFIX, redis:URL#PREFIX or a configured name")
            }
            guard let resolved = resolveName(text) else {
                throw AuditError(.invalidTarget, operation: "parse target", message: "\"\(text)\" is neither pg:…/redis:… nor a configured target name")
            }
            guard resolved.trimmingWhitespace().hasPrefix("pg:") || resolved.trimmingWhitespace().hasPrefix("redis:") else {
                throw AuditError(.invalidTarget, operation: "parse target", message: "configured target \"\(text)\" must be written with pg:/redis: parts")
            }
            try self.init(parsing: resolved)
            return
        }
        var postgres: PostgresPart?
        var redis: RedisPart?
        for part in Self.parts(of: text) {
            if part.hasPrefix("pg:") {
                guard postgres == nil else {
                    throw AuditError(.invalidTarget, operation: "parse target", message: "more than one pg: part in \(Self.redacted(text))")
                }
                let body = String(part.dropFirst(3))
                let (conninfo, schema) = Self.splitLocation(body)
                guard !schema.isEmpty else {
                    throw AuditError(.invalidTarget, operation: "parse target", message: "pg: part needs a schema name (pg:SCHEMA or pg:CONNINFO#SCHEMA)")
                }
                postgres = PostgresPart(conninfo: conninfo, schema: schema)
            } else {
                guard redis == nil else {
                    throw AuditError(.invalidTarget, operation: "parse target", message: "more than one redis: part in \(Self.redacted(text))")
                }
                let body = String(part.dropFirst(6))
                if body.hasPrefix("redis://") || body.hasPrefix("rediss://") {
                    guard let hash = body.lastIndex(of: "#") else {
                        throw AuditError(.invalidTarget, operation: "parse target", message: "redis:URL needs #PREFIX after the URL (an empty prefix is written URL#)")
                    }
                    redis = RedisPart(url: String(body[..<hash]), prefix: String(body[body.index(after: hash)...]))
                } else {
                    redis = RedisPart(url: nil, prefix: body)
                }
            }
        }
        self.init(postgres: postgres, redis: redis)
    }

    /// The specification again, with any password in a connection string replaced by `****`.
    public var description: String {
        var parts: [String] = []
        if let postgres {
            parts.append("pg:" + (postgres.conninfo.map { Self.redacted($0) + "#" } ?? "") + postgres.schema)
        }
        if let redis {
            parts.append("redis:" + (redis.url.map { Self.redacted($0) + "#" } ?? "") + redis.prefix)
        }
        return parts.joined(separator: ",")
    }

    /// Splits at commas that start a new `pg:` or `redis:` part, so commas inside a
    /// connection string (multi-host URIs) stay where they are.
    static func parts(of text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var rest = Substring(text)
        while let comma = rest.firstIndex(of: ",") {
            let after = rest[rest.index(after: comma)...]
            current += rest[..<comma]
            if after.hasPrefix("pg:") || after.hasPrefix("redis:") {
                parts.append(current)
                current = ""
            } else {
                current += ","
            }
            rest = after
        }
        current += rest
        parts.append(current)
        return parts
    }

    /// `CONNINFO#SCHEMA` → (conninfo, schema); a body without `#` is a schema alone.
    static func splitLocation(_ body: String) -> (String?, String) {
        guard let hash = body.lastIndex(of: "#") else { return (nil, body) }
        return (String(body[..<hash]), String(body[body.index(after: hash)...]))
    }

    /// `text` with the password of a URI (`scheme://user:PASSWORD@host`) or of a libpq
    /// `password=…` setting replaced by `****`.
    static func redacted(_ text: String) -> String {
        var result = text
        if let scheme = result.range(of: "://") {
            let authorityEnd = result[scheme.upperBound...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? result.endIndex
            let authority = result[scheme.upperBound..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                result.replaceSubrange(result.index(after: colon)..<at, with: "****")
            }
        }
        var output = ""
        var remaining = Substring(result)
        while let key = remaining.range(of: "password=") {
            output += remaining[..<key.upperBound]
            output += "****"
            remaining = remaining[key.upperBound...].drop { $0 != " " && $0 != "&" }
        }
        return output + remaining
    }
}

extension String {
    func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
