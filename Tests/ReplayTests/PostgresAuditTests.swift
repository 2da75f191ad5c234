import Foundation
import Postgres
import Replay
import Testing
import TickfoldTesting

@Suite("Audit over PostgreSQL", .onTestThreads, .serialized, .timeLimit(.minutes(5)))
struct PostgresAuditTests {
    static let rows = 200_000

    @Test("two identical tables built in different orders, column orders and numeric scales digest equal; the diff ships no rows",
          .enabled(if: TestServices.hasPostgres))
    func identicalTables() throws {
        let pair = try SchemaPair("same")
        try pair.createBars(rows: Self.rows)
        let digestA = try Audit.digest(pair.source(pair.a))
        let digestB = try Audit.digest(pair.source(pair.b))
        let tableA = try #require(digestA.tables.first), tableB = try #require(digestB.tables.first)
        #expect(tableA.rows == Int64(Self.rows))
        #expect(tableA.root == tableB.root)
        #expect(tableA.maxSeq == Int64(Self.rows))
        #expect(digestA.maxSeq == Int64(Self.rows))
        #expect(tableA.columns == ["close", "date", "event_id", "seq", "symbol", "volume"])
        #expect(tableA.primaryKey == ["symbol", "date"])
        #expect(digestA.checkpoints == nil)

        let diff = try Audit.diff(pair.source(pair.a), pair.source(pair.b))
        #expect(diff.isEqual)
        #expect(diff.rowsFetched == 0)
        #expect(diff.comparisons.map(\.status) == [.equal])
    }

    @Test("the digest lists checkpoints sorted by every column in its own type's order, whatever order they were written in",
          .enabled(if: TestServices.hasPostgres))
    func checkpointsSorted() throws {
        let pair = try SchemaPair("ckpt")
        try pair.connection.execute("""
            CREATE TABLE \(pair.a).\(AuditOptions.checkpointTable) (projection text, source text, partition int, position bigint,
                PRIMARY KEY (projection, source, partition));
            INSERT INTO \(pair.a).\(AuditOptions.checkpointTable) VALUES
                ('collected', 'tickfold.trade', 10, 5), ('collected', 'tickfold.bar', 2, 7), ('collected', 'tickfold.trade', 2, 9), ('collected', 'log', 0, 40);
            """)
        let digest = try Audit.digest(pair.source(pair.a))
        let order = (digest.checkpoints ?? []).map { "\(($0["source"] ?? nil) ?? "")/\(($0["partition"] ?? nil) ?? "")" }
        #expect(order == ["log/0", "tickfold.bar/2", "tickfold.trade/2", "tickfold.trade/10"])
    }

    @Test("one changed row: the diff reports exactly that row with both writers, fetching only its leaf",
          .enabled(if: TestServices.hasPostgres))
    func oneChangedRow() throws {
        let pair = try SchemaPair("changed")
        try pair.createBars(rows: Self.rows)
        try pair.connection.execute("""
            UPDATE \(pair.b).bars SET close = close + 1, seq = 999999, event_id = 'ff' || repeat('0', 62)
            WHERE symbol = 'S7' AND date = '2000-01-11'
            """)
        let report = try Audit.diff(pair.source(pair.a), pair.source(pair.b))
        #expect(!report.isEqual)
        let comparison = try #require(report.comparisons.first)
        #expect(comparison.status == .different)
        #expect(comparison.differingLeaves == 1)
        let difference = try #require(comparison.differences.first)
        #expect(comparison.differences.count == 1)
        #expect(difference.kind == .changed)
        #expect(difference.key == "(S7,2000-01-11)")
        #expect(difference.columns == ["close", "event_id", "seq"])
        let originalSeq = 10 * 500 + 7
        #expect(difference.a?.seq == String(originalSeq))
        #expect(difference.b?.seq == "999999")
        #expect(difference.a?.eventID?.count == 64)
        #expect(difference.b?.eventID == "ff" + String(repeating: "0", count: 62))
        let leafRows = try pair.rowsInLeaf(of: ("S7", "2000-01-11"), schema: pair.a)
        #expect(report.rowsFetched == 2 * leafRows)
        #expect(report.rowsFetched < Self.rows / 500)
    }

    @Test("a missing and an extra row are reported as only in A and only in B, nothing else",
          .enabled(if: TestServices.hasPostgres))
    func missingAndExtraRows() throws {
        let pair = try SchemaPair("missing")
        try pair.createBars(rows: Self.rows)
        try pair.connection.execute("""
            DELETE FROM \(pair.b).bars WHERE symbol = 'S42' AND date = '2000-01-05';
            INSERT INTO \(pair.b).bars (symbol, date, close, volume, seq, event_id) VALUES ('ZZZ', '2031-01-01', 1.5, 1, 300000, repeat('a', 64));
            """)
        let report = try Audit.diff(pair.source(pair.a), pair.source(pair.b))
        let comparison = try #require(report.comparisons.first)
        #expect(comparison.rowsA == Int64(Self.rows))
        #expect(comparison.rowsB == Int64(Self.rows))
        let kinds = Dictionary(uniqueKeysWithValues: comparison.differences.map { ($0.key, $0.kind) })
        #expect(kinds == ["(S42,2000-01-05)": .onlyInA, "(ZZZ,2031-01-01)": .onlyInB])
        let extra = try #require(comparison.differences.first { $0.kind == .onlyInB })
        #expect(extra.b?.eventID == String(repeating: "a", count: 64))
        #expect(extra.b?.values["close"] == "1.5")
        #expect(extra.a == nil)
    }

    @Test("operational columns (apply time, TTL) are ignored; a changed excluded list makes them count",
          .enabled(if: TestServices.hasPostgres))
    func operationalColumnsIgnored() throws {
        let pair = try SchemaPair("ops")
        try pair.createBars(rows: 5_000)
        try pair.connection.execute("""
            ALTER TABLE \(pair.a).bars ADD COLUMN ttl integer DEFAULT 60;
            ALTER TABLE \(pair.b).bars ADD COLUMN ttl integer DEFAULT 3600;
            UPDATE \(pair.b).bars SET applied_at = '1999-01-01T00:00:00Z';
            """)
        let report = try Audit.diff(pair.source(pair.a), pair.source(pair.b))
        #expect(report.isEqual)
        #expect(report.rowsFetched == 0)

        let strict = try Audit.diff(pair.source(pair.a), pair.source(pair.b), options: AuditOptions(excludedColumns: ["applied_at"]))
        #expect(!strict.isEqual)
        #expect(strict.comparisons.first?.differences.first?.columns == ["ttl"])
    }

    @Test("a large leaf is descended to finer leaves before any row is fetched", .enabled(if: TestServices.hasPostgres))
    func descendsBeforeFetching() throws {
        let pair = try SchemaPair("descent")
        try pair.createBars(rows: Self.rows)
        try pair.connection.execute("UPDATE \(pair.b).bars SET volume = -1 WHERE symbol = 'S3' AND date = '2000-02-01'")
        let options = AuditOptions(leafBits: 4, fetchThreshold: 1_000)
        let report = try Audit.diff(pair.source(pair.a), pair.source(pair.b), options: options)
        let comparison = try #require(report.comparisons.first)
        #expect(comparison.leafBits == 12)
        #expect(comparison.differences.map(\.key) == ["(S3,2000-02-01)"])
        #expect(comparison.rowsFetched == 2 * (try pair.rowsInLeaf(of: ("S3", "2000-02-01"), schema: pair.a, bits: 12)))
    }

    @Test("tables on one side only, differing columns and a limit on listed differences are reported",
          .enabled(if: TestServices.hasPostgres))
    func schemaDifferences() throws {
        let pair = try SchemaPair("shape")
        try pair.createBars(rows: 2_000)
        try pair.connection.execute("""
            CREATE TABLE \(pair.a).only_here (id int PRIMARY KEY);
            CREATE TABLE \(pair.a).no_key (id int);
            ALTER TABLE \(pair.b).bars ADD COLUMN sector text;
            UPDATE \(pair.b).bars SET volume = 0 WHERE seq <= 10;
            CREATE TABLE \(pair.a).\(AuditOptions.checkpointTable) (projection text PRIMARY KEY, position bigint);
            INSERT INTO \(pair.a).\(AuditOptions.checkpointTable) VALUES ('bars', 2000);
            """)
        let digest = try Audit.digest(pair.source(pair.a))
        #expect(digest.tables.map(\.table) == ["bars", "only_here"])
        #expect(digest.skippedTables.map(\.table) == ["no_key"])
        #expect(digest.skippedTables.first?.reason == "no primary key")
        #expect(digest.checkpoints?.first?["position"] == "2000")

        let report = try Audit.diff(pair.source(pair.a), pair.source(pair.b), options: AuditOptions(maxDifferences: 3))
        let byName = Dictionary(uniqueKeysWithValues: report.comparisons.map { ($0.name, $0) })
        #expect(byName["only_here"]?.status == .onlyInA)
        #expect(byName["no_key"]?.status == .onlyInA)
        #expect(byName["no_key"]?.note == "no primary key")
        let bars = try #require(byName["bars"])
        #expect(bars.status == .different)
        #expect(bars.columnsOnlyInB == ["sector"])
        #expect(bars.differences.count == 3)
        #expect(bars.truncated)
        #expect(report.text().contains("columns only in B: sector"))
    }

    @Test("errors: a missing schema, a closed port and bad credentials fail without leaking the password",
          .enabled(if: TestServices.hasPostgres))
    func errors() throws {
        let pair = try SchemaPair("errors")
        #expect(throws: AuditError.self) { try Audit.digest(pair.source(pair.a + "_missing")) }
        do {
            _ = try Audit.digest(pair.source(pair.a + "_missing"))
        } catch {
            #expect(error.code == .notFound)
        }
        let closed = AuditTarget(postgres: .init(conninfo: "postgresql://auditor:s3cret-pw@127.0.0.1:1/tickfold", schema: "x"))
        #expect(!closed.description.contains("s3cret-pw"))
        do {
            _ = try AuditSource.open(closed, defaultPostgres: TestServices.postgres!, defaultRedis: "redis://127.0.0.1:1/0")
            Issue.record("connecting to a closed port succeeded")
        } catch {
            #expect(error.code == .postgres)
            #expect(!error.description.contains("s3cret-pw"))
            #expect(error.description.contains("127.0.0.1:1"))
        }
        var url = URLComponents(string: TestServices.postgres!)!
        url.password = "wrong-password-xyz"
        do {
            _ = try AuditSource.open(AuditTarget(postgres: .init(conninfo: url.string!, schema: pair.a)), defaultPostgres: "", defaultRedis: "")
            Issue.record("bad credentials were accepted")
        } catch {
            #expect(!error.description.contains("wrong-password-xyz"))
        }
    }
}
