import Events
import Foundation
import Postgres
import Replay
import Testing
import TickfoldTesting

@Suite("Audit trace", .onTestThreads, .serialized, .timeLimit(.minutes(5)))
struct AuditTraceTests {
    static func bar(_ date: String, close: String, subject: String = "SPY", day: Int64) throws -> Event {
        try Event.make(
            type: "bar.daily", version: 1, source: "yahoo", subject: subject,
            occurredAt: Timestamp(millisecondsSinceEpoch: 1_704_153_600_000 + day * 86_400_000),
            payload: ["date": .string(date), "close": .string(close)])
    }

    @Test("trace names the row's last writer from the log and, with history, earlier events of that row",
          .enabled(if: TestServices.hasPostgres))
    func traceRow() throws {
        let directory = try TemporaryDirectory("audit-trace")
        let log = try EventLog(directory: directory.file("log"), options: EventLogOptions(durability: .noSync))
        let first = try Self.bar("2024-01-02", close: "470.10", day: 0)
        let otherDay = try Self.bar("2024-01-03", close: "471.00", day: 1)
        let otherSymbol = try Self.bar("2024-01-02", close: "401.00", subject: "QQQ", day: 0)
        let revised = try Self.bar("2024-01-02", close: "470.15", day: 0)
        let outcomes = try log.appendBlocking(try [first, otherDay, otherSymbol, revised].map {
            try EventLog.record(for: $0)
        })
        #expect(outcomes.map(\.seq) == [1, 2, 3, 4])

        let pair = try SchemaPair("trace")
        try pair.connection.execute("""
            CREATE TABLE \(pair.a).bars (symbol text, date date, close numeric, seq bigint, event_id text, PRIMARY KEY (symbol, date));
            INSERT INTO \(pair.a).bars VALUES ('SPY', '2024-01-02', 470.15, 4, '\(revised.id.hex)'),
                                              ('QQQ', '2024-01-02', 401.00, 99, '\(otherSymbol.id.hex)'),
                                              ('DIA', '2024-01-02', 1, 5, repeat('e', 64));
            """)
        let source = pair.source(pair.a)
        let report = try Audit.trace(source, table: "bars", key: ["SPY", "2024-01-02"], log: log, history: true)
        #expect(report.rowEventID == revised.id.hex)
        #expect(report.events.map(\.seq) == [1, 4])
        #expect(report.events.map(\.role) == [.earlierCandidate, .lastWriter])
        let last = try #require(report.events.last)
        #expect(last.id == revised.id.hex)
        #expect(last.type == "bar.daily")
        #expect(last.source == "yahoo")
        #expect(last.occurredAt == "2024-01-02T00:00:00.000Z")
        #expect(report.notes == ["history matched by key values in the payload: the last writer's fold does not write this row itself"])
        #expect(report.text().contains("last writer"))

        let mismatch = try Audit.trace(source, table: "bars", key: ["QQQ", "2024-01-02"], log: log)
        #expect(mismatch.events.map(\.seq) == [3])
        #expect(mismatch.notes.contains { $0.contains("records seq 99") })

        #expect(throws: AuditError.self) { try Audit.trace(source, table: "bars", key: ["DIA", "2024-01-02"], log: log) }
        #expect(throws: AuditError.self) { try Audit.trace(source, table: "bars", key: ["NONE", "2024-01-02"], log: log) }
        #expect(throws: AuditError.self) { try Audit.trace(source, table: "bars", key: ["SPY"], log: log) }
    }
}
