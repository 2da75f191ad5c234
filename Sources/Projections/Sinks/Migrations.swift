import Postgres

/// One versioned DDL script from `schemas/postgres/NNN_name.sql`, embedded in the binary.
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    /// The script as the file holds it, without the file's final newline.
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// `002_collected`.
    public var fileName: String {
        let digits = String(version)
        return String(repeating: "0", count: max(0, 3 - digits.count)) + digits + "_" + name
    }

    /// The newest version this build knows.
    public static var latestVersion: Int { all.last?.version ?? 0 }
}

/// What `Migrator.migrate` did.
public struct MigrationReport: Sendable, Hashable {
    public let schema: String
    /// Versions applied by this call, in order (empty when the schema was up to date).
    public let applied: [Migration]
    /// The schema's version afterwards.
    public let version: Int
}

/// Applies the embedded migrations, in order, into one PostgreSQL schema, recording each in
/// that schema's `schema_migrations` table. Idempotent; serialized across processes with an
/// advisory lock; refuses a schema that already holds a version this build does not know,
/// or whose applied scripts differ from this build's (compared by MD5 on the server).
public struct Migrator: Sendable {
    public let migrations: [Migration]

    public init(migrations: [Migration] = Migration.all) {
        precondition(zip(migrations, migrations.dropFirst()).allSatisfy { $0.version < $1.version }, "migrations out of order")
        self.migrations = migrations
    }

    /// Brings `schema` (created if missing) to the newest version.
    public func migrate(_ connection: PostgresConnection, schema: String) throws -> MigrationReport {
        let quoted = try quote(schema)
        do {
            return try connection.withTransaction { connection in
                try connection.query("SELECT pg_advisory_xact_lock(hashtext('tickfold.migrate'), hashtext($1))", [schema])
                try connection.execute("""
                    CREATE SCHEMA IF NOT EXISTS \(quoted);
                    SET LOCAL search_path TO \(quoted);
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version    int PRIMARY KEY,
                        name       text NOT NULL,
                        checksum   text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    );
                    """)
                let applied = try verifyApplied(connection, schema: schema)
                var done: [Migration] = []
                for migration in migrations where !applied.contains(migration.version) {
                    try connection.execute(migration.sql)
                    try connection.query(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, md5($3))",
                        [String(migration.version), migration.name, migration.sql])
                    done.append(migration)
                }
                return MigrationReport(schema: schema, applied: done, version: migrations.last?.version ?? 0)
            }
        } catch let error as ProjectionError {
            throw error
        } catch let error as PostgresError {
            throw ProjectionError(.postgres, operation: "migrate", message: "schema \(schema): \(error)", underlying: error)
        }
    }

    /// The schema's current version, 0 when it has no `schema_migrations` table. Throws
    /// `schemaTooNew` / `migrationChanged` like `migrate` would.
    public func version(_ connection: PostgresConnection, schema: String) throws -> Int {
        do {
            let exists = try connection.query("SELECT to_regclass($1) IS NOT NULL", [try quote(schema) + ".schema_migrations"])
            guard exists.value(0, 0) == "t" else { return 0 }
            return try connection.withTransaction { connection in
                try connection.execute("SET LOCAL search_path TO \(try quote(schema))")
                return try verifyApplied(connection, schema: schema).max() ?? 0
            }
        } catch let error as ProjectionError {
            throw error
        } catch let error as PostgresError {
            throw ProjectionError(.postgres, operation: "read schema version", message: "schema \(schema): \(error)", underlying: error)
        }
    }

    /// Checks that `schema` is exactly at the newest version, for sinks about to write.
    public func requireCurrent(_ connection: PostgresConnection, schema: String) throws {
        let current = try version(connection, schema: schema)
        let latest = migrations.last?.version ?? 0
        guard current == latest else {
            throw ProjectionError(.schemaNotMigrated, operation: "open sink",
                message: "schema \(schema) is at migration version \(current), this build needs \(latest); run `tickfold project migrate --schema \(schema)`")
        }
    }

    /// The applied versions, after checking none is newer than this build and that each
    /// applied script is the one this build carries.
    private func verifyApplied(_ connection: PostgresConnection, schema: String) throws -> Set<Int> {
        let rows = try connection.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version").rows
        var applied = Set<Int>()
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        let latest = migrations.last?.version ?? 0
        for row in rows {
            let version = Int(row[0] ?? "") ?? 0
            let name = row[1] ?? ""
            guard let migration = known[version] else {
                if version > latest {
                    throw ProjectionError(.schemaTooNew, operation: "migrate",
                        message: "schema \(schema) has migration \(version) (\(name)) but this build knows versions up to \(latest); use a newer tickfold")
                }
                throw ProjectionError(.migrationChanged, operation: "migrate",
                    message: "schema \(schema) has migration \(version) (\(name)), which this build does not have")
            }
            let same = try connection.query("SELECT md5($1) = $2", [migration.sql, row[2]]).value(0, 0) == "t"
            guard same, name == migration.name else {
                throw ProjectionError(.migrationChanged, operation: "migrate",
                    message: "schema \(schema): migration \(migration.fileName) was applied from a different script than this build's")
            }
            applied.insert(version)
        }
        return applied
    }

    private func quote(_ schema: String) throws -> String {
        do {
            return try PostgresConnection.quoteIdentifier(schema)
        } catch let error as PostgresError {
            throw ProjectionError(.invalidArgument, operation: "migrate", message: "schema name: \(error.message)", underlying: error)
        }
    }
}
