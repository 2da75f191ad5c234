import Events
import Foundation
import Projections
import Testing
import TickfoldTesting

@Suite("collected projection folds", .onTestThreads)
struct CollectedFoldTests {
    let projection = CollectedProjection()

    func fold(_ events: [Event]) throws -> ProjectionChanges {
        try ProjectionEngine.fold(events, projections: [projection])
    }

    func rows(_ changes: ProjectionChanges, _ table: TableSchema) -> [[String?]] {
        changes.rows.filter { $0.table == table.name }.map(\.values)
    }

    @Test("every projected family folds to its table with the natural key first")
    func everyFamily() throws {
        let events = try Samples.everyFamily()
        let changes = try fold(events)
        #expect(changes.rejects.isEmpty)
        #expect(rows(changes, CollectedTables.dailyBars) == [["SPY", "2025-03-13", "560.10", "565.00", "558.25", "551.42", "551.42", "1000000", "yahoo"]])
        #expect(rows(changes, CollectedTables.metaETF) == [["SPY", "SPDR S&P 500 ETF Trust", "benchmark", nil, "Tracks the S&P 500", "SPDR", "0.0945", "570000000000", "1993-01-22"]])
        #expect(rows(changes, CollectedTables.etfHoldings) == [
            ["XLK", "AAPL", "2025-03-13", "AAPL", "Apple Inc.", "14.52", "1", "1000000", "213000000.50"],
            ["XLK", "Cash & Other", "2025-03-13", nil, "Cash & Other", "0.10", "70", nil, nil],
        ])
        #expect(rows(changes, CollectedTables.indexConstituents) == [["sp500", "AAPL", "Apple Inc.", "Information Technology", "Technology Hardware", "Cupertino, California", "1982-11-30", "0000320193", "1977"]])
        #expect(rows(changes, CollectedTables.companyOverview) == [["AAPL", "Apple Inc", "Common Stock", "NASDAQ", "USD", "USA", "TECHNOLOGY", "ELECTRONIC COMPUTERS", nil, "3200000000000", nil, "33.10", nil, nil, "1.20", nil, nil, "2024-12-31"]])
        #expect(rows(changes, CollectedTables.balanceSheet) == [["AAPL", "annual", "2024-09-30", "USD", "364980000000", nil, nil, "308030000000", nil, nil, nil, nil, nil, nil]])
        #expect(rows(changes, CollectedTables.earningsCalendar) == [["AAPL", "2025-05-01", "Apple Inc", "2025-03-31", "1.62", "USD"]])
        #expect(rows(changes, CollectedTables.marketMovers) == [["gainer", "2025-03-14", "ABCD", "1", "12.34", "3.10", "33.5498", "4500000"]])
        #expect(rows(changes, CollectedTables.news) == [[
            "https://www.example.com/markets/apple-beats", "https://www.example.com/markets/apple-beats?utm=x", "Apple beats estimates",
            "Revenue rose.", "Benzinga", "2025-03-14T12:00:00.000Z", #"{"Jane Doe","O\"Neil, Pat"}"#, "earnings", nil, "0.31",
            "Somewhat-Bullish", #"{"Earnings"}"#, #"{"0.99"}"#,
        ]])
        // A ticker listed twice keeps its first entry.
        #expect(rows(changes, CollectedTables.newsTickers) == [
            ["https://www.example.com/markets/apple-beats", "AAPL", "0.95", "0.40", "Bullish"],
            ["https://www.example.com/markets/apple-beats", "MSFT", "0.10", nil, nil],
        ])
        #expect(rows(changes, CollectedTables.socialPosts) == [["truthsocial", "114000000000000001", "107780257626128497", "realDonaldTrump", "Tariffs!\tBig day.", "2025-03-14T13:00:00.000Z", "https://truthsocial.com/@realDonaldTrump/114000000000000001", "12000", "3000", "800", nil, nil, nil]])
        #expect(rows(changes, CollectedTables.socialProfiles) == [["x", "44196397", "elonmusk", "Elon Musk", nil, "200000000", "900", nil, "t", "2009-06-02T20:12:29.000Z"]])
        #expect(rows(changes, CollectedTables.cryptoListings) == [["bithumb", "KRW-BTC", "BTC", "KRW-BTC", nil, nil, "비트코인", "Bitcoin", nil]])
        #expect(rows(changes, CollectedTables.cryptoMarkets) == [["bitcoin", "usd", "btc", "Bitcoin", "83950.12", "1660000000000", "1", "25000000000", nil, nil, nil, nil, nil, nil, nil, "2025-03-14T20:00:00.000Z"]])
        #expect(rows(changes, CollectedTables.cryptoTickers) == [["bithumb", "KRW-BTC", "BTC", "KRW", "122500000", nil, nil, nil, nil, nil, nil, "-1500000", "-0.0121", "1741982400000"]])
        #expect(rows(changes, CollectedTables.macroObservations) == [["CPIAUCSL", "2025-02-01", "319.775", "319.775"], ["DGS10", "2025-02-17", nil, "."]])
        #expect(rows(changes, CollectedTables.trades) == [["AAPL", "1741982399123", "213.49", "100", #"{"1","12"}"#]])
        // Every row carries its event's seq and id.
        for row in changes.rows {
            let event = try #require(events.first { $0.id == row.eventID })
            #expect(event.seq == row.seq)
        }
        for table in CollectedTables.all {
            for row in changes.rows where row.table == table.name { #expect(row.values.count == table.columns.count) }
        }
    }

    @Test("trades, movers and crypto tickers write their latest:* keys with the event's seq")
    func latestKeys() throws {
        let events = try Samples.everyFamily()
        let keys = try fold(events).keys
        #expect(keys.map(\.key) == ["latest:stocks:topgainers:ABCD", "latest:crypto:KRW-BTC", "latest:stocks:sp500:AAPL"])
        let trade = try #require(keys.last)
        #expect(trade.seq == events.last?.seq)
        #expect(trade.eventID == events.last?.id)
        let tradeID = try #require(events.last?.id.hex)
        let tradeSeq = try #require(events.last?.seq)
        #expect(String(decoding: trade.value, as: UTF8.self)
            == #"{"_event_id":"\#(tradeID)","_seq":\#(tradeSeq),"price":"213.49","source":"finnhub","symbol":"AAPL","timestamp":1741982399123,"volume":"100"}"#)
        let crypto = try #require(try JSONValue.parse(keys[1].value).objectValue)
        #expect(crypto["change_rate"] == "-0.0121")
        #expect(crypto["timestamp"] == 1_741_982_400_000, "millisecond timestamps are JSON numbers")
        #expect(crypto["volume"] == nil, "absent values are left out, not written empty")
        let mover = try #require(try JSONValue.parse(keys[0].value).objectValue)
        #expect(mover["rank"] == 1 && mover["volume"] == 4_500_000, "the payload's integers are JSON numbers")
        #expect(mover["change_percent"] == "33.5498", "decimals stay strings")
        for key in keys {
            #expect(try CanonicalJSON.canonicalize(key.value) == key.value, "\(key.key) is canonical JSON")
        }
        #expect(CollectedKeys.latestCrypto(venue: "coingecko", market: "BTC/USD") == "latest:crypto:coingecko:BTC/USD")
    }

    @Test("a stored bar.daily v1 is upcast: no adjusted close")
    func upcast() throws {
        let v1 = try Samples.logged(DailyBarV1(date: Samples.day("2020-01-02"), open: "1", high: "2", low: "0.5", close: "1.5", volume: 10), source: "yahoo", subject: "QQQ", seq: 7)
        #expect(try fold([v1]).rows.map(\.values) == [["QQQ", "2020-01-02", "1", "2", "0.5", "1.5", nil, "10", "yahoo"]])
    }

    @Test("Bithumb tickers of both endpoints share one row key and one latest:crypto key; v1's percent reads as a fraction")
    func bithumbEndpointsConverge() throws {
        let legacy = try Samples.logged(CryptoTickerV1(CryptoTicker(
            venue: .bithumb, market: "BTC_KRW", base: "BTC", quote: "KRW", lastPrice: "22336000", changeRate24h: "-1.38", timestampMs: 1_669_078_260_631
        )), source: "bithumb", subject: "BTC", seq: 3)
        let current = try Samples.logged(CryptoTicker(
            venue: .bithumb, market: "KRW-BTC", base: "BTC", quote: "KRW", lastPrice: "140500000", changeRate24h: "0.0036", timestampMs: 1_735_798_512_345
        ), source: "bithumb", subject: "BTC", seq: 4)
        let changes = try fold([legacy, current])
        let tickers = changes.rows.filter { $0.table == CollectedTables.cryptoTickers.name }
        #expect(tickers.map { Array($0.values.prefix(2)) } == [["bithumb", "KRW-BTC"], ["bithumb", "KRW-BTC"]], "one natural key for both")
        #expect(tickers.first { $0.seq == 3 }?.values[12] == "-0.0138")
        #expect(Set(changes.keys.map(\.key)) == ["latest:crypto:KRW-BTC"])
        let legacyKey = try #require(changes.keys.first { $0.seq == 3 })
        #expect(try JSONValue.parse(legacyKey.value).objectValue?["change_rate"] == "-0.0138")
    }

    @Test("poison events become rejects with stable reasons and write nothing")
    func poison() throws {
        let badClose = try Samples.raw(type: "bar.daily", version: 2, payload: [
            "date": "2025-03-13", "open": "1", "high": "1", "low": "1", "close": "1,5", "volume": 3,
        ], seq: 1)
        let unknownType = try Samples.raw(type: "bar.weekly", version: 1, payload: ["close": "1"], seq: 2)
        let futureVersion = try Samples.raw(type: "trade", version: 9, payload: ["price": "1"], seq: 3)
        let nul = try Samples.logged(SocialPost(platform: .x, postId: "1", authorId: "2", text: "bad\u{0}byte", createdAt: Samples.at("2025-01-01T00:00:00.000Z")), source: "x", subject: "someone", seq: 4)
        let good = try Samples.bar("SPY", "2025-03-13", close: "551.42", seq: 5)
        let changes = try fold([badClose, unknownType, futureVersion, nul, good])
        #expect(changes.rows.count == 1 && changes.rows[0].eventID == good.id, "the projection continues past poison")
        #expect(changes.rejects.map(\.eventID) == [badClose.id, unknownType.id, futureVersion.id, nul.id])
        #expect(changes.rejects.allSatisfy { $0.projection == "collected" })
        #expect(changes.rejects[0].reason == "bar.daily payload.close: expected a decimal string like \"123.45\", found \"1,5\"")
        #expect(changes.rejects[1].reason == "unknown event type \"bar.weekly\" (version 1)")
        #expect(changes.rejects[2].reason.contains("version 9"))
        #expect(changes.rejects[3].reason == "collected_social_posts.text would contain a NUL character, which PostgreSQL text cannot hold")
        #expect(changes.rejects.map(\.seq) == [1, 2, 3, 4])
        // The same event always yields the same reject.
        #expect(try fold([badClose, unknownType, futureVersion, nul]).rejects == changes.rejects)
    }

    @Test("catalogued types the layer does not collect are skipped silently")
    func ignored() throws {
        let split = try Samples.logged(StockSplit(date: Samples.day("2024-06-10"), numerator: "10", denominator: "1"), source: "yahoo", subject: "NVDA", seq: 1)
        let decision = try Samples.logged(StageDecision(stage: "trending_etfs", asOf: Samples.day("2025-03-14"), watermark: 10, decision: "trending"), source: "tickfold", subject: "trending_etfs", seq: 2)
        #expect(try fold([split, decision]).isEmpty)
    }

    @Test("folds are deterministic and per event: a batch folds to the concatenation of its events' folds")
    func determinism() throws {
        let events = try Samples.everyFamily()
        let once = try fold(events)
        let twice = try fold(events)
        #expect(once == twice)
        var concatenated = ProjectionChanges()
        for event in events {
            let single = try fold([event])
            concatenated.rows += single.rows
            concatenated.keys += single.keys
            concatenated.rejects += single.rejects
        }
        #expect(concatenated == once)
        // A decoded copy of each event (as read back from the log) folds the same.
        let decoded = try events.map { event -> Event in
            var copy = try Event.decode(try event.canonicalBytes())
            copy.seq = event.seq
            return copy
        }
        #expect(try fold(decoded) == once)
    }

    @Test("events without seq are refused before anything is folded")
    func missingSeq() throws {
        var event = try Samples.bar("SPY", "2025-03-13", close: "1", seq: 1)
        event.seq = nil
        #expect(throws: ProjectionError.self) { try ProjectionEngine.fold([event], projections: [projection]) }
    }

    @Test("fold files import neither Postgres nor Redis")
    func foldsArePure() throws {
        let folds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/Projections")
        for folder in ["Folds", "Model"] {
            let directory = folds.appendingPathComponent(folder)
            for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".swift") {
                let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                for forbidden in ["import Postgres", "import Redis", "import CLibPQ", "import CHiredis", "import Foundation", "Date()", ".random", "ProcessInfo"] {
                    #expect(!text.contains(forbidden), "\(folder)/\(file) contains \(forbidden)")
                }
            }
        }
    }
}
