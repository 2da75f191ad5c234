import Foundation
import Testing
import TickfoldTesting
@testable import Postgres

/// A connection to the test server plus a schema of its own, dropped afterwards.
private func withSchema<T>(_ body: (PostgresConnection, String) throws -> T) throws -> T {
    let connection = try PostgresConnection(try #require(TestServices.postgres))
    let schema = try PostgresConnection.quoteIdentifier(TestServices.uniqueName("pgtest"))
    try connection.execute("CREATE SCHEMA \(schema)")
    defer { _ = try? connection.execute("DROP SCHEMA \(schema) CASCADE") }
    return try body(connection, schema)
}

/// `TICKFOLD_PG` with its password replaced.
private func conninfo(password: String) throws -> String {
    let uri = try #require(TestServices.postgres)
    var components = try #require(URLComponents(string: uri))
    components.password = password
    return try #require(components.string)
}

@Suite("PostgreSQL connection", .onTestThreads, .serialized, .enabled(if: TestServices.hasPostgres), .timeLimit(.minutes(5)))
struct PostgresConnectionTests {
    @Test("bound parameters round-trip NULL, quotes, backslashes and unicode without injection")
    func boundParameters() throws {
        try withSchema { connection, schema in
            try connection.execute("CREATE TABLE \(schema).items (id int PRIMARY KEY, name text)")
            let names: [String?] = [
                "plain", nil, "O'Brien \"quoted\"", "'); DROP TABLE \(schema).items; --",
                "back\\slash\ttab\nnewline", "Zürich 東京 🚀", "",
            ]
            for (id, name) in names.enumerated() {
                let inserted = try connection.query("INSERT INTO \(schema).items (id, name) VALUES ($1, $2)", [String(id), name])
                #expect(inserted.affectedRows == 1)
            }
            let result = try connection.query("SELECT id, name FROM \(schema).items WHERE id >= $1 ORDER BY id", ["0"])
            #expect(result.columns == ["id", "name"])
            #expect(result.rowCount == names.count)
            #expect(result.rows.map { $0[1] } == names)
            #expect(result.value(3, "name") == names[3])
            #expect(result.value(1, 1) == nil)
            let echoed = try connection.query("SELECT $1::text AS v, $2::text IS NULL AS n", ["x'; SELECT 1; --", nil])
            #expect(echoed.value(0, "v") == "x'; SELECT 1; --")
            #expect(echoed.value(0, "n") == "t")
        }
    }

    @Test("a malformed connection string is an invalid argument (a setting to fix), not a failed connection to wait out")
    func unparsableConninfo() throws {
        for conninfo in ["host=127.0.0.1 port", "password=s3cret nonsense", "postgresql://u:s3cret@127.0.0.1:5432/db?bogus=1"] {
            let error = try #require(throws: PostgresError.self) { try PostgresConnection(conninfo) }
            #expect(error.code == .invalidArgument, "\(conninfo): \(error)")
            #expect(error.message.hasPrefix("invalid connection string: "), "\(error)")
            #expect(!error.description.contains("s3cret"), "\(error)")
        }
    }

    @Test("an option value libpq refuses only at connect (a port that is no number) is invalidArgument, not a connection failure to retry")
    func invalidOptionValues() throws {
        for conninfo in ["host=127.0.0.1 port=abc dbname=x", "host=127.0.0.1 port=99999 dbname=x", "host=127.0.0.1 port=5432 sslmode=sometimes dbname=x"] {
            let error = try #require(throws: PostgresError.self) { try PostgresConnection(conninfo) }
            #expect(error.code == .invalidArgument, "\(conninfo): \(error)")
        }
        // An unreachable server stays a connection failure (retried by services).
        let error = try #require(throws: PostgresError.self) { try PostgresConnection("host=127.0.0.1 port=\(try closedLocalPort()) dbname=x connect_timeout=2") }
        #expect(error.code == .connectionFailed, "\(error)")
    }

    @Test("a NUL byte in a parameter is refused instead of silently truncated")
    func nulParameter() throws {
        let connection = try PostgresConnection(try #require(TestServices.postgres))
        let error = try #require(throws: PostgresError.self) { try connection.query("SELECT $1::text", ["a\0b"]) }
        #expect(error.code == .invalidArgument)
        #expect(try connection.query("SELECT 1").value(0, 0) == "1")
    }

    @Test("withTransaction commits the body's work and rolls it back when the body throws")
    func transactions() throws {
        struct Abort: Error {}
        try withSchema { connection, schema in
            try connection.execute("CREATE TABLE \(schema).t (id int PRIMARY KEY)")
            let observer = try PostgresConnection(try #require(TestServices.postgres))
            let count = { try observer.query("SELECT count(*) FROM \(schema).t").value(0, 0) }

            let value = try connection.withTransaction { tx in
                try tx.query("INSERT INTO \(schema).t VALUES (1), (2)")
                #expect(try count() == "0", "uncommitted rows are invisible to another connection")
                return 42
            }
            #expect(value == 42)
            #expect(try count() == "2")

            #expect(throws: Abort.self) {
                try connection.withTransaction { tx in
                    try tx.query("INSERT INTO \(schema).t VALUES (3)")
                    throw Abort()
                }
            }
            #expect(try count() == "2")

            let duplicate = try #require(throws: PostgresError.self) {
                try connection.withTransaction { tx in
                    try tx.query("INSERT INTO \(schema).t VALUES (4)")
                    try tx.query("INSERT INTO \(schema).t VALUES (1)")
                }
            }
            #expect(duplicate.sqlState == "23505")
            #expect(try count() == "2")

            let swallowed = try #require(throws: PostgresError.self) {
                try connection.withTransaction { tx in
                    try tx.query("INSERT INTO \(schema).t VALUES (5)")
                    _ = try? tx.query("SELECT 1/0")
                }
            }
            #expect(swallowed.code == .transactionFailed, "COMMIT of an aborted transaction must not look like success")
            #expect(try count() == "2")

            let nested = try #require(throws: PostgresError.self) {
                try connection.withTransaction { tx in try tx.withTransaction { _ in } }
            }
            #expect(nested.code == .invalidArgument)
            #expect(connection.isHealthy)
        }
    }

    @Test("server errors carry their SQLSTATE and leave the connection usable")
    func serverErrors() throws {
        let connection = try PostgresConnection(try #require(TestServices.postgres))
        let division = try #require(throws: PostgresError.self) { try connection.query("SELECT 1/0") }
        #expect(division.code == .queryFailed)
        #expect(division.sqlState == "22012")
        #expect(division.message.contains("division by zero"))
        let missing = try #require(throws: PostgresError.self) { try connection.query("SELECT * FROM \(TestServices.uniqueName("missing"))") }
        #expect(missing.sqlState == "42P01")
        let syntax = try #require(throws: PostgresError.self) { try connection.execute("CREATE TABLE;") }
        #expect(syntax.sqlState == "42601")
        #expect(syntax.description.contains("42601"))
        #expect(try connection.query("SELECT 'still fine'").value(0, 0) == "still fine")
    }

    @Test("a COPY statement passed to query is refused and the connection recovers")
    func copyThroughQuery() throws {
        let connection = try PostgresConnection(try #require(TestServices.postgres))
        let error = try #require(throws: PostgresError.self) { try connection.query("COPY (SELECT 1) TO STDOUT") }
        #expect(error.code == .invalidArgument)
        #expect(try connection.query("SELECT 2").value(0, 0) == "2")
    }

    @Test("execute runs a multi-statement script")
    func script() throws {
        try withSchema { connection, schema in
            let last = try connection.execute("""
                CREATE TABLE \(schema).a (x int);
                INSERT INTO \(schema).a VALUES (1), (2), (3);
                SELECT sum(x) FROM \(schema).a;
                """)
            #expect(last.value(0, 0) == "6")
        }
    }

    @Test("identifiers are quoted so any name is one identifier")
    func identifiers() throws {
        #expect(try PostgresConnection.quoteIdentifier("plain") == "\"plain\"")
        #expect(try PostgresConnection.quoteIdentifier("a\"b") == "\"a\"\"b\"")
        #expect(throws: PostgresError.self) { try PostgresConnection.quoteIdentifier("") }
        #expect(throws: PostgresError.self) { try PostgresConnection.quoteIdentifier("a\0b") }
        try withSchema { connection, schema in
            let table = try PostgresConnection.quoteIdentifier("we\"ird; DROP SCHEMA \(schema); --")
            try connection.execute("CREATE TABLE \(schema).\(table) (x int)")
            let found = try connection.query(
                "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = $2",
                [String(schema.dropFirst().dropLast()), "we\"ird; DROP SCHEMA \(schema); --"])
            #expect(found.value(0, 0) == "1")
        }
    }

    @Test("library and server versions are libpq/PostgreSQL 14 or newer")
    func versions() throws {
        #expect(PostgresConnection.libraryVersion >= 140000)
        let connection = try PostgresConnection(try #require(TestServices.postgres))
        #expect(connection.serverVersion >= 140000)
        #expect(connection.endpoint.hasPrefix("127.0.0.1:") || connection.endpoint.hasPrefix("localhost:"))
    }
}

@Suite("PostgreSQL COPY and pipelines", .onTestThreads, .serialized, .enabled(if: TestServices.hasPostgres), .timeLimit(.minutes(5)))
struct PostgresBulkTests {
    @Test("COPY IN of 100k rows stores every row with the right checksum")
    func copyInManyRows() throws {
        try withSchema { connection, schema in
            try connection.execute("CREATE TABLE \(schema).ticks (id bigint PRIMARY KEY, symbol text NOT NULL, price numeric, note text)")
            let count = 100_000
            let started = ContinuousClock.now
            let stored = try connection.copyIn("COPY \(schema).ticks (id, symbol, price, note) FROM STDIN") { writer in
                for id in 0..<count {
                    try writer.writeField(String(id))
                    try writer.writeField("SYM\(id % 500)")
                    try writer.writeField(id % 7 == 0 ? nil : "\(id).25")
                    try writer.writeField(id % 1000 == 0 ? "tab\there\\ and\nnewline" : "n")
                    try writer.endRow()
                }
            }
            let elapsed = ContinuousClock.now - started
            print("COPY IN \(count) rows in \(elapsed)")
            #expect(stored == count)
            let check = try connection.query("""
                SELECT count(*), sum(id), count(price), sum(price), sum(length(symbol)),
                       count(*) FILTER (WHERE note = E'tab\\there\\\\ and\\nnewline')
                FROM \(schema).ticks
                """)
            let expectedPrices = (0..<count).filter { $0 % 7 != 0 }
            let expectedSymbolLength = (0..<count).reduce(0) { $0 + "SYM\($1 % 500)".utf8.count }
            #expect(check.value(0, 0) == String(count))
            #expect(check.value(0, 1) == String(count * (count - 1) / 2))
            #expect(check.value(0, 2) == String(expectedPrices.count))
            let cents = expectedPrices.reduce(0) { $0 + $1 * 100 + 25 }
            #expect(check.value(0, 3) == "\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100)")
            #expect(check.value(0, 4) == String(expectedSymbolLength))
            #expect(check.value(0, 5) == String(count / 1000))
        }
    }

    @Test("a malformed COPY row gives copyFailed with the server's message and SQLSTATE; the connection stays usable")
    func copyInMalformedRow() throws {
        try withSchema { connection, schema in
            try connection.execute("CREATE TABLE \(schema).t (id int, name text)")
            let error = try #require(throws: PostgresError.self) {
                try connection.copyIn("COPY \(schema).t FROM STDIN") { writer in
                    for id in 0..<5_000 { try writer.writeRow([String(id), "ok"]) }
                    try writer.write("not-a-number\tbad\n")
                    for id in 5_000..<10_000 { try writer.writeRow([String(id), "ok"]) }
                }
            }
            #expect(error.code == .copyFailed)
            #expect(error.sqlState == "22P02")
            #expect(error.message.contains("not-a-number"))
            #expect(try connection.query("SELECT count(*) FROM \(schema).t").value(0, 0) == "0")
            #expect(try connection.copyIn("COPY \(schema).t FROM STDIN") { try $0.writeRow(["1", "after"]) } == 1)
        }
    }

    @Test("an error thrown by the COPY body aborts the COPY and is rethrown as is")
    func copyInBodyThrows() throws {
        struct Stop: Error {}
        try withSchema { connection, schema in
            try connection.execute("CREATE TABLE \(schema).t (id int)")
            #expect(throws: Stop.self) {
                try connection.copyIn("COPY \(schema).t FROM STDIN") { writer in
                    try writer.writeRow(["1"])
                    throw Stop()
                }
            }
            #expect(try connection.query("SELECT count(*) FROM \(schema).t").value(0, 0) == "0")
            let wrongStatement = try #require(throws: PostgresError.self) { try connection.copyIn("SELECT 1") { _ in } }
            #expect(wrongStatement.code == .invalidArgument)
            let missingTable = try #require(throws: PostgresError.self) {
                try connection.copyIn("COPY \(schema).nope FROM STDIN") { _ in }
            }
            #expect(missingTable.sqlState == "42P01")
        }
    }

    @Test("COPY OUT streams back exactly what COPY IN stored")
    func copyOutRoundTrip() throws {
        try withSchema { connection, schema in
            try connection.execute("CREATE TABLE \(schema).t (id int PRIMARY KEY, name text)")
            let rows: [[String?]] = (0..<2_000).map { [String($0), $0 % 3 == 0 ? nil : "név \($0)\twith\\escapes\r\n"] }
            try connection.copyIn("COPY \(schema).t FROM STDIN") { writer in
                for row in rows { try writer.writeRow(row) }
            }
            var received: [UInt8] = []
            var chunks = 0
            let copied = try connection.copyOut("COPY (SELECT id, name FROM \(schema).t ORDER BY id) TO STDOUT") { bytes in
                received.append(contentsOf: bytes)
                chunks += 1
            }
            #expect(copied == rows.count)
            #expect(chunks == rows.count, "one callback per row")
            let expected = rows.map { row in
                row.map { field in
                    field.map {
                        $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\t", with: "\\t")
                            .replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
                    } ?? "\\N"
                }.joined(separator: "\t") + "\n"
            }.joined()
            #expect(String(decoding: received, as: UTF8.self) == expected)

            struct Enough: Error {}
            #expect(throws: Enough.self) {
                try connection.copyOut("COPY \(schema).t TO STDOUT") { _ in throw Enough() }
            }
            #expect(try connection.query("SELECT count(*) FROM \(schema).t").value(0, 0) == String(rows.count))
        }
    }

    @Test("a pipeline runs many statements in one round trip and returns results in order")
    func pipeline() throws {
        try withSchema { connection, schema in
            try connection.execute("CREATE TABLE \(schema).t (id int PRIMARY KEY, name text)")
            var statements = (0..<1_000).map {
                PostgresStatement("INSERT INTO \(schema).t VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = excluded.name", [String($0), "n\($0)"])
            }
            statements.append(PostgresStatement("SELECT count(*), max(name) FROM \(schema).t WHERE id >= $1", ["0"]))
            let results = try connection.pipeline(statements)
            #expect(results.count == statements.count)
            #expect(results.prefix(1_000).allSatisfy { $0.affectedRows == 1 })
            #expect(results.last?.value(0, 0) == "1000")
            #expect(results.last?.value(0, 1) == "n999")
            #expect(try connection.pipeline([]).isEmpty)
        }
    }

    @Test("prepared statements are parsed once per session, survive a rolled-back transaction, follow a recreated table and a reset, and fail like any other")
    func preparedPipeline() throws {
        try withSchema { connection, schema in
            try connection.execute("CREATE TABLE \(schema).t (id int PRIMARY KEY, name text)")
            let insert = "INSERT INTO \(schema).t (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = excluded.name"
            let count = "SELECT count(*), max(name) FROM \(schema).t"
            func run(_ from: Int) throws -> [PostgresResult] {
                try connection.pipeline([
                    PostgresStatement(insert, [String(from), "a\(from)"], prepared: true),
                    PostgresStatement(insert, [String(from + 1), "b\(from)"], prepared: true),
                    PostgresStatement(count, prepared: true),
                ])
            }
            func prepared() throws -> [String?] {
                try connection.query("SELECT statement FROM pg_prepared_statements ORDER BY name").rows.map { $0[0] }
            }
            #expect(try run(0).last?.value(0, 0) == "2")
            #expect(try prepared() == [insert, count], "one named statement per SQL, made in the pipeline that first ran it")
            // Named statements outlive a rolled-back transaction, and run again in the next.
            struct Undo: Error {}
            #expect(throws: Undo.self) {
                try connection.withTransaction { _ in
                    #expect(try run(10).last?.value(0, 0) == "4")
                    throw Undo()
                }
            }
            #expect(try run(20).last?.value(0, 0) == "4")
            #expect(try prepared().count == 2)
            // A table dropped and made again with another shape: the server re-parses.
            try connection.execute("DROP TABLE \(schema).t; CREATE TABLE \(schema).t (id bigint PRIMARY KEY, extra int, name text)")
            let again = try run(30)
            #expect(again.last?.value(0, 0) == "2")
            #expect(again.last?.value(0, 1) == "b30")
            // A failing prepared statement fails its pipeline; a statement whose parse failed
            // is not remembered and fails again when asked for again.
            let duplicate = try #require(throws: PostgresError.self) {
                try connection.pipeline([PostgresStatement("INSERT INTO \(schema).t (id, name) VALUES ($1, 'x')", ["1"], prepared: true)] + [
                    PostgresStatement("INSERT INTO \(schema).t (id, name) VALUES ($1, 'x')", ["1"], prepared: true),
                ])
            }
            #expect(duplicate.sqlState == "23505")
            #expect(duplicate.message.contains("statement 2 of 2"))
            for _ in 0..<2 {
                let missing = try #require(throws: PostgresError.self) {
                    try connection.pipeline([PostgresStatement("SELECT nope FROM \(schema).t", prepared: true)])
                }
                #expect(missing.sqlState == "42703")
                #expect(missing.message.contains("statement 1 of 1 (prepare)"))
            }
            #expect(try prepared().count == 3)
            // A new session holds none of them: they are made again.
            try connection.reset()
            #expect(try prepared().isEmpty)
            #expect(try run(40).last?.value(0, 0) == "4")
            #expect(try prepared().count == 2)
        }
    }

    @Test("a transaction can begin in a pipeline: its results come without BEGIN's, a failure among them or in the body rolls it all back")
    func pipelinedTransaction() throws {
        try withSchema { connection, schema in
            try connection.execute("CREATE TABLE \(schema).t (id int PRIMARY KEY)")
            let insert = { (id: Int) in PostgresStatement("INSERT INTO \(schema).t VALUES ($1)", [String(id)], prepared: true) }
            let count = { try connection.query("SELECT count(*) FROM \(schema).t").value(0, 0) }
            let (affected, inside) = try connection.withTransaction(pipelining: [insert(1), insert(2)]) { connection, results throws -> ([Int], String?) in
                (results.map(\.affectedRows), try connection.query("SELECT count(*) FROM \(schema).t").value(0, 0))
            }
            #expect(affected == [1, 1])
            #expect(inside == "2", "inside the transaction")
            #expect(try count() == "2")
            // A failing statement among the first: nothing of them stays, the body never runs.
            let duplicate = try #require(throws: PostgresError.self) {
                try connection.withTransaction(pipelining: [insert(3), insert(1)]) { _, _ in Issue.record("the body ran") }
            }
            #expect(duplicate.sqlState == "23505")
            #expect(try count() == "2")
            // The body fails: the pipelined statements are rolled back with it.
            struct Undo: Error {}
            #expect(throws: Undo.self) {
                try connection.withTransaction(pipelining: [insert(4)]) { _, _ in throw Undo() }
            }
            #expect(try count() == "2")
            #expect(try connection.query("SELECT 1").value(0, 0) == "1", "the connection is idle and usable")
        }
    }

    @Test("a failing statement fails the pipeline as a unit, naming the statement; the connection stays usable")
    func pipelineFailure() throws {
        try withSchema { connection, schema in
            try connection.execute("CREATE TABLE \(schema).t (id int PRIMARY KEY)")
            let error = try #require(throws: PostgresError.self) {
                try connection.pipeline([
                    PostgresStatement("INSERT INTO \(schema).t VALUES (1)"),
                    PostgresStatement("INSERT INTO \(schema).t VALUES (1)"),
                    PostgresStatement("INSERT INTO \(schema).t VALUES (2)"),
                ])
            }
            #expect(error.code == .queryFailed)
            #expect(error.sqlState == "23505")
            #expect(error.message.contains("statement 2 of 3"))
            #expect(try connection.query("SELECT count(*) FROM \(schema).t").value(0, 0) == "0")

            let nul = try #require(throws: PostgresError.self) {
                try connection.pipeline([
                    PostgresStatement("INSERT INTO \(schema).t VALUES (7)"),
                    PostgresStatement("SELECT $1::text", ["a\0"]),
                ])
            }
            #expect(nul.code == .invalidArgument)
            #expect(try connection.pipeline([PostgresStatement("SELECT count(*) FROM \(schema).t")]).first?.value(0, 0) == "0")
        }
    }
}

@Suite("PostgreSQL failures", .onTestThreads, .serialized, .enabled(if: TestServices.hasPostgres), .timeLimit(.minutes(5)))
struct PostgresFailureTests {
    @Test("a closed port fails with connectionFailed naming host:port and the refusal")
    func closedPort() throws {
        let port = try closedLocalPort()
        let error = try #require(throws: PostgresError.self) {
            try PostgresConnection("postgresql://tickfold:Secret-\(port)@127.0.0.1:\(port)/tickfold?connect_timeout=5")
        }
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("127.0.0.1:\(port)"))
        #expect(error.message.lowercased().contains("connection refused"))
        #expect(!error.description.contains("Secret-\(port)"))
    }

    @Test("a wrong password fails with authenticationFailed and never shows the password")
    func wrongPassword() throws {
        let password = "Wr0ng-\(TestServices.uniqueName("pw"))"
        let uri = try conninfo(password: password)
        let error = try #require(throws: PostgresError.self) { try PostgresConnection(uri) }
        #expect(error.code == .authenticationFailed)
        #expect(error.message.contains("password authentication failed"))
        #expect(!error.description.contains(password))

        let port = try #require(URLComponents(string: uri)?.port)
        let keyValue = try #require(throws: PostgresError.self) {
            try PostgresConnection("host=127.0.0.1 port=\(port) dbname=tickfold user=tickfold password='\(password)'")
        }
        #expect(keyValue.code == .authenticationFailed)
        #expect(!keyValue.description.contains(password))
    }

    @Test("a malformed connection string fails without echoing the password")
    func malformedConninfo() throws {
        let error = try #require(throws: PostgresError.self) {
            try PostgresConnection("postgresql://tickfold:Hush%2Dhush@127.0.0.1:notaport/tickfold")
        }
        #expect(error.code == .invalidArgument, "a port that is no number is a setting to fix, not an outage")
        #expect(!error.description.contains("Hush"))
        let secrets = ConnectionSecrets(conninfo: "user=a password = 'p w' host=x")
        #expect(secrets.redact("saw p w here") == "saw ******** here")
    }

    @Test("a backend terminated by the server gives connectionLost, and reset() recovers")
    func terminatedBackend() throws {
        let uri = try #require(TestServices.postgres)
        let victim = try PostgresConnection(uri)
        let killer = try PostgresConnection(uri)
        let pid = try #require(victim.query("SELECT pg_backend_pid()").value(0, 0))
        #expect(try killer.query("SELECT pg_terminate_backend($1::int, 5000)", [pid]).value(0, 0) == "t")

        let lost = try #require(throws: PostgresError.self) { try victim.query("SELECT 1") }
        #expect(lost.code == .connectionLost)
        #expect(lost.message.contains(victim.endpoint))
        #expect(!victim.isHealthy)

        try victim.reset()
        #expect(victim.isHealthy)
        #expect(try victim.query("SELECT 'back'").value(0, 0) == "back")
        #expect(try victim.query("SELECT pg_backend_pid()").value(0, 0) != pid)
    }
}
