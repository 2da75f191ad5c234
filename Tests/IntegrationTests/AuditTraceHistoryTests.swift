import Events
import Foundation
import Projections
import Replay
import Testing
import TickfoldTesting

@Suite("audit trace --history against projected rows and keys", .onTestThreads, .serialized, .timeLimit(.minutes(5)),
       .enabled(if: TestServices.hasPostgres && TestServices.hasRedis))
struct AuditTraceHistoryTests {
    @Test("earlier writers of a latest:* key and of a mover row (dated by occurredAt) are found by folding them, and only those")
    func foldedHistory() throws {
        let fixture = try ReplayFixture(label: "trace")
        defer { fixture.cleanUp() }
        func at(_ text: String) throws -> Timestamp { try Timestamp(canonical: text) }
        func mover(_ category: MoverCategory, rank: Int, _ time: String) throws -> Event {
            try Event.make(MarketMover(category: category, rank: rank, price: "12.34", changeAmount: "3.10", changePercent: "33.5498", volume: 4_500_000),
                           source: "alphavantage", subject: "ABCD", occurredAt: try at(time))
        }
        func ticker(_ payload: some EventPayload, _ time: String, subject: String = "BTC") throws -> Event {
            try Event.make(payload, source: "bithumb", subject: subject, occurredAt: try at(time))
        }
        let events = [
            try mover(.gainer, rank: 3, "2025-03-14T14:00:00.000Z"),                  // 1: the row, first
            try ticker(CryptoTickerV1(CryptoTicker(venue: .bithumb, market: "BTC_KRW", base: "BTC", quote: "KRW", lastPrice: "122400000",
                                                   changeRate24h: "-1.30", timestampMs: 1_741_982_340_000)), "2025-03-14T20:39:00.000Z"),  // 2: the key, via v1
            try mover(.loser, rank: 1, "2025-03-14T15:00:00.000Z"),                   // 3: same ticker and day, other category
            try mover(.gainer, rank: 1, "2025-03-15T14:00:00.000Z"),                  // 4: same category, other day
            try ticker(CryptoTicker(venue: .bithumb, market: "KRW-BTC", base: "BTC", quote: "KRW", lastPrice: "122500000", timestampMs: 1_741_982_400_000),
                       "2025-03-14T20:40:00.000Z"),                                   // 5: the key
            try ticker(CryptoTicker(venue: .coingecko, market: "upbit:BTC/KRW", base: "BTC", quote: "KRW", lastPrice: "1", timestampMs: 1_741_982_400_000),
                       "2025-03-14T20:40:00.000Z"),                                   // 6: same subject, another key
            try mover(.gainer, rank: 2, "2025-03-14T16:00:00.000Z"),                  // 7: the row, last
            try ticker(CryptoTicker(venue: .bithumb, market: "KRW-BTC", base: "BTC", quote: "KRW", lastPrice: "122600000", timestampMs: 1_741_982_460_000),
                       "2025-03-14T20:41:00.000Z"),                                   // 8: the key, last
        ]
        _ = try fixture.log.appendBlocking(events: events)
        try fixture.migrateLive()
        try fixture.project(try fixture.liveEngine())

        let pg = AuditSource(target: AuditTarget(postgres: .init(schema: fixture.schema)), postgres: fixture.admin, redis: nil)
        let row = try Audit.trace(pg, table: "collected_market_movers", key: ["gainer", "2025-03-14", "ABCD"], log: fixture.log, history: true)
        #expect(row.events.map(\.seq) == [1, 7])
        #expect(row.events.map(\.role) == [.earlierCandidate, .lastWriter])
        #expect(row.notes.isEmpty, "\(row.notes)")

        let redis = AuditSource(target: AuditTarget(redis: .init(prefix: try fixture.livePrefix())), postgres: nil, redis: fixture.redis)
        let key = try Audit.trace(redis, table: "latest:crypto:KRW-BTC", key: [], log: fixture.log, history: true)
        #expect(key.events.map(\.seq) == [2, 5, 8])
        #expect(key.rowSeq == "8")
    }
}
