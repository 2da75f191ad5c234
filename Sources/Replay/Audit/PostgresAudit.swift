import Foundation
import Postgres

/// A column as the audit hashes, matches and shows it.
struct AuditColumn: Hashable, Sendable {
    enum Hashing: Hashable, Sendable {
        /// The type has a default hash opclass: its own hash (type-aware: `1.50 = 1.5`,
        /// timestamptz independent of the session time zone).
        case native
        /// `json` has no hash; its jsonb form is normalized and hashable.
        case jsonb
        /// No hash support: hashed as its text under the audit's fixed session settings.
        case text
    }

    let name: String
    let type: String
    let hashing: Hashing
    let isNumeric: Bool

    /// Catalog names are never empty and hold no NUL, the only names quoting rejects.
    var quoted: String { (try? PostgresConnection.quoteIdentifier(name)) ?? name }

    var hashExpression: String {
        switch hashing {
        case .native: quoted
        case .jsonb: "(\(quoted))::jsonb"
        case .text: "(\(quoted))::text"
        }
    }

    /// The key's matching form: equal keys give equal text on both sides.
    var canonicalExpression: String {
        if isNumeric { return "trim_scale(\(quoted))" }
        return hashing == .jsonb ? "(\(quoted))::jsonb" : quoted
    }
}

/// A table's shape: every column (sorted by name) and the primary key in key order.
struct TableShape: Sendable {
    let name: String
    let columns: [AuditColumn]
    let primaryKey: [String]

    func compared(excluding excluded: Set<String>) -> [AuditColumn] {
        columns.filter { !excluded.contains($0.name) || primaryKey.contains($0.name) }
    }
}

/// A fetched row of a differing leaf: its row hash and the text of its compared columns.
struct FetchedRow: Sendable {
    let hash: String
    let values: [String?]
}

/// One read-only, repeatable-read transaction on a connection with fixed session settings
/// (UTC, ISO dates, shortest exact floats), so every statement of a digest or a diff sees one
/// snapshot and renders values the same way. The connection must not be in a transaction.
final class PostgresAuditSession: Sendable {
    let connection: PostgresConnection
    static let scheme = "tickfold-audit/pg-hash64/v1"
    static let keySeed = 0
    static let rowSeed = 1

    init(connection: PostgresConnection) throws(AuditError) {
        self.connection = connection
        _ = try run("begin snapshot") {
            try connection.execute("""
                BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
                SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'iso_8601';
                SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'; SET LOCAL work_mem = '64MB';
                SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0
                """)
        }
    }

    /// Ends the snapshot; nothing was written, so this is a rollback. It can only fail when
    /// the connection is gone, and then the server has ended the transaction itself.
    func close() {
        _ = try? connection.execute("ROLLBACK")
    }

    func run<T>(_ operation: String, _ body: () throws -> T) throws(AuditError) -> T {
        do {
            return try body()
        } catch let error as PostgresError {
            throw AuditError(.postgres, operation: operation, message: error.description, underlying: error)
        } catch let error as AuditError {
            throw error
        } catch {
            throw AuditError(.postgres, operation: operation, message: "\(error)")
        }
    }

    /// Every ordinary or partitioned table of `schema` (partitions are covered by their
    /// parent), with its columns and primary key.
    func tables(in schema: String) throws(AuditError) -> [String: TableShape] {
        let result = try run("list tables of \(schema)") {
            let exists = try connection.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema])
            guard exists.rowCount == 1 else {
                throw AuditError(.notFound, operation: "list tables", message: "schema \(schema) does not exist on \(connection.endpoint)")
            }
            return try connection.query("""
                SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), base.typname,
                       EXISTS (SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
                               WHERE am.amname = 'hash' AND oc.opcdefault
                                 AND (oc.opcintype = base.oid
                                      OR (base.typcategory = 'A' AND oc.opcintype = 'anyarray'::regtype)
                                      OR (base.typtype = 'e' AND oc.opcintype = 'anyenum'::regtype)
                                      OR (base.typtype = 'r' AND oc.opcintype = 'anyrange'::regtype))),
                       coalesce((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n) WHERE k.attnum = a.attnum), 0)
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                JOIN pg_type t ON t.oid = a.atttypid
                JOIN pg_type base ON base.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
                LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
                WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                ORDER BY c.relname, a.attname
                """, [schema])
        }
        var columns: [String: [AuditColumn]] = [:]
        var keys: [String: [(Int, String)]] = [:]
        for row in 0..<result.rowCount {
            let table = result.value(row, 0)!, name = result.value(row, 1)!
            let typeName = result.value(row, 3)!
            let hashing: AuditColumn.Hashing =
                typeName == "json" ? .jsonb : (result.value(row, 4) == "t" ? .native : .text)
            columns[table, default: []].append(
                AuditColumn(name: name, type: result.value(row, 2)!, hashing: hashing, isNumeric: typeName == "numeric"))
            if let position = Int(result.value(row, 5) ?? "0"), position > 0 {
                keys[table, default: []].append((position, name))
            }
        }
        var shapes: [String: TableShape] = [:]
        for (table, tableColumns) in columns {
            let key = (keys[table] ?? []).sorted { $0.0 < $1.0 }.map(\.1)
            shapes[table] = TableShape(name: table, columns: tableColumns, primaryKey: key)
        }
        return shapes
    }

    /// The leaves of `table` at `bits`, only under `parents` (buckets at `parentBits`) when
    /// given: one grouped scan inside PostgreSQL, so only leaf digests travel.
    func leaves(
        schema: String, table: TableShape, columns: [AuditColumn], seqColumn: String?,
        bits: Int, within parents: (bits: Int, buckets: [Int64])? = nil
    ) throws(AuditError) -> LeafLevel {
        let source = try qualified(schema, table.name)
        let keyHash = keyHashExpression(table, columns: columns)
        let rowHash = rowHashExpression(columns)
        let seq = seqColumn.map { (try? PostgresConnection.quoteIdentifier($0)) ?? $0 } ?? "NULL::bigint"
        var sql = """
            SELECT b, count(*), bit_xor(h), max(s)::text FROM (
              SELECT \(keyHash) >> \(64 - bits) AS b, \(rowHash) AS h, \(seq) AS s FROM \(source)
            """
        var parameters: [String?] = []
        if let parents {
            sql += "\n  WHERE (\(keyHash) >> \(64 - parents.bits)) = ANY($1::bigint[])"
            parameters.append(Self.arrayLiteral(parents.buckets))
        }
        sql += "\n) leaf GROUP BY b"
        let result = try run("digest \(schema).\(table.name)") { try connection.query(sql, parameters) }
        var level = LeafLevel(bits: bits, leaves: [:], maxSeq: nil)
        level.leaves.reserveCapacity(result.rowCount)
        for row in 0..<result.rowCount {
            let bucket = Int64(result.value(row, 0)!)!
            level.leaves[bucket] = Leaf(
                count: Int64(result.value(row, 1)!)!, xor: Int64(result.value(row, 2)!)!, sum: nil)
            if let text = result.value(row, 3), let seq = Int64(text) ?? Double(text).map({ Int64($0) }) {
                level.maxSeq = max(level.maxSeq ?? seq, seq)
            }
        }
        return level
    }

    /// The rows of `table` in `buckets` at `bits`, by canonical key text.
    func rows(
        schema: String, table: TableShape, columns: [AuditColumn], bits: Int, buckets: [Int64]
    ) throws(AuditError) -> [String: FetchedRow] {
        let source = try qualified(schema, table.name)
        let keyHash = keyHashExpression(table, columns: columns)
        let keyColumns = table.primaryKey.compactMap { name in columns.first { $0.name == name } }
        let keyText = "ROW(\(keyColumns.map(\.canonicalExpression).joined(separator: ", ")))::text"
        let values = columns.map { "(\($0.canonicalExpression))::text" }.joined(separator: ", ")
        let sql = """
            SELECT \(keyText), \(rowHashExpression(columns)), \(values) FROM \(source)
            WHERE (\(keyHash) >> \(64 - bits)) = ANY($1::bigint[])
            """
        let result = try run("list rows of \(schema).\(table.name)") {
            try connection.query(sql, [Self.arrayLiteral(buckets)])
        }
        var rows: [String: FetchedRow] = [:]
        rows.reserveCapacity(result.rowCount)
        for row in 0..<result.rowCount {
            rows[result.value(row, 0)!] = FetchedRow(
                hash: result.value(row, 1)!, values: (0..<columns.count).map { result.value(row, $0 + 2) })
        }
        return rows
    }

    /// The rows of the schema's checkpoint table as column → text, or nil if it has none.
    func checkpoints(schema: String, table: String) throws(AuditError) -> [[String: String?]]? {
        let source = try qualified(schema, table)
        let result = try run("read \(schema).\(table)") { () -> PostgresResult? in
            let exists = try connection.query(
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
                [schema, table])
            guard exists.rowCount == 1 else { return nil }
            // Every column in the sort, in its own type's order: equal states print equal text.
            let columns = try connection.query("SELECT * FROM \(source) LIMIT 0").columns.count
            return try connection.query("SELECT * FROM \(source) ORDER BY \((1...max(columns, 1)).map(String.init).joined(separator: ", "))")
        }
        guard let result else { return nil }
        return (0..<result.rowCount).map { row in
            var values: [String: String?] = [:]
            for (index, column) in result.columns.enumerated() { values[column] = result.value(row, index) }
            return values
        }
    }

    private func qualified(_ schema: String, _ table: String) throws(AuditError) -> String {
        do {
            return try PostgresConnection.quoteIdentifier(schema) + "." + PostgresConnection.quoteIdentifier(table)
        } catch {
            throw AuditError(.invalidArgument, operation: "quote \(schema).\(table)", message: "\(error)", underlying: error as? PostgresError)
        }
    }

    private func keyHashExpression(_ table: TableShape, columns: [AuditColumn]) -> String {
        let keyColumns = table.primaryKey.compactMap { name in columns.first { $0.name == name } }
        return "hash_record_extended(ROW(\(keyColumns.map(\.hashExpression).joined(separator: ", "))), \(Self.keySeed))"
    }

    private func rowHashExpression(_ columns: [AuditColumn]) -> String {
        "hash_record_extended(ROW(\(columns.map(\.hashExpression).joined(separator: ", "))), \(Self.rowSeed))"
    }

    static func arrayLiteral(_ buckets: [Int64]) -> String {
        "{" + buckets.map(String.init).joined(separator: ",") + "}"
    }
}
