import Postgres

/// How a live projector and a replay agree on swapping a rebuilt schema in (SPEC §5).
///
/// Every batch transaction of a `PostgresSink` first takes the transaction-level advisory
/// lock `lockKey(schema:)`; a replay holds the same lock (session level) while it renames
/// schemas and flips the Redis namespace pointer, so no live batch interleaves with a swap.
/// The versions of the projections a schema was built with are recorded in its comment
/// (`tickfold projections: collected@v4`); a projector running other versions refuses to
/// write into it, so an old build cannot pollute a new version swapped in under it.
public enum ProjectionSwap {
    /// What a schema comment starts with when it records projection versions.
    public static let commentPrefix = "tickfold projections: "

    /// The advisory lock key of `schema`: FNV-1a 64 of a fixed tag and the schema name.
    public static func lockKey(schema: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "tickfold.projection-swap:\(schema)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }

    /// The comment recording `projections`' versions.
    public static func comment(for projections: [any Projection]) -> String {
        commentPrefix + projections.map(\.label).sorted().joined(separator: ", ")
    }

    /// Projection name → version, from a schema comment (empty for no or a foreign comment).
    public static func versions(inComment comment: String?) -> [String: Int] {
        guard let comment, comment.hasPrefix(commentPrefix) else { return [:] }
        var versions: [String: Int] = [:]
        for label in comment.dropFirst(commentPrefix.count).split(separator: ",") {
            let parts = label.drop { $0 == " " }.split(separator: "@")
            guard parts.count == 2, parts[1].hasPrefix("v"), let version = Int(parts[1].dropFirst()) else { continue }
            versions[String(parts[0])] = version
        }
        return versions
    }

    /// What to do when a schema records version `recorded` of a projection a build runs at
    /// version `running`: a newer one was swapped in under an old projector, or the schema was
    /// built before an upgrade.
    public static func advice(recorded: Int, running: Int) -> String {
        recorded > running
            ? "a replay swapped v\(recorded) in; restart the projector with the build that has it"
            : "it was built by an older build; rebuild it with this one: tickfold replay --from 1"
    }

    /// The comment of `schema`, or nil.
    public static func schemaComment(_ connection: PostgresConnection, schema: String) throws -> String? {
        try connection.query(schemaCommentQuery, [schema]).value(0, 0)
    }

    /// The comment of schema `$1` (one row, NULL without a comment).
    static let schemaCommentQuery = """
        SELECT d.description FROM pg_namespace n
        LEFT JOIN pg_description d ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass
        WHERE n.nspname = $1
        """
}

extension PostgresSink {
    /// The first statement of every batch transaction (see `ProjectionSwap`).
    var swapLockStatement: String { "SELECT pg_advisory_xact_lock(\(ProjectionSwap.lockKey(schema: schema)));" }

    /// Throws `projectionVersionChanged` when `comment` (the schema's) records another
    /// version of one of `projections` (a replay swapped a new version in): this projector
    /// must stop and be restarted with the build that has it.
    static func check(comment: String?, projections: [any Projection], schema: String) throws {
        let recorded = ProjectionSwap.versions(inComment: comment)
        for projection in projections {
            if let version = recorded[projection.name], version != projection.version {
                throw ProjectionError(.projectionVersionChanged, operation: "apply batch",
                    message: "schema \(schema) holds \(projection.name)@v\(version) but this projector runs \(projection.label); "
                        + ProjectionSwap.advice(recorded: version, running: projection.version))
            }
        }
    }
}
