import Events
import Redis
import Replay
import Testing
import TickfoldTesting

@Suite("Audit over Redis", .onTestThreads, .serialized, .timeLimit(.minutes(5)))
struct RedisAuditTests {
    static let families = ["latest:crypto:*", "latest:stocks:sp500:*", "sp500_market_data"]

    /// The same keys under both prefixes, written in opposite orders, hash fields in
    /// different orders and with different operational fields.
    func fill(_ pair: NamespacePair, count: Int) throws {
        var commandsA: [[any RedisArgument]] = []
        var commandsB: [[any RedisArgument]] = []
        for index in 0..<count {
            let price = "\(100 + index).25", seq = String(index + 1), id = String(repeating: "c", count: 60) + String(format: "%04d", index)
            commandsA.append(["HSET", pair.a + "latest:crypto:C\(index)", "price", price, "_seq", seq, "_event_id", id, "_applied_at", "1"])
            commandsB.append(["HSET", pair.b + "latest:crypto:C\(index)", "_applied_at", "2", "_event_id", id, "_seq", seq, "price", price])
            commandsA.append(["SET", pair.a + "latest:stocks:sp500:S\(index)", #"{"close":"\#(price)","seq":\#(seq)}"#])
            commandsB.append(["SET", pair.b + "latest:stocks:sp500:S\(index)", #"{"close":"\#(price)","seq":\#(seq)}"#])
        }
        commandsA.append(["HSET", pair.a + "sp500_market_data", "AAPL", "1", "MSFT", "2"])
        commandsB.append(["HSET", pair.b + "sp500_market_data", "MSFT", "2", "AAPL", "1"])
        _ = try pair.connection.pipeline(commandsA)
        _ = try pair.connection.pipeline(commandsB.reversed())
    }

    @Test("two namespaces holding the same keys digest and compare equal", .enabled(if: TestServices.hasRedis))
    func identicalNamespaces() throws {
        let pair = try NamespacePair("same")
        try fill(pair, count: 3_000)
        let options = AuditOptions(families: Self.families)
        let digestA = try Audit.digest(pair.source(pair.a), options: options)
        let digestB = try Audit.digest(pair.source(pair.b), options: options)
        #expect(digestA.families.map(\.keys) == [3_000, 3_000, 1])
        #expect(digestA.families.map(\.root) == digestB.families.map(\.root))
        #expect(digestA.families.first?.maxSeq == 3_000)
        #expect(digestA.families[1].maxSeq == 3_000)
        #expect(digestA.maxSeq == 3_000)
        let report = try Audit.diff(pair.source(pair.a), pair.source(pair.b), options: options)
        #expect(report.isEqual)
        #expect(report.rowsFetched == 0)
    }

    @Test("one changed hash field: exactly that key is reported, with both event ids", .enabled(if: TestServices.hasRedis))
    func changedField() throws {
        let pair = try NamespacePair("changed")
        try fill(pair, count: 3_000)
        try pair.connection.command("HSET", pair.b + "latest:crypto:C17", "price", "0.01", "_event_id", String(repeating: "d", count: 64))
        try pair.connection.command("SET", pair.b + "latest:crypto:EXTRA", "x")
        let report = try Audit.diff(pair.source(pair.a), pair.source(pair.b), options: AuditOptions(families: Self.families))
        #expect(!report.isEqual)
        let crypto = try #require(report.comparisons.first { $0.name == "redis:latest:crypto:*" })
        #expect(crypto.status == .different)
        #expect(crypto.differences.map(\.key) == ["latest:crypto:C17", "latest:crypto:EXTRA"])
        let changed = try #require(crypto.differences.first)
        #expect(changed.kind == .changed)
        #expect(changed.columns == ["_event_id", "price"])
        #expect(changed.a?.eventID == String(repeating: "c", count: 60) + "0017")
        #expect(changed.b?.eventID == String(repeating: "d", count: 64))
        #expect(changed.a?.seq == "18")
        #expect(crypto.differences.last?.kind == .onlyInB)
        #expect(crypto.rowsFetched < 30)
        #expect(report.comparisons.filter { $0.status == .equal }.count == 2)
    }

    @Test("latest:* JSON strings: a changed member is named with both writers' _seq and _event_id, and trace finds the writer in the log", .enabled(if: TestServices.hasRedis))
    func latestJSONStrings() throws {
        let pair = try NamespacePair("json")
        let directory = try TemporaryDirectory("audit-redis-trace")
        let log = try EventLog(directory: directory.file("log"), options: EventLogOptions(durability: .noSync))
        let event = try Event.make(
            type: "crypto.ticker", version: 1, source: "bithumb", subject: "K7",
            occurredAt: Timestamp(millisecondsSinceEpoch: 1_741_982_400_000), payload: ["price": "2.00"])
        _ = try log.appendBlocking(events: [event])
        let idA = String(repeating: "a", count: 64)
        func value(_ id: String, _ seq: Int, _ price: String) -> String {
            #"{"_event_id":"\#(id)","_seq":\#(seq),"price":"\#(price)","timestamp":1741982400000}"#
        }
        for index in 0..<100 {
            try pair.connection.command("SET", pair.a + "latest:crypto:K\(index)", value(idA, index + 1, "1.00"))
            try pair.connection.command("SET", pair.b + "latest:crypto:K\(index)", value(idA, index + 1, "1.00"))
        }
        try pair.connection.command("SET", pair.b + "latest:crypto:K7", value(event.id.hex, 1, "2.00"))
        let options = AuditOptions(families: ["latest:crypto:*"])
        #expect(try Audit.digest(pair.source(pair.a), options: options).families.first?.maxSeq == 100)
        let report = try Audit.diff(pair.source(pair.a), pair.source(pair.b), options: options)
        let crypto = try #require(report.comparisons.first)
        #expect(crypto.differences.map(\.key) == ["latest:crypto:K7"])
        let changed = try #require(crypto.differences.first)
        #expect(changed.columns == ["_event_id", "_seq", "price"])
        #expect(changed.a?.seq == "8" && changed.b?.seq == "1")
        #expect(changed.a?.eventID == idA && changed.b?.eventID == event.id.hex)
        #expect(changed.b?.values["timestamp"] == "1741982400000")

        let trace = try Audit.trace(pair.source(pair.b), table: "latest:crypto:K7", key: [], log: log)
        #expect(trace.rowSeq == "1" && trace.rowEventID == event.id.hex)
        #expect(trace.events.map(\.seq) == [1])
        #expect(!trace.notes.contains { $0.contains("records seq") })
    }

    @Test("a prefix with glob characters matches only itself; an unreachable server is an error", .enabled(if: TestServices.hasRedis))
    func globPrefixAndErrors() throws {
        let pair = try NamespacePair("glob")
        let tricky = pair.a + "[x]*"
        try pair.connection.command("SET", tricky + "latest:crypto:A", "1")
        try pair.connection.command("SET", pair.a + "xlatest:crypto:B", "1")
        let digest = try Audit.digest(
            AuditSource(target: AuditTarget(redis: .init(prefix: tricky)), postgres: nil, redis: pair.connection),
            options: AuditOptions(families: ["latest:crypto:*"]))
        #expect(digest.families.first?.keys == 1)
        do {
            _ = try AuditSource.open(AuditTarget(redis: .init(url: "redis://127.0.0.1:1/0", prefix: "")), defaultPostgres: "", defaultRedis: "")
            Issue.record("connecting to a closed port succeeded")
        } catch {
            #expect(error.code == .redis)
            #expect(error.description.contains("127.0.0.1:1"))
        }
    }
}
