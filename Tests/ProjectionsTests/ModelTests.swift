import Foundation
@testable import Projections
import Testing
import TickfoldTesting

@Suite("projection model", .onTestThreads)
struct ModelTests {
    @Test("the standard registry lists collected v3 and its tables")
    func registry() throws {
        let registry = ProjectionRegistry.standard
        let collected = try #require(registry.projection(named: "collected"))
        #expect(collected.version == 4)
        #expect(collected.label == "collected@v4")
        #expect(registry.tables.map(\.name) == CollectedTables.all.map(\.name))
        #expect(Set(registry.tables.map(\.name)).count == registry.tables.count)
        #expect(try registry.select(["collected"]).map(\.name) == ["collected"])
        #expect(throws: ProjectionError.self) { try registry.select(["collected", "nope"]) }
    }

    @Test("array literals quote every element and escape quotes and backslashes")
    func arrays() {
        #expect(ColumnText.array([]) == "{}")
        #expect(ColumnText.array(["a", "b c", "d,e", #"q"uote"#, #"back\slash"#, "{}"]) == #"{"a","b c","d,e","q\"uote","back\\slash","{}"}"#)
        #expect(ColumnText.nullableArray(["7", nil, "NULL"]) == #"{"7",NULL,"NULL"}"#)
    }

    @Test("retry delays double up to the cap")
    func backoff() {
        let policy = RetryPolicy(attempts: 6, initialDelay: .milliseconds(50), maxDelay: .milliseconds(300))
        #expect((1...5).map { policy.delay(afterFailure: $0) } == [.milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(300), .milliseconds(300)])
    }

    @Test("an unbounded policy allows every attempt until interrupted; an interruption ends a wait at once")
    func unboundedRetry() {
        let interruption = RetryInterruption()
        let policy = RetryPolicy.unbounded(interruption: interruption)
        #expect(policy.allowsAttempt(afterFailure: 1) && policy.allowsAttempt(afterFailure: 1_000_000))
        #expect(policy.delay(afterFailure: 1_000_000) == .seconds(10))
        #expect(!RetryPolicy.standard.allowsAttempt(afterFailure: 10) && RetryPolicy.standard.allowsAttempt(afterFailure: 9))
        let waiter = Thread { policy.wait(afterFailure: 100) }  // 10 s unless interrupted
        let started = ContinuousClock.now
        waiter.start()
        Thread.sleep(forTimeInterval: 0.1)
        interruption.interrupt()
        while !waiter.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        #expect(ContinuousClock.now - started < .seconds(8), "the wait did not end on the interruption")
        #expect(!policy.allowsAttempt(afterFailure: 1))
    }

    @Test("embedded migrations are exactly schemas/postgres/NNN_name.sql")
    func embeddedMigrations() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../schemas/postgres")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == Migration.all.map { $0.fileName + ".sql" }, "run schemas/postgres/embed.sh")
        for migration in Migration.all {
            let text = try String(contentsOf: directory.appendingPathComponent(migration.fileName + ".sql"), encoding: .utf8)
            #expect(text == migration.sql + "\n", "\(migration.fileName).sql differs from the embedded copy: run schemas/postgres/embed.sh")
        }
        #expect(Migration.latestVersion == Migration.all.count)
    }

    @Test("table statements merge by natural key and let only a higher seq overwrite")
    func statements() throws {
        let statements = try TableStatements(CollectedTables.trades, schema: "\"s\"")
        #expect(statements.copy == #"COPY pg_temp."stage_collected_trades" ("symbol", "timestamp_ms", "price", "size", "conditions", "seq", "event_id") FROM STDIN"#)
        #expect(statements.merge.contains(#"SELECT DISTINCT ON ("symbol", "timestamp_ms")"#))
        #expect(statements.merge.contains(#"ORDER BY "symbol", "timestamp_ms", seq DESC"#))
        #expect(statements.merge.hasSuffix(#"ON CONFLICT ("symbol", "timestamp_ms") DO UPDATE SET "price" = EXCLUDED."price", "size" = EXCLUDED."size", "conditions" = EXCLUDED."conditions", "seq" = EXCLUDED."seq", "event_id" = EXCLUDED."event_id" WHERE t.seq < EXCLUDED.seq"#))
    }
}
