import Foundation
import Postgres
import Redis
import Replay
import TickfoldTesting

/// Two uniquely named schemas on the test database, dropped when the test ends.
final class SchemaPair {
    let connection: PostgresConnection
    let a: String
    let b: String

    init(_ label: String) throws {
        connection = try PostgresConnection(TestServices.postgres!)
        a = TestServices.uniqueName("audit_\(label)_a")
        b = TestServices.uniqueName("audit_\(label)_b")
        try connection.execute("CREATE SCHEMA \(a); CREATE SCHEMA \(b)")
    }

    deinit { _ = try? connection.execute("DROP SCHEMA IF EXISTS \(a) CASCADE; DROP SCHEMA IF EXISTS \(b) CASCADE") }

    /// The same `rows` daily bars in both schemas: A in ascending order, B descending, with
    /// columns declared in another order, closes written with a wider scale and different
    /// apply times; nothing an auditor should see.
    func createBars(rows: Int) throws {
        try connection.execute("""
            CREATE TABLE \(a).bars (symbol text, date date, close numeric, volume bigint, seq bigint NOT NULL,
                event_id text NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (symbol, date));
            CREATE TABLE \(b).bars (applied_at timestamptz NOT NULL DEFAULT clock_timestamp() - interval '1 day',
                event_id text NOT NULL, seq bigint NOT NULL, volume bigint, close numeric, date date, symbol text,
                PRIMARY KEY (symbol, date));
            INSERT INTO \(a).bars (symbol, date, close, volume, seq, event_id)
                SELECT 'S' || (i % 500), date '2000-01-01' + i / 500, (i % 997) * 1.25, i * 10, i, md5(i::text) || md5((i + 1)::text)
                FROM generate_series(1, \(rows)) i ORDER BY i;
            INSERT INTO \(b).bars (symbol, date, close, volume, seq, event_id)
                SELECT 'S' || (i % 500), date '2000-01-01' + i / 500, round((i % 997) * 1.25, 4), i * 10, i, md5(i::text) || md5((i + 1)::text)
                FROM generate_series(1, \(rows)) i ORDER BY i DESC;
            """)
    }

    func source(_ schema: String, connection: PostgresConnection? = nil) -> AuditSource {
        AuditSource(
            target: AuditTarget(postgres: .init(schema: schema)),
            postgres: connection ?? (try? PostgresConnection(TestServices.postgres!)), redis: nil)
    }

    /// Rows of `schema.table` in the first-level leaf (at `bits`) that holds `key`.
    func rowsInLeaf(of key: (String, String), schema: String, bits: Int = 12) throws -> Int {
        let result = try connection.query("""
            SELECT count(*) FROM \(schema).bars
            WHERE hash_record_extended(ROW(symbol, date), 0) >> \(64 - bits)
                = (SELECT hash_record_extended(ROW($1::text, $2::date), 0) >> \(64 - bits))
            """, [key.0, key.1])
        return Int(result.value(0, 0)!)!
    }
}

/// Two uniquely prefixed Redis namespaces, their keys deleted when the test ends.
final class NamespacePair {
    let connection: RedisConnection
    let a: String
    let b: String

    init(_ label: String) throws {
        connection = try RedisConnection(url: TestServices.redis!)
        a = TestServices.uniqueName("audit:\(label):a") + ":"
        b = TestServices.uniqueName("audit:\(label):b") + ":"
    }

    deinit {
        for prefix in [a, b] {
            var cursor = "0"
            repeat {
                guard let reply = try? connection.command("SCAN", cursor, "MATCH", prefix + "*", "COUNT", 1000),
                      let parts = reply.array, parts.count == 2, let next = parts[0].string else { break }
                let keys = parts[1].array?.compactMap(\.bytes) ?? []
                if !keys.isEmpty { _ = try? connection.command(["DEL"] + keys) }
                cursor = next
            } while cursor != "0"
        }
    }

    func source(_ prefix: String) throws -> AuditSource {
        AuditSource(
            target: AuditTarget(redis: .init(prefix: prefix)), postgres: nil,
            redis: try RedisConnection(url: TestServices.redis!))
    }
}
