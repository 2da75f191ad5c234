import Events
import Foundation
import Postgres
@testable import Projections
import Redis
import Testing
import TickfoldTesting

/// A migrated schema and a key namespace of its own on the shared servers, dropped afterwards.
private final class SinkFixture {
    let schema = TestServices.uniqueName("projtest")
    let namespace: String
    let conninfo: String
    let applicationName = TestServices.uniqueName("projsink")
    let admin: PostgresConnection
    let redis: RedisConnection?

    init(migrate: Bool = true) throws {
        namespace = schema + ":"
        let base = try #require(TestServices.postgres)
        conninfo = base + (base.contains("?") ? "&" : "?") + "application_name=\(applicationName)"
        admin = try PostgresConnection(base)
        try admin.execute("SET TimeZone = 'UTC'")
        redis = try TestServices.redis.map { try RedisConnection(url: $0) }
        if migrate { _ = try Migrator().migrate(admin, schema: schema) }
    }

    func engine(redis useRedis: Bool = true, retry: RetryPolicy = .standard, notifications: Bool = true, directCopyMinimumRows: Int = 2000, stagingMinimumRows: Int = 500) throws -> ProjectionEngine {
        let postgres = try PostgresSink(conninfo: conninfo, schema: schema, tables: CollectedTables.all, retry: retry, directCopyMinimumRows: directCopyMinimumRows, stagingMinimumRows: stagingMinimumRows)
        let redisSink = try useRedis ? TestServices.redis.map { try RedisSink(url: $0, namespace: namespace, notifications: notifications, retry: retry) } : nil
        return ProjectionEngine(projections: [CollectedProjection()], postgres: postgres, redis: redisSink)
    }

    /// Every table, the reading views and the rejects as ordered text, for comparisons.
    func dump() throws -> [String: String] {
        var out: [String: String] = [:]
        let relations = CollectedTables.all.map { ($0.name, $0.keyCount) } + [
            ("collected_daily_etf_ohlc", 2), ("collected_daily_stock_history", 2), ("collected_sp500_companies", 1),
            ("collected_news_ticker_sentiment", 2), ("collected_company_news", 2), ("projection_rejects", 2),
        ]
        for (name, keyCount) in relations {
            let order = (1...keyCount).map(String.init).joined(separator: ", ")
            var bytes: [UInt8] = []
            _ = try admin.copyOut("COPY (SELECT * FROM \(schema).\(name) ORDER BY \(order)) TO STDOUT") { bytes += $0 }
            out[name] = String(decoding: bytes, as: UTF8.self)
        }
        return out
    }

    /// Ends a bulk load as a replay does: derived fields go to the fixture's keys.
    func finish(_ engine: ProjectionEngine) throws {
        try engine.postgres.finishBulkLoad(derived: CollectedProjection().derivedHashes) { values in
            if let redis = engine.redis, !values.isEmpty { try redis.write(derived: values) }
        }
    }

    /// Every index of the schema's projected tables: name and definition, schema name removed.
    func indexes() throws -> [String] {
        try rows("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = ANY($2::text[]) ORDER BY 1",
                 [schema, "{" + CollectedTables.all.map(\.name).joined(separator: ",") + "}"]).map {
            "\($0[0] ?? "") \(($0[1] ?? "").replacingOccurrences(of: schema + ".", with: ""))"
        }
    }

    func rows(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        try admin.query(sql.replacingOccurrences(of: "$schema", with: schema), parameters).rows
    }

    /// Every key under the namespace (namespace stripped): a string as its value, a hash as
    /// its sorted fields.
    func redisDump() throws -> [String: [String]] {
        guard let redis else { return [:] }
        var out: [String: [String]] = [:]
        for key in try keys() {
            let name = String(key.dropFirst(namespace.count))
            // A marker's batch count depends on how the events were batched, not on them.
            out[name] = try RedisDump.value(redis, key).map { value in
                name.hasPrefix(RedisLayout.markerKey(projection: "")) ? value.map { $0.split(separator: " ").first.map(String.init) ?? $0 } : value
            }
        }
        return out
    }

    func hash(_ key: String) throws -> [String: String] {
        let fields = try #require(redis).command("HGETALL", namespace + key).array ?? []
        var out: [String: String] = [:]
        for index in stride(from: 0, to: fields.count, by: 2) { out[fields[index].string ?? ""] = fields[index + 1].string }
        return out
    }

    /// The members of the `latest:*` value at `key`, after checking it is canonical JSON.
    func latest(_ key: String) throws -> [String: String] {
        try RedisDump.latest(try #require(redis), namespace + key)
    }

    func keys() throws -> [String] {
        guard let redis else { return [] }
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try redis.command("SCAN", cursor, "MATCH", namespace + "*", "COUNT", "1000").array ?? []
            cursor = reply.first?.string ?? "0"
            keys += (reply.last?.array ?? []).compactMap(\.string)
        } while cursor != "0"
        return keys.sorted()
    }

    func cleanUp() {
        _ = try? admin.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        if let redis, let keys = try? keys(), !keys.isEmpty { _ = try? redis.command(["DEL"] + keys) }
    }
}

private func at(_ text: String) -> Timestamp { try! Timestamp(canonical: text) }
private func day(_ text: String) -> LocalDate { try! LocalDate(text) }

/// Builds logged events with dense seqs.
private struct EventLog {
    var events: [Event] = []

    mutating func add<P: EventPayload>(_ payload: P, source: String = "yahoo", subject: String, occurredAt: String = "2025-03-14T20:00:00.000Z") throws {
        var event = try Event.make(payload, source: source, subject: subject, occurredAt: at(occurredAt))
        event.seq = UInt64(events.count + 1)
        events.append(event)
    }

    mutating func addRaw(type: String, version: Int, payload: JSONValue) throws {
        var event = try Event.make(type: type, version: version, source: "yahoo", subject: "SPY", occurredAt: at("2025-03-14T20:00:00.000Z"), payload: payload)
        event.seq = UInt64(events.count + 1)
        events.append(event)
    }

    mutating func bar(_ ticker: String, _ date: String, close: DecimalString, volume: Int = 1000) throws {
        try add(DailyBar(date: day(date), open: close, high: close, low: close, close: close, adjClose: close, volume: volume), subject: ticker, occurredAt: "\(date)T20:00:00.000Z")
    }

    mutating func trade(_ symbol: String, _ price: DecimalString, _ size: DecimalString, ms: Int64) throws {
        try add(Trade(price: price, size: size, timestampMs: ms, conditions: ["1"]), source: "finnhub", subject: symbol, occurredAt: Timestamp(millisecondsSinceEpoch: ms).rfc3339)
    }

    var lastSeq: Int64 { Int64(events.count) }

    /// Events of every family, including revisions (same natural key, higher seq), a revised
    /// news article that drops a ticker, trades around a previous close, and poison.
    static func mixed() throws -> EventLog {
        var log = EventLog()
        try log.add(ETFProfile(name: "SPDR S&P 500 ETF Trust", etfType: "benchmark", family: "SPDR", expenseRatio: "0.0945"), subject: "SPY")
        for (index, close) in ["500.00", "505.00", "499.99", "510.50", "510.50"].enumerated() {
            try log.bar("SPY", "2025-03-1\(index)", close: DecimalString(close)!)
            try log.bar("AAPL", "2025-03-1\(index)", close: DecimalString("2\(index)0.00")!)
        }
        try log.bar("SPY", "2025-03-12", close: "500.00")  // a revised bar: replaces 499.99
        try log.add(ETFHolding(fund: "XLK", symbol: "AAPL", name: "Apple Inc.", weight: "14.52", asOf: day("2025-03-13"), rank: 1, shares: "1000", marketValue: "213000.50"), subject: "XLK")
        try log.add(ETFHolding(fund: "XLK", symbol: nil, name: "Cash", weight: "0.10", asOf: day("2025-03-13"), rank: 70), subject: "XLK")
        try log.add(IndexConstituent(index: "sp500", symbol: "AAPL", name: "Apple Inc.", sector: "Information Technology"), source: "wikipedia", subject: "AAPL")
        try log.add(CompanyOverview(name: "Apple Inc", sector: "TECHNOLOGY", marketCap: "3200000000000"), source: "alphavantage", subject: "AAPL")
        try log.add(CompanyOverview(name: "Apple Inc.", sector: "TECHNOLOGY", marketCap: "3300000000000"), source: "alphavantage", subject: "AAPL")
        try log.add(BalanceSheet(period: .quarterly, fiscalDateEnding: day("2024-12-31"), reportedCurrency: "USD", totalAssets: "344085000000"), source: "alphavantage", subject: "AAPL")
        try log.add(EarningsCalendarEntry(name: "Apple Inc", reportDate: day("2025-05-01"), fiscalDateEnding: day("2025-03-31"), estimate: "1.620", currency: "USD"), source: "alphavantage", subject: "AAPL")
        try log.add(MarketMover(category: .gainer, rank: 1, price: "12.34", changeAmount: "3.10", changePercent: "33.5498", volume: 4_500_000), source: "alphavantage", subject: "ABCD")
        try log.add(MarketMover(category: .loser, rank: 2, price: "1.10", changeAmount: "-0.90", changePercent: "-45.0", volume: 100), source: "alphavantage", subject: "WXYZ")
        let url = "https://www.example.com/markets/apple-beats"
        try log.add(NewsArticle(url: url, title: "Apple beats", source: "Benzinga", publishedAt: at("2025-03-14T12:00:00.000Z"), authors: ["Jane Doe"], tickers: [TickerSentiment(ticker: "AAPL", relevance: "0.9"), TickerSentiment(ticker: "MSFT", relevance: "0.1")]), source: "alphavantage", subject: url)
        try log.add(NewsArticle(url: url, title: "Apple beats estimates", source: "Benzinga", publishedAt: at("2025-03-14T12:00:00.000Z"), authors: ["Jane Doe", "John Roe"], tickers: [TickerSentiment(ticker: "AAPL", relevance: "0.95", sentimentScore: "0.4", sentimentLabel: "Bullish")]), source: "alphavantage", subject: url)
        try log.add(SocialPost(platform: .x, postId: "1900000000000000001", authorId: "44196397", authorHandle: "elonmusk", text: "To the moon", createdAt: at("2025-03-14T13:00:00.000Z"), metrics: PostMetrics(likes: 10)), source: "x", subject: "elonmusk")
        try log.add(SocialPost(platform: .x, postId: "1900000000000000001", authorId: "44196397", authorHandle: "elonmusk", text: "To the moon", createdAt: at("2025-03-14T13:00:00.000Z"), metrics: PostMetrics(likes: 99_000)), source: "x", subject: "elonmusk")
        try log.add(SocialProfile(platform: .truthsocial, userId: "107780257626128497", username: "realDonaldTrump", followers: 9_000_000, verified: true), source: "truthsocial", subject: "realDonaldTrump")
        try log.add(CryptoListing(venue: .bithumb, symbol: "BTC", market: "KRW-BTC", koreanName: "비트코인", englishName: "Bitcoin"), source: "bithumb", subject: "BTC")
        try log.add(CryptoMarket(coinId: "bitcoin", symbol: "btc", name: "Bitcoin", vsCurrency: "usd", currentPrice: "83950.12", marketCapRank: 1), source: "coingecko", subject: "BTC")
        // A v1 ticker of Bithumb's older endpoint (BTC_KRW, percent) shares the KRW-BTC row and key.
        try log.add(CryptoTickerV1(CryptoTicker(venue: .bithumb, market: "BTC_KRW", base: "BTC", quote: "KRW", lastPrice: "122400000", changeRate24h: "-1.30", timestampMs: 1_741_982_340_000)), source: "bithumb", subject: "BTC")
        try log.add(CryptoTicker(venue: .bithumb, market: "KRW-BTC", base: "BTC", quote: "KRW", lastPrice: "122500000", changeRate24h: "-0.0121", timestampMs: 1_741_982_400_000), source: "bithumb", subject: "BTC")
        try log.add(CryptoTicker(venue: .bithumb, market: "KRW-BTC", base: "BTC", quote: "KRW", lastPrice: "122600000", changeRate24h: "-0.0113", timestampMs: 1_741_982_460_000), source: "bithumb", subject: "BTC")
        try log.add(MacroObservation(seriesId: "FEDFUNDS", date: day("2025-02-01"), value: "4.33"), source: "fred", subject: "FEDFUNDS")
        try log.add(MacroObservation(seriesId: "DGS10", date: day("2025-02-17"), value: "."), source: "fred", subject: "DGS10")
        // 2025-03-14 (New York) trades of AAPL: previous close is the 2025-03-13 bar (230.00).
        try log.trade("AAPL", "231.50", "100", ms: 1_741_960_800_000)  // 2025-03-14T14:00Z
        try log.trade("AAPL", "232.25", "50.5", ms: 1_741_964_400_000)
        try log.trade("AAPL", "232.25", "70", ms: 1_741_964_400_000)  // same ms: replaces the previous print
        try log.trade("AAPL", "229.00", "10", ms: 1_741_870_800_000)  // a day earlier, outside the 24 h window
        try log.addRaw(type: "bar.daily", version: 2, payload: ["date": "2025-03-13", "open": "x", "high": "1", "low": "1", "close": "1", "volume": 1])
        try log.addRaw(type: "bar.weekly", version: 1, payload: ["close": "1"])
        return log
    }
}


@Suite("projection sinks", .onTestThreads, .serialized, .enabled(if: TestServices.hasPostgres && TestServices.hasRedis), .timeLimit(.minutes(5)))
struct ProjectionSinkTests {
    @Test("migrate creates the schema, is idempotent, and the tables match the folds' shapes")
    func migrate() throws {
        let fixture = try SinkFixture(migrate: false)
        defer { fixture.cleanUp() }
        let first = try Migrator().migrate(fixture.admin, schema: fixture.schema)
        #expect(first.applied.map(\.fileName) == Migration.all.map(\.fileName))
        #expect(first.version == Migration.latestVersion)
        let second = try Migrator().migrate(fixture.admin, schema: fixture.schema)
        #expect(second.applied.isEmpty)
        #expect(try Migrator().version(fixture.admin, schema: fixture.schema) == Migration.latestVersion)
        #expect(try fixture.rows("SELECT count(*) FROM $schema.schema_migrations") == [[String(Migration.all.count)]])
        for table in CollectedTables.all {
            let columns = try fixture.rows(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                [fixture.schema, table.name]).map { $0[0] ?? "" }
            #expect(columns == table.columns + ["seq", "event_id"], "\(table.name)")
            let key = try fixture.rows(
                """
                SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                WHERE i.indrelid = ($1 || '.' || $2)::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)
                """, [fixture.schema, table.name]).map { $0[0] ?? "" }
            #expect(key == Array(table.keyColumns), "\(table.name) primary key")
        }
    }

    @Test("a schema migrated by a newer build, or from a changed script, is refused with a precise error")
    func refusesNewer() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        try fixture.admin.query("INSERT INTO \(fixture.schema).schema_migrations (version, name, checksum) VALUES (999, 'from_the_future', 'x')")
        let error = try #require(throws: ProjectionError.self) { try Migrator().migrate(fixture.admin, schema: fixture.schema) }
        #expect(error.code == .schemaTooNew)
        #expect(error.message.contains("999") && error.message.contains("from_the_future") && error.message.contains("up to \(Migration.latestVersion)"))
        let sinkError = try #require(throws: ProjectionError.self) { try fixture.engine() }
        #expect(sinkError.code == .schemaTooNew)
        try fixture.admin.query("DELETE FROM \(fixture.schema).schema_migrations WHERE version = 999")
        try fixture.admin.query("UPDATE \(fixture.schema).schema_migrations SET checksum = 'edited' WHERE version = 1")
        let changed = try #require(throws: ProjectionError.self) { try Migrator().migrate(fixture.admin, schema: fixture.schema) }
        #expect(changed.code == .migrationChanged)
        #expect(changed.message.contains("001_projection_bookkeeping"))
    }

    @Test("a sink refuses an unmigrated schema and names the command that fixes it")
    func refusesUnmigrated() throws {
        let fixture = try SinkFixture(migrate: false)
        defer { fixture.cleanUp() }
        let error = try #require(throws: ProjectionError.self) { try fixture.engine() }
        #expect(error.code == .schemaNotMigrated)
        #expect(error.message.contains("tickfold project migrate --schema \(fixture.schema)"))
    }

    @Test("events of every family land as rows and keys; checkpoint and rejects commit with them")
    func everyFamily() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        let log = try EventLog.mixed()
        let engine = try fixture.engine()
        let summary = try engine.apply(batch: log.events, positions: [CheckpointPosition(source: "log", partition: 0, position: log.lastSeq)])
        #expect(summary.rejects == 2)
        #expect(summary.postgres.rejectsRecorded == 2)
        #expect(try engine.checkpoint(projection: "collected") == [CheckpointKey(source: "log", partition: 0): log.lastSeq])
        let counts = try Dictionary(uniqueKeysWithValues: CollectedTables.all.map { table in
            (table.name, Int(try fixture.rows("SELECT count(*) FROM $schema.\(table.name)")[0][0] ?? "") ?? -1)
        })
        #expect(counts == [
            "collected_daily_bars": 10, "collected_meta_etf": 1, "collected_etf_holdings": 2, "collected_index_constituents": 1,
            "collected_company_overview": 1, "collected_balance_sheet": 1, "collected_earnings_calendar": 1, "collected_market_movers": 2,
            "collected_market_news": 1, "collected_market_news_tickers": 2, "collected_social_posts": 1, "collected_social_profiles": 1,
            "collected_crypto_listings": 1, "collected_crypto_markets": 1, "collected_crypto_tickers": 1, "collected_macro_observations": 2,
            "collected_trades": 3,
        ])
        #expect(try fixture.rows("SELECT close_price, seq FROM $schema.collected_daily_bars WHERE ticker = 'SPY' AND trade_date = '2025-03-12'") == [["500.00", "12"]])
        #expect(try fixture.rows("SELECT name, market_cap FROM $schema.collected_company_overview") == [["Apple Inc.", "3300000000000"]])
        #expect(try fixture.rows("SELECT estimate FROM $schema.collected_earnings_calendar") == [["1.620"]], "numeric keeps the event's scale")
        #expect(try fixture.rows("SELECT title, authors FROM $schema.collected_market_news") == [["Apple beats estimates", "{\"Jane Doe\",\"John Roe\"}"]])
        #expect(try fixture.rows("SELECT ticker, relevance FROM $schema.collected_news_ticker_sentiment") == [["AAPL", "0.95"]], "MSFT was dropped by the revision")
        #expect(try fixture.rows("SELECT ticker, title FROM $schema.collected_company_news") == [["AAPL", "Apple beats estimates"]])
        #expect(try fixture.rows("SELECT likes FROM $schema.collected_social_posts") == [["99000"]])
        #expect(try fixture.rows("SELECT value, value_text FROM $schema.collected_macro_observations ORDER BY 1") == [["4.33", "4.33"], [nil, "."]])
        #expect(try fixture.rows("SELECT price, size FROM $schema.collected_trades WHERE timestamp_ms = 1741964400000") == [["232.25", "70"]])
        #expect(try fixture.rows("SELECT ticker, sector, market_cap FROM $schema.collected_daily_stock_history WHERE trade_date = '2025-03-14'") == [["AAPL", "TECHNOLOGY", "3300000000000"]])
        #expect(try fixture.rows("SELECT count(*) FROM $schema.collected_daily_etf_ohlc") == [["5"]])
        let rejects = try fixture.rows("SELECT projection, event_type, reason FROM $schema.projection_rejects ORDER BY seq")
        #expect(rejects == [
            ["collected", "bar.daily", "bar.daily payload.open: expected a decimal string like \"123.45\", found \"x\""],
            ["collected", "bar.weekly", "unknown event type \"bar.weekly\" (version 1)"],
        ])

        let trade = try fixture.latest("latest:stocks:sp500:AAPL")
        #expect(trade["price"] == "229.00", "the highest seq wins, not the latest timestamp")
        #expect(trade["_seq"] == String(log.events.count - 2))
        #expect(trade["_event_id"] == log.events[log.events.count - 3].id.hex)
        #expect(try fixture.latest("latest:crypto:KRW-BTC")["price"] == "122600000")
        #expect(try fixture.rows("SELECT market, last_price, change_rate_24h FROM $schema.collected_crypto_tickers") == [["KRW-BTC", "122600000", "-0.0113"]])
        #expect(try fixture.latest("latest:stocks:topgainers:WXYZ")["category"] == "loser")
        let market = try fixture.hash("sp500_market_data")
        let aapl = try #require(market["AAPL"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(aapl.utf8)) as? [String: Any])
        #expect(json["price"] as? String == "232.25")
        #expect(json["previous_close"] as? String == "230.00")
        #expect(json["previous_close_date"] as? String == "2025-03-13")
        #expect(json["change"] as? String == "2.25")
        #expect(json["change_percent"] as? String == "0.9783")
        #expect(json["volume_24h"] as? String == "170")
    }

    /// Delivers every event once or twice, in a seeded random order, in random batches of 1–7;
    /// `positions` gives each batch's checkpoints from the delivery index it ends at.
    static func deliverShuffled(_ events: [Event], seed: UInt64, to engine: ProjectionEngine, positions: (Int) -> [CheckpointPosition]) throws {
        var generator = SplitMix64(seed: seed)
        var delivery = events + events.filter { _ in Bool.random(using: &generator) }
        delivery.shuffle(using: &generator)
        var start = 0
        while start < delivery.count {
            let end = min(delivery.count, start + Int.random(in: 1...7, using: &generator))
            try engine.apply(batch: Array(delivery[start..<end]), positions: positions(end))
            start = end
        }
    }

    @Test("shuffled, duplicated, batched delivery converges to the state of one ordered replay")
    func convergence() throws {
        let ordered = try SinkFixture()
        defer { ordered.cleanUp() }
        let log = try EventLog.mixed()
        // The reference goes through the staging tables; shuffled deliveries try every path.
        try ordered.engine(stagingMinimumRows: 0).apply(batch: log.events, positions: [CheckpointPosition(source: "log", partition: 0, position: log.lastSeq)])
        let expected = try ordered.dump()
        let expectedKeys = try ordered.redisDump()
        // The projection's keys and its marker (`tickfold:projected:collected`).
        #expect(expectedKeys.count == 6, "\(expectedKeys.keys.sorted())")
        #expect(expectedKeys[RedisLayout.markerKey(projection: "collected")] == ["collected@v4"])

        for seed in [1, 2, 3, 4, 5, 6] as [UInt64] {
            let shuffled = try SinkFixture()
            defer { shuffled.cleanUp() }
            // Seeds 1 and 2 merge from parameter arrays (small batches), 3 and 4 try the
            // direct-COPY fast path on every batch, 5 and 6 always use the staging tables.
            let engine = try shuffled.engine(directCopyMinimumRows: seed > 4 ? 2000 : 1, stagingMinimumRows: seed > 2 ? 0 : 500)
            try Self.deliverShuffled(log.events, seed: seed, to: engine) { _ in [] }
            #expect(try shuffled.dump() == expected, "seed \(seed)")
            #expect(try shuffled.redisDump() == expectedKeys, "seed \(seed)")
        }
    }

    @Test("small batches merged from parameter arrays store the same bytes as the staging path: quotes, backslashes, NULLs, arrays")
    func arrayMergeMatchesStaging() throws {
        var log = EventLog()
        let text = "say \"hi\" \\ back\\slash\ttab, {brace} NULL \u{1F600}\nline"
        try log.add(SocialPost(platform: .x, postId: "1", authorId: "2", authorHandle: "h", text: text, createdAt: at("2025-03-14T13:00:00.000Z"), metrics: PostMetrics(likes: 1)), source: "x", subject: "h")
        try log.add(NewsArticle(url: "https://example.com/a", title: "NULL", source: "s", publishedAt: at("2025-03-14T12:00:00.000Z"), authors: ["O\"Neil, Pat", "a\\b", "{x}"], tickers: [TickerSentiment(ticker: "AAPL", relevance: "0.9")]), source: "alphavantage", subject: "https://example.com/a")
        try log.bar("SPY", "2025-03-13", close: "551.42")
        try log.bar("SPY", "2025-03-13", close: "552.00")  // a revision in the same batch
        try log.trade("AAPL", "231.50", "100", ms: 1_741_960_800_000)
        let staged = try SinkFixture()
        defer { staged.cleanUp() }
        let arrays = try SinkFixture()
        defer { arrays.cleanUp() }
        try staged.engine(stagingMinimumRows: 0).apply(batch: log.events, positions: [])
        let summary = try arrays.engine().apply(batch: log.events, positions: [])
        #expect(summary.postgres.rowsWritten == 5)
        #expect(try arrays.dump() == staged.dump())
        #expect(try arrays.rows("SELECT text FROM $schema.collected_social_posts") == [[text]])
        #expect(try arrays.rows("SELECT close_price FROM $schema.collected_daily_bars") == [["552.00"]])
        // Re-delivery through the array path changes nothing.
        #expect(try arrays.engine().apply(batch: log.events, positions: []).postgres.rowsWritten == 0)
    }

    @Test("direct COPY fast path: fresh keys go straight in; a batch with a conflict falls back to the merge")
    func directCopy() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        var log = EventLog()
        for index in 0..<3000 { try log.bar("D\(index % 30)", LocalDate(daysSinceEpoch: 19_000 + Int64(index / 30)).description, close: "10.00") }
        for index in 0..<3000 where index % 2 == 0 { try log.bar("D\(index % 30)", LocalDate(daysSinceEpoch: 19_000 + Int64(index / 30)).description, close: "11.50") }
        for index in 3000..<3500 { try log.bar("D\(index % 30)", LocalDate(daysSinceEpoch: 19_000 + Int64(index / 30)).description, close: "12.00") }
        let engine = try fixture.engine(redis: false, directCopyMinimumRows: 1000)
        let fresh = try engine.apply(batch: Array(log.events[0..<3000]), positions: [])
        #expect(fresh.postgres.rowsWritten == 3000)
        // Revisions of half the keys plus new keys: the direct COPY conflicts, the merge applies.
        let revised = try engine.apply(batch: Array(log.events[3000...]), positions: [])
        #expect(revised.postgres.rowsWritten == 2000)
        // Re-delivery of the first batch (lower seqs) changes nothing.
        let stale = try engine.apply(batch: Array(log.events[0..<3000]), positions: [])
        #expect(stale.postgres.rowsWritten == 0)
        #expect(try fixture.rows("SELECT close_price, count(*) FROM $schema.collected_daily_bars GROUP BY 1 ORDER BY 1") == [["10.00", "1500"], ["11.50", "1500"], ["12.00", "500"]])
    }

    @Test("price_change_percent is right after bars arrive newest first, one batch each")
    func priceChangeReversed() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        var log = EventLog()
        try log.add(ETFProfile(name: "Technology Select Sector SPDR", etfType: "sector", sector: "technology"), subject: "XLK")
        for (date, close) in [("2025-03-10", "200.00"), ("2025-03-11", "210.00"), ("2025-03-12", "205.80"), ("2025-03-14", "205.80")] {
            try log.bar("XLK", date, close: DecimalString(close)!)
        }
        let engine = try fixture.engine()
        for event in log.events.reversed() { try engine.apply(batch: [event], positions: []) }
        #expect(try fixture.rows("SELECT trade_date, close_price, price_change_percent FROM $schema.collected_daily_etf_ohlc ORDER BY trade_date") == [
            ["2025-03-10", "200.00", nil],
            ["2025-03-11", "210.00", "5.000000"],
            ["2025-03-12", "205.80", "-2.000000"],
            ["2025-03-14", "205.80", "0.000000"],
        ])
        #expect(try fixture.rows("SELECT count(*) FROM $schema.collected_daily_stock_history") == [["0"]])
    }

    @Test("a failure after the rows but before COMMIT leaves neither rows nor checkpoint")
    func atomicCheckpoint() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        try fixture.admin.execute("""
            CREATE FUNCTION \(fixture.schema).refuse_checkpoint() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'injected checkpoint failure'; END $$;
            CREATE TRIGGER refuse BEFORE INSERT ON \(fixture.schema).projection_checkpoints
            FOR EACH ROW EXECUTE FUNCTION \(fixture.schema).refuse_checkpoint();
            """)
        let log = try EventLog.mixed()
        let engine = try fixture.engine(retry: .none)
        let position = CheckpointPosition(source: "log", partition: 0, position: log.lastSeq)
        let error = try #require(throws: ProjectionError.self) { try engine.apply(batch: log.events, positions: [position]) }
        #expect(error.code == .postgres)
        #expect(error.message.contains("injected checkpoint failure"))
        for table in CollectedTables.all {
            #expect(try fixture.rows("SELECT count(*) FROM $schema.\(table.name)") == [["0"]], "\(table.name)")
        }
        #expect(try fixture.rows("SELECT count(*) FROM $schema.projection_rejects") == [["0"]])
        #expect(try engine.checkpoint(projection: "collected").isEmpty)
        // Keys go out only once the batch's statements succeeded: the failed batch wrote none.
        #expect(try fixture.keys().isEmpty)
        try fixture.admin.execute("DROP TRIGGER refuse ON \(fixture.schema).projection_checkpoints")
        try engine.apply(batch: log.events, positions: [position])
        #expect(try engine.checkpoint(projection: "collected") == [position.key: log.lastSeq])
        #expect(try !fixture.keys().isEmpty)
        #expect(try fixture.rows("SELECT count(*) FROM $schema.collected_daily_bars") == [["10"]])
    }

    @Test("a poison event lands in projection_rejects once, however often it is delivered")
    func rejectsOnce() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        var log = EventLog()
        try log.addRaw(type: "trade", version: 1, payload: ["price": "1", "size": "1", "timestampMs": -5, "conditions": []])
        try log.bar("SPY", "2025-03-14", close: "1.00")
        let engine = try fixture.engine()
        let first = try engine.apply(batch: log.events, positions: [])
        let second = try engine.apply(batch: [log.events[0]], positions: [])
        #expect(first.postgres.rejectsRecorded == 1)
        #expect(second.postgres.rejectsRecorded == 0)
        let rows = try fixture.rows("SELECT event_id, seq, reason FROM $schema.projection_rejects")
        #expect(rows == [[log.events[0].id.hex, "1", "trade payload.timestampMs: expected a non-negative integer, found -5"]])
        #expect(try fixture.rows("SELECT count(*) FROM $schema.collected_daily_bars") == [["1"]])
    }

    @Test("values the event schemas allow but PostgreSQL refuses (year 0000, numerics past its digits) are rejects, not a failed batch")
    func valuesPostgresRefuses() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        var log = EventLog()
        try log.bar("SPY", "2025-03-13", close: "1.00")
        try log.addRaw(type: "bar.daily", version: 2, payload: ["date": "0000-01-02", "open": "1", "high": "1", "low": "1", "close": "1", "volume": 1])
        let tooPrecise = DecimalString("1." + String(repeating: "1", count: 16_384))!
        let finest = DecimalString("1." + String(repeating: "1", count: 16_383))!
        try log.trade("MSFT", tooPrecise, "1", ms: 1_741_960_800_000)
        try log.trade("AAPL", finest, "1", ms: 1_741_960_800_000)
        try log.add(MarketMover(category: .gainer, rank: 1, price: "1", changeAmount: "1", changePercent: DecimalString(String(repeating: "9", count: 131_073))!, volume: 1),
                    source: "alphavantage", subject: "ABCD")
        try log.add(SocialPost(platform: .x, postId: "1", authorId: "2", text: "t", createdAt: at("0000-01-01T00:00:00.000Z")), source: "x", subject: "someone")
        try log.bar("QQQ", "2025-03-13", close: "2.00")
        let engine = try fixture.engine()
        let summary = try engine.apply(batch: log.events, positions: [CheckpointPosition(source: "log", partition: 0, position: log.lastSeq)])
        #expect(summary.postgres.rejectsRecorded == 4)
        let rejects = try fixture.rows("SELECT seq, event_type, reason FROM $schema.projection_rejects ORDER BY seq")
        #expect(rejects == [
            ["2", "bar.daily", "date 0000-01-02 is in year 0, which PostgreSQL dates do not have"],
            ["3", "trade", "a decimal with 1 digits before and 16384 after the point exceeds PostgreSQL numeric (at most 131072 and 16383)"],
            ["5", "market.mover", "a decimal with 131073 digits before and 0 after the point exceeds PostgreSQL numeric (at most 131072 and 16383)"],
            ["6", "social.post", "instant 0000-01-01T00:00:00.000Z is in year 0, which PostgreSQL timestamps do not have"],
        ])
        #expect(try fixture.rows("SELECT ticker FROM $schema.collected_daily_bars ORDER BY 1") == [["QQQ"], ["SPY"]])
        #expect(try fixture.rows("SELECT symbol, length(price::text) FROM $schema.collected_trades") == [["AAPL", "16385"]])
        // A rejected event writes no key either.
        let keys = Set(try fixture.keys())
        #expect(keys.contains(fixture.namespace + "latest:stocks:sp500:AAPL"))
        #expect(!keys.contains(fixture.namespace + "latest:stocks:sp500:MSFT") && !keys.contains(fixture.namespace + "latest:stocks:topgainers:ABCD"))
        #expect(try engine.checkpoint(projection: "collected") == [CheckpointKey(source: "log", partition: 0): log.lastSeq])
    }

    @Test("changed keys and derived fields are announced on their channels; re-delivery is silent")
    func notifications() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        let subscriber = try RedisSubscriber(url: try #require(TestServices.redis))
        let keyChannel = fixture.namespace + RedisLayout.keyChannel
        let marketChannel = fixture.namespace + CollectedTables.sp500MarketData.channel
        try subscriber.subscribe([keyChannel, marketChannel])
        var log = EventLog()
        try log.trade("MSFT", "388.10", "5", ms: 1_741_960_800_000)
        let engine = try fixture.engine()
        let summary = try engine.apply(batch: log.events, positions: [])
        #expect(summary.redisKeys.changed == 1 && summary.derivedFields.changed == 1)
        var messages: [String: String] = [:]
        while messages.count < 2, let message = try subscriber.nextMessage(timeout: .seconds(2)) { messages[message.channel] = message.text }
        #expect(messages == [keyChannel: fixture.namespace + "latest:stocks:sp500:MSFT", marketChannel: "MSFT"])
        let again = try engine.apply(batch: log.events, positions: [])
        #expect(again.redisKeys.changed == 0 && again.redisKeys.unchanged == 1 && again.derivedFields.changed == 0)
        #expect(try subscriber.nextMessage(timeout: .milliseconds(300)) == nil)
        // Within one batch only each key's highest seq goes to Redis.
        try log.trade("MSFT", "388.20", "1", ms: 1_741_960_801_000)
        try log.trade("MSFT", "388.30", "1", ms: 1_741_960_802_000)
        let batch = try engine.apply(batch: [log.events[2], log.events[1], log.events[0]], positions: [])
        #expect(batch.redisKeys.changed == 1 && batch.redisKeys.superseded == 2)
        #expect(try fixture.latest("latest:stocks:sp500:MSFT")["price"] == "388.30")
        var published: [String] = []
        while let message = try subscriber.nextMessage(timeout: .milliseconds(500)) { published.append(message.channel) }
        #expect(published.sorted() == [keyChannel, marketChannel].sorted())
        // An older event changes nothing and announces nothing.
        let older = try engine.apply(batch: [log.events[1]], positions: [])
        #expect(older.redisKeys.changed == 0 && older.redisKeys.unchanged == 1)
        #expect(try subscriber.nextMessage(timeout: .milliseconds(300)) == nil)
    }

    @Test("Redis script cache loss (SCRIPT FLUSH) is handled by reloading")
    func noscript() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        var log = EventLog()
        try log.trade("NVDA", "120.00", "1", ms: 1_741_960_800_000)
        try log.trade("NVDA", "121.00", "1", ms: 1_741_960_801_000)
        let engine = try fixture.engine()
        try engine.apply(batch: [log.events[0]], positions: [])
        try #require(fixture.redis).command("SCRIPT", "FLUSH")
        try engine.apply(batch: [log.events[1]], positions: [])
        #expect(try fixture.latest("latest:stocks:sp500:NVDA")["price"] == "121.00")
    }

    @Test("one script call over many keys refuses an older or equal seq for some keys and replaces the others whole")
    func multiKeyScriptGuardsEachKey() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        let sink = try RedisSink(url: try #require(TestServices.redis), namespace: fixture.namespace, keysPerCall: 50, notifications: false)
        let id = try #require(EventID(hex: String(repeating: "5a", count: 32)))
        func write(_ index: Int, seq: UInt64, price: String, extra: Bool) -> KeyWrite {
            var fields = [RedisField("price", price), RedisField("symbol", "S\(index)")]
            if extra { fields.append(RedisField("volume", "7")) }
            return KeyWrite(key: "latest:stocks:sp500:S\(index)", fields: fields, seq: seq, eventID: id)
        }
        // 120 keys: three script calls of up to 50 keys in one pipeline.
        let first = try sink.write((0..<120).map { write($0, seq: UInt64(100 + $0), price: "1.00", extra: true) })
        #expect(first.changed == 120 && first.unchanged == 0)
        // Key 7 moves far ahead; key 64 is re-delivered with its own seq in the next batch.
        #expect(try sink.write([write(7, seq: 10_000, price: "9.99", extra: true)]).changed == 1)
        var second = (0..<120).map { write($0, seq: UInt64(1000 + $0), price: "2.00", extra: false) }
        second[64] = write(64, seq: 164, price: "2.00", extra: false)
        let summary = try sink.write(second)
        #expect(summary.changed == 118 && summary.unchanged == 2)
        #expect(try fixture.latest("latest:stocks:sp500:S7") == ["_seq": "10000", "_event_id": id.hex, "price": "9.99", "symbol": "S7", "volume": "7"])
        #expect(try fixture.latest("latest:stocks:sp500:S64") == ["_seq": "164", "_event_id": id.hex, "price": "1.00", "symbol": "S64", "volume": "7"])
        // Replaced values hold exactly the new fields: the dropped `volume` is gone.
        #expect(try fixture.latest("latest:stocks:sp500:S8") == ["_seq": "1008", "_event_id": id.hex, "price": "2.00", "symbol": "S8"])
        #expect(try fixture.latest("latest:stocks:sp500:S119") == ["_seq": "1119", "_event_id": id.hex, "price": "2.00", "symbol": "S119"])
    }

    @Test("a latest:* key holds exactly the fold's canonical JSON; an older seq is refused, the same seq is a no-op, a higher one replaces it")
    func stringValueAndGuard() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        let redis = try #require(fixture.redis)
        let sink = try RedisSink(url: try #require(TestServices.redis), namespace: fixture.namespace, notifications: false)
        var log = EventLog()
        for (index, price) in ["10.00", "11.00", "12.00"].enumerated() {
            try log.trade("IBM", DecimalString(price)!, "3", ms: 1_741_960_800_000 + Int64(index))
        }
        let writes = try ProjectionEngine.fold(log.events, projections: [CollectedProjection()]).keys
        let key = fixture.namespace + "latest:stocks:sp500:IBM"
        func stored() throws -> [UInt8] { try #require(try redis.command("GET", key).bytes) }
        #expect(try redis.command("TYPE", key).string == "none")

        #expect(try sink.write([writes[1]]).changed == 1)
        #expect(try redis.command("TYPE", key).string == "string")
        #expect(try stored() == writes[1].value)
        let object = try #require(try JSONValue.parse(try stored()).objectValue)
        #expect(try CanonicalJSON.encode(.object(object)) == writes[1].value, "the stored value is exactly its canonical form")
        #expect(JSONValue.object(object) == [
            "_event_id": .string(log.events[1].id.hex), "_seq": 2, "price": "11.00", "source": "finnhub", "symbol": "IBM",
            "timestamp": 1_741_960_800_001, "volume": "3",
        ])

        let older = try sink.write([writes[0]])
        #expect(older.changed == 0 && older.unchanged == 1)
        #expect(try stored() == writes[1].value, "an older seq is refused")
        let same = try sink.write([writes[1]])
        #expect(same.changed == 0 && same.unchanged == 1)
        let newer = try sink.write([writes[2]])
        #expect(newer.changed == 1)
        #expect(try stored() == writes[2].value)
        #expect(try fixture.latest("latest:stocks:sp500:IBM")["price"] == "12.00")
    }

    @Test("a key still holding a hash of the v1 layout, or a foreign string, is refused with an error naming it, never overwritten")
    func staleLayoutRefused() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        let redis = try #require(fixture.redis)
        let sink = try RedisSink(url: try #require(TestServices.redis), namespace: fixture.namespace, notifications: false)
        let id = try #require(EventID(hex: String(repeating: "3c", count: 32)))
        let hashKey = "latest:stocks:sp500:OLD"
        try redis.command("HSET", fixture.namespace + hashKey, "_seq", "5", "_event_id", id.hex, "price", "1.00", "symbol", "OLD")
        let write = KeyWrite(key: hashKey, fields: [RedisField("price", "2.00"), RedisField("symbol", "OLD")], seq: 9, eventID: id)
        let error = #expect(throws: ProjectionError.self) { try sink.write([write]) }
        #expect(error?.code == .redis)
        #expect(error?.description.contains("key \(fixture.namespace)\(hashKey) holds a hash") == true, "\(String(describing: error))")
        #expect(error?.description.contains("tickfold replay --from 1") == true)
        #expect(try fixture.hash(hashKey)["price"] == "1.00", "the hash is left as it was")

        // The refusal stops its whole script call before any write: keys beside the hash in
        // the same call stay unwritten.
        let beside = ["latest:stocks:sp500:A1", "latest:stocks:sp500:A2"].map {
            KeyWrite(key: $0, fields: [RedisField("price", "3.00")], seq: 11, eventID: id)
        }
        #expect(throws: ProjectionError.self) { try sink.write([beside[0], write, beside[1]]) }
        for key in beside { #expect(try redis.command("EXISTS", fixture.namespace + key.key).integer == 0, "\(key.key)") }

        // A string without a `_seq` member (written by something else) is refused too.
        let foreignKey = "latest:stocks:sp500:FOREIGN"
        try redis.command("SET", fixture.namespace + foreignKey, #"{"price":"1.00"}"#)
        let foreign = #expect(throws: ProjectionError.self) {
            try sink.write([KeyWrite(key: foreignKey, fields: [RedisField("price", "2.00")], seq: 9, eventID: id)])
        }
        #expect(foreign?.description.contains("holds a string without a \"_seq\" member") == true, "\(String(describing: foreign))")
        #expect(try redis.command("GET", fixture.namespace + foreignKey).string == #"{"price":"1.00"}"#)

        // A JSON string with `_seq` but not in the sink's member order still guards by its seq.
        let otherKey = "latest:stocks:sp500:OTHER"
        try redis.command("SET", fixture.namespace + otherKey, #"{"price":"1.00","_seq":20}"#)
        let other = KeyWrite(key: otherKey, fields: [RedisField("price", "2.00")], seq: 19, eventID: id)
        #expect(try sink.write([other]).unchanged == 1)
        let newer = KeyWrite(key: otherKey, fields: [RedisField("price", "2.00")], seq: 21, eventID: id)
        #expect(try sink.write([newer]).changed == 1)
        #expect(try redis.command("GET", fixture.namespace + otherKey).bytes == newer.value)

        // A derived hash's key holding another type is named too (Redis's WRONGTYPE names none).
        let derivedKey = CollectedTables.sp500MarketData.key
        try redis.command("SET", fixture.namespace + derivedKey, "x")
        let derived = #expect(throws: ProjectionError.self) {
            try sink.write(derived: [DerivedValue(hash: derivedKey, channel: CollectedTables.sp500MarketData.channel, field: "IBM", value: "{}")])
        }
        #expect(derived?.description.contains("key \(fixture.namespace)\(derivedKey) holds a string, not the hash") == true, "\(String(describing: derived))")
        #expect(try redis.command("GET", fixture.namespace + derivedKey).string == "x")
        try redis.command("DEL", fixture.namespace + derivedKey)
    }

    @Test("keys and derived fields follow a namespace pointer that moved since the sink resolved it, and nothing lands under the retired prefix")
    func followsMovedPointer() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        let redis = try #require(fixture.redis)
        let sink = try RedisSink(url: try #require(TestServices.redis), namespace: fixture.namespace, keysPerCall: 2, notifications: false)
        #expect(sink.keyPrefix == fixture.namespace)
        let id = try #require(EventID(hex: String(repeating: "4d", count: 32)))
        let writes = (0..<5).map { KeyWrite(key: "latest:crypto:M\($0)", fields: [RedisField("price", "1.0")], seq: UInt64(10 + $0), eventID: id) }
        let derived = [DerivedValue(hash: "sp500_market_data", channel: "sp500_market_data:updates", field: "M0", value: "{}")]
        let swapped = sink.pointer.shadowPrefix(id: "moved")
        try sink.pointer.set(swapped, redis)
        let (keys, fields) = try sink.write(writes, derived: derived)
        #expect(keys.changed == 5 && fields.changed == 1)
        #expect(sink.keyPrefix == swapped)
        for write in writes {
            #expect(try redis.command("GET", swapped + write.key).bytes == write.value)
            #expect(try redis.command("EXISTS", fixture.namespace + write.key).integer == 0, "nothing under the retired prefix")
        }
        #expect(try redis.command("HGET", swapped + "sp500_market_data", "M0").string == "{}")
        #expect(try redis.command("EXISTS", fixture.namespace + "sp500_market_data").integer == 0)
        // Back to the logical namespace (pointer removed): followed the same way.
        try sink.pointer.set(fixture.namespace, redis)
        let again = try sink.write([KeyWrite(key: "latest:crypto:M9", fields: [RedisField("price", "2.0")], seq: 30, eventID: id)])
        #expect(again.changed == 1 && sink.keyPrefix == fixture.namespace)
        #expect(try redis.command("EXISTS", fixture.namespace + "latest:crypto:M9").integer == 1)
        #expect(try redis.command("EXISTS", swapped + "latest:crypto:M9").integer == 0)
        for write in writes { try redis.command("DEL", swapped + write.key) }
        try redis.command("DEL", swapped + "sp500_market_data")
    }

    @Test("a killed backend mid-run: retried with backoff, or resumed from the checkpoint, without duplicate rows")
    func lostConnection() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        var log = EventLog()
        for ticker in 0..<40 {
            for dayIndex in 0..<250 {
                let date = LocalDate(daysSinceEpoch: 19_000 + Int64(dayIndex)).description
                try log.bar("T\(ticker)", date, close: DecimalString("\(100 + dayIndex).\(ticker % 10)0")!)
            }
        }
        let batches = stride(from: 0, to: log.events.count, by: 500).map { Array(log.events[$0..<min($0 + 500, log.events.count)]) }
        // Kill the sink's backend repeatedly while it works, a bounded number of times per
        // phase: on a slow machine a batch can outlast the killing interval, and an unbounded
        // killer would then starve the caller that resumes from the checkpoint.
        let killer = try PostgresConnection(try #require(TestServices.postgres))
        let kills = KillBudget()
        let thread = Thread { [applicationName = fixture.applicationName] in
            while !kills.isDone {
                if kills.mayKill, let killed = try? killer.query("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) k", [applicationName]),
                   killed.value(0, 0) != "0" {
                    kills.recordKill()
                }
                Thread.sleep(forTimeInterval: 0.15)
            }
        }
        // With a retry policy the sink rides the kills out; without one, the caller resumes
        // from the committed checkpoint.
        let patient = try fixture.engine(redis: false, retry: RetryPolicy(attempts: 20, initialDelay: .milliseconds(10), maxDelay: .milliseconds(200)))
        let impatient = try fixture.engine(redis: false, retry: .none)
        func committed() -> Int {
            for _ in 0..<100 {
                if let positions = try? impatient.checkpoint(projection: "collected") {
                    return Int(positions[CheckpointKey(source: "log", partition: 0)] ?? 0) / 500
                }
            }
            return 0
        }
        kills.grant(10)
        thread.start()
        var retries = 0
        for (index, batch) in batches.prefix(10).enumerated() {
            retries += try patient.apply(batch: batch, positions: [CheckpointPosition(source: "log", partition: 0, position: Int64((index + 1) * 500))]).postgres.retries
        }
        kills.grant(20)
        var failures = 0
        var next = committed()
        while next < batches.count {
            do {
                try impatient.apply(batch: batches[next], positions: [CheckpointPosition(source: "log", partition: 0, position: Int64((next + 1) * 500))])
                next += 1
            } catch let error as ProjectionError {
                #expect(error.code == .postgres)
                failures += 1
                #expect(failures < 200, "no progress")
                if failures >= 200 { break }
                // Resume from what committed (the failed batch may or may not have).
                Thread.sleep(forTimeInterval: 0.01)
                next = committed()
            }
        }
        kills.finish()
        while !thread.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        #expect(kills.value > 0, "the backend was never killed: the test proved nothing")
        print("lost connection: \(kills.value) kills, \(retries) retries inside the sink, \(failures) failed applies resumed from the checkpoint")
        #expect(try fixture.rows("SELECT count(*), count(DISTINCT (ticker, trade_date)), sum(seq) FROM $schema.collected_daily_bars") == [["10000", "10000", String((1...10_000).reduce(0, +))]])
        #expect(try fixture.rows("SELECT position FROM $schema.projection_checkpoints") == [["10000"]])
    }

    @Test("a Redis connection killed mid-run: the batch's transaction rolls back, the engine backs off outside it and runs the batch again; keys, fields and rows converge")
    func lostRedisConnection() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        let reference = try SinkFixture()
        defer { reference.cleanUp() }
        var log = EventLog()
        for index in 0..<3000 {
            try log.trade("S\(index % 40)", DecimalString("\(100 + index % 7).25")!, "10", ms: 1_741_960_800_000 + Int64(index))
        }
        let batches = stride(from: 0, to: log.events.count, by: 100).map { Array(log.events[$0..<min($0 + 100, log.events.count)]) }
        let url = try #require(TestServices.redis)
        let name = "tickfold-test-" + fixture.schema
        let sink = try RedisSink(url: url, namespace: fixture.namespace, notifications: false,
                                 retry: RetryPolicy(attempts: 40, initialDelay: .milliseconds(5), maxDelay: .milliseconds(50)), clientName: name)
        let engine = ProjectionEngine(projections: [CollectedProjection()], postgres: try PostgresSink(conninfo: fixture.conninfo, schema: fixture.schema, tables: CollectedTables.all), redis: sink)
        // Kill only this sink's connection (by its client name), a bounded number of times.
        let killer = try RedisConnection(url: url)
        let kills = KillBudget()
        kills.grant(12)
        let thread = Thread {
            while !kills.isDone {
                if kills.mayKill, let id = clientID(named: name, killer),
                   (try? killer.command("CLIENT", "KILL", "ID", id).integer) == 1 {
                    kills.recordKill()
                }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        thread.start()
        var retries = 0
        for (index, batch) in batches.enumerated() {
            retries += try engine.apply(batch: batch, positions: [CheckpointPosition(source: "log", partition: 0, position: Int64((index + 1) * 100))]).redisKeys.retries
        }
        kills.finish()
        while !thread.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        #expect(kills.value > 0, "the connection was never killed: the test proved nothing")
        #expect(retries > 0, "no batch was retried after \(kills.value) kills")
        print("lost Redis connection: \(kills.value) kills, \(retries) batches run again")

        let plain = try reference.engine()
        for (index, batch) in batches.enumerated() {
            try plain.apply(batch: batch, positions: [CheckpointPosition(source: "log", partition: 0, position: Int64((index + 1) * 100))])
        }
        #expect(try fixture.redisDump() == reference.redisDump())
        #expect(try fixture.redisDump().count == 42, "40 latest:stocks:sp500 keys, the derived hash and the marker")
        #expect(try fixture.dump() == reference.dump())
        #expect(try fixture.rows("SELECT position FROM $schema.projection_checkpoints") == [["3000"]])
    }

    @Test("while a batch backs off after a lost Redis connection, it holds no PostgreSQL transaction (nor the swap lock)")
    func redisBackoffOutsideTransaction() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        var log = EventLog()
        for index in 0..<20 { try log.trade("B\(index)", "10.5", "1", ms: 1_741_960_800_000 + Int64(index)) }
        let url = try #require(TestServices.redis)
        let name = "tickfold-test-" + fixture.schema
        let sink = try RedisSink(url: url, namespace: fixture.namespace, notifications: false,
                                 retry: RetryPolicy(attempts: 3, initialDelay: .milliseconds(400), maxDelay: .milliseconds(400)), clientName: name)
        let engine = ProjectionEngine(projections: [CollectedProjection()], postgres: try PostgresSink(conninfo: fixture.conninfo, schema: fixture.schema, tables: CollectedTables.all), redis: sink)
        try engine.apply(batch: Array(log.events[..<10]), positions: [CheckpointPosition(source: "log", partition: 0, position: 10)])
        // Cut the sink's idle connection: the next batch's first Redis write fails.
        let killer = try RedisConnection(url: url)
        let id = try #require(clientID(named: name, killer))
        #expect(try killer.command("CLIENT", "KILL", "ID", id).integer == 1)

        let outcome = ApplyOutcome()
        let second = Array(log.events[10...])
        let thread = Thread {
            do {
                let summary = try engine.apply(batch: second, positions: [CheckpointPosition(source: "log", partition: 0, position: 20)])
                outcome.finish(retries: summary.redisKeys.retries, error: nil)
            } catch {
                outcome.finish(retries: 0, error: error)
            }
        }
        thread.start()
        // Sample the sink's backend every 10 ms: a backoff inside the transaction would show
        // as "idle in transaction" for the whole 400 ms wait.
        var longest = 0, run = 0
        while !outcome.isDone {
            let state = try fixture.admin.query("SELECT state FROM pg_stat_activity WHERE application_name = $1", [fixture.applicationName]).value(0, 0)
            run = state == "idle in transaction" ? run + 1 : 0
            longest = max(longest, run)
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(outcome.error == nil, "\(String(describing: outcome.error))")
        #expect(outcome.retries == 1)
        #expect(longest < 15, "the backend sat idle in a transaction for \(longest) samples of 10 ms")
        #expect(try fixture.rows("SELECT position FROM $schema.projection_checkpoints") == [["20"]])
        #expect(try fixture.latest("latest:stocks:sp500:B19")["_seq"] == "20")
    }

    @Test("unreachable servers fail with errors naming them")
    func unreachable() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        let quick = RetryPolicy(attempts: 2, initialDelay: .milliseconds(10), maxDelay: .milliseconds(10))
        let pgError = try #require(throws: ProjectionError.self) {
            try PostgresSink(conninfo: "postgresql://tickfold:secret-pw@127.0.0.1:1/tickfold", schema: fixture.schema, tables: CollectedTables.all, retry: quick)
        }
        #expect(pgError.code == .postgres)
        #expect(pgError.message.contains("127.0.0.1:1"))
        #expect(!pgError.description.contains("secret-pw"))
        let redisError = try #require(throws: ProjectionError.self) { try RedisSink(url: "redis://127.0.0.1:1/0", retry: quick) }
        #expect(redisError.code == .redis)
        #expect(redisError.message.contains("127.0.0.1:1"))
    }

    @Test("throughput: 200k daily bars against a plain COPY, 200k Redis keys", .enabled(if: ProcessInfo.processInfo.environment["TICKFOLD_PROJECTION_BENCH"] != nil))
    func throughput() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        var events: [Event] = []
        events.reserveCapacity(200_000)
        for ticker in 0..<200 {
            for dayIndex in 0..<1000 {
                var event = try Event.make(
                    DailyBar(date: LocalDate(daysSinceEpoch: 17_000 + Int64(dayIndex)), open: "101.25", high: "103.50", low: "99.75", close: DecimalString("10\(dayIndex % 10).\(ticker % 100)")!, adjClose: "100.10", volume: 1_234_567 + dayIndex),
                    source: "yahoo", subject: "TK\(ticker)", occurredAt: at("2020-01-01T00:00:00.000Z"))
                event.seq = UInt64(events.count + 1)
                events.append(event)
            }
        }
        let engine = try fixture.engine(redis: false)
        let clock = ContinuousClock()
        var changes = ProjectionChanges()
        let foldTime = try clock.measure { changes = try ProjectionEngine.fold(events, projections: [CollectedProjection()]) }
        let checkpoint = ["collected": [CheckpointPosition(source: "log", partition: 0, position: 200_000)]]
        let applyTime = try clock.measure { try engine.postgres.apply(rows: changes.rows, rejects: [], checkpoints: checkpoint) }
        // The merge path alone, into a second fresh schema, then a full re-delivery (all conflicts).
        let second = try SinkFixture()
        defer { second.cleanUp() }
        let mergeOnly = try PostgresSink(conninfo: second.conninfo, schema: second.schema, tables: CollectedTables.all, directCopyMinimumRows: .max)
        let mergeTime = try clock.measure { try mergeOnly.apply(rows: changes.rows, rejects: [], checkpoints: checkpoint) }
        let redeliveryTime = try clock.measure { try mergeOnly.apply(rows: changes.rows, rejects: [], checkpoints: checkpoint) }
        // The same rows through a plain COPY into an identical keyed table.
        try fixture.admin.execute("CREATE TABLE \(fixture.schema).copy_bars (LIKE \(fixture.schema).collected_daily_bars INCLUDING ALL)")
        let copyTime = try clock.measure {
            _ = try fixture.admin.copyIn("COPY \(fixture.schema).copy_bars FROM STDIN") { writer in
                for row in changes.rows {
                    for value in row.values { try writer.writeField(value) }
                    try writer.writeField(String(row.seq))
                    try writer.writeField(row.eventID.hex)
                    try writer.endRow()
                }
            }
        }
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        let copyRate = 200_000 / seconds(copyTime)
        let rates = [applyTime, mergeTime, redeliveryTime].map { 200_000 / seconds($0) }
        print(String(format: "bench: fold %.0f events/s; plain COPY %.0f rows/s; apply (direct COPY path) %.0f rows/s = %.2f of COPY; apply (staging merge) %.0f rows/s = %.2f; re-delivery (all refused) %.0f rows/s",
                     200_000 / seconds(foldTime), copyRate, rates[0], rates[0] / copyRate, rates[1], rates[1] / copyRate, rates[2]))

        // Redis: 200k distinct keys, then the same writes again (all refused).
        let redis = try RedisSink(url: try #require(TestServices.redis), namespace: fixture.namespace)
        func fields(_ index: Int) -> [RedisField] {
            [RedisField("price", "101.25"), RedisField("source", "finnhub"), RedisField("symbol", "S\(index)"), RedisField("timestamp", integer: 1_741_960_800_000), RedisField("volume", "100")]
        }
        let writes = (0..<200_000).map { index in
            KeyWrite(key: "latest:stocks:sp500:S\(index)", fields: fields(index), seq: UInt64(index + 1), eventID: events[index].id)
        }
        var summary = RedisWriteSummary()
        let redisTime = try clock.measure { summary = try redis.write(writes) }
        let quiet = try RedisSink(url: try #require(TestServices.redis), namespace: fixture.namespace + "quiet:", notifications: false)
        let quietTime = try clock.measure { try quiet.write(writes) }
        let refusedTime = try clock.measure { try redis.write(writes) }
        #expect(summary.changed == 200_000)
        // A trade stream: 200k updates of 500 symbols' latest keys, seqs interleaved.
        let stream = (0..<200_000).map { index in
            KeyWrite(key: "latest:stocks:sp500:S\(index % 500)", fields: fields(index % 500), seq: UInt64(300_000 + index), eventID: events[index].id)
        }
        var streamSummary = RedisWriteSummary()
        let streamTime = try clock.measure {
            for start in stride(from: 0, to: stream.count, by: 10_000) { streamSummary.add(try redis.write(Array(stream[start..<start + 10_000]))) }
        }
        #expect(streamSummary.changed == 500 * 20)
        print(String(format: "bench: Redis, 200k distinct keys: %.0f key updates/s with notifications, %.0f without, %.0f refused re-deliveries/s; 200k updates of 500 keys in batches of 10k: %.0f updates/s",
                     200_000 / seconds(redisTime), 200_000 / seconds(quietTime), 200_000 / seconds(refusedTime), 200_000 / seconds(streamTime)))
    }

    @Test("a bulk load (shuffled, repeated, batched) converges to the merge path's rows, views, keys and derived fields")
    func bulkLoadConvergence() throws {
        let ordered = try SinkFixture()
        defer { ordered.cleanUp() }
        let log = try EventLog.mixed()
        try ordered.engine(stagingMinimumRows: 0).apply(batch: log.events, positions: [CheckpointPosition(source: "log", partition: 0, position: log.lastSeq)])
        let expected = try ordered.dump()
        let expectedKeys = try ordered.redisDump()
        let expectedIndexes = try ordered.indexes()
        for seed in [11, 12, 13] as [UInt64] {
            let bulk = try SinkFixture()
            defer { bulk.cleanUp() }
            let engine = try bulk.engine()
            try engine.postgres.beginBulkLoad()
            #expect(try bulk.indexes().isEmpty, "the load drops every index of the projected tables")
            try Self.deliverShuffled(log.events, seed: seed, to: engine) { end in
                [CheckpointPosition(source: "log", partition: 0, position: Int64(end))]
            }
            #expect(try bulk.hash("sp500_market_data").isEmpty, "derived fields wait for the end of the load")
            try bulk.finish(engine)
            #expect(try bulk.dump() == expected, "seed \(seed)")
            #expect(try bulk.redisDump() == expectedKeys, "seed \(seed)")
            #expect(try bulk.indexes() == expectedIndexes, "seed \(seed)")
            // After the load, batches merge again: a re-delivery changes nothing.
            #expect(try engine.apply(batch: log.events, positions: []).postgres.rowsWritten == 0)
            #expect(try bulk.dump() == expected, "seed \(seed), after re-delivery")
        }
    }

    @Test("the 24 h volume: window edges, revisions and trimmed scale, by hand")
    func tradeVolumeEdges() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        let engine = try fixture.engine()
        let hour: Int64 = 3_600_000, start: Int64 = 1_741_960_800_000
        var log = EventLog()
        func volume(_ symbol: String = "AAPL") throws -> String? {
            let field = try #require(try fixture.hash("sp500_market_data")[symbol])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(field.utf8)) as? [String: Any])
            return json["volume_24h"] as? String
        }
        func deliver(_ body: (inout EventLog) throws -> Void) throws {
            let first = log.events.count
            try body(&log)
            try engine.apply(batch: Array(log.events[first...]), positions: [])
        }
        try deliver { log in
            try log.trade("AAPL", "230.00", "1.50", ms: start)
            try log.trade("AAPL", "230.50", "2.25", ms: start + hour)
        }
        #expect(try volume() == "3.75")
        // 25 h later: the first trade left the window, the second sits exactly on its start
        // (the window is the 24 h *after* it), so only the new trade counts.
        try deliver { log in try log.trade("AAPL", "231.00", "4", ms: start + 25 * hour) }
        #expect(try volume() == "4")
        // A late trade inside the window counts; a late one before it does not.
        try deliver { log in
            try log.trade("AAPL", "229.00", "0.50", ms: start + hour + 1)
            try log.trade("AAPL", "229.00", "100", ms: start + 2)
        }
        #expect(try volume() == "4.5", "4 + 0.50 with the trailing zero trimmed")
        // A revision (same key, higher seq) replaces the size; re-delivering the original
        // (lower seq) changes nothing.
        try deliver { log in try log.trade("AAPL", "229.00", "0.125", ms: start + hour + 1) }
        #expect(try volume() == "4.125")
        try engine.apply(batch: [log.events[3]], positions: [])
        #expect(try volume() == "4.125")
        #expect(try fixture.rows("SELECT subject, last_time, total FROM $schema.collected_trade_volume_24h") == [["AAPL", String(start + 25 * hour), "4.125"]])
        // A symbol's first batch (no state row yet) spanning more than the window, newest
        // first: only the trades of the 24 h before its last count.
        try deliver { log in
            try log.trade("MSFT", "400.00", "8", ms: start + 30 * hour)
            try log.trade("MSFT", "400.00", "0.5", ms: start + 6 * hour + 1)
            try log.trade("MSFT", "400.00", "16", ms: start + 6 * hour)
        }
        #expect(try volume("MSFT") == "8.5")
        // In one batch: the last trade revised (higher seq), a trade pushing the window on
        // past a stored one, and a late trade that is outside the new window on arrival.
        try deliver { log in
            try log.trade("MSFT", "401.00", "2", ms: start + 30 * hour)
            try log.trade("MSFT", "401.00", "1", ms: start + 30 * hour + 2)
            try log.trade("MSFT", "401.00", "32", ms: start + 6 * hour + 2)
        }
        #expect(try volume("MSFT") == "3", "the revised 2 + the new 1; the 0.5 left the window, the late 32 never entered it")
        #expect(try volume() == "4.125", "AAPL untouched")
        #expect(try fixture.rows("SELECT subject, last_time, trim_scale(total)::text FROM $schema.collected_trade_volume_24h ORDER BY 1") == [
            ["AAPL", String(start + 25 * hour), "4.125"], ["MSFT", String(start + 30 * hour + 2), "3"],
        ])
    }

    @Test("migration 3 backfills the running 24 h volume of a schema that already holds trades")
    func tradeVolumeBackfill() throws {
        let fixture = try SinkFixture(migrate: false)
        defer { fixture.cleanUp() }
        _ = try Migrator(migrations: Migration.all.filter { $0.version < 3 }).migrate(fixture.admin, schema: fixture.schema)
        try fixture.admin.execute("""
            INSERT INTO \(fixture.schema).collected_trades VALUES
              ('AAPL', 1000, 1, 1.50, '{}', 1, 'a'), ('AAPL', 86401000, 1, 2.5, '{}', 2, 'b'), ('AAPL', 86402000, 1, 3, '{}', 3, 'c'),
              ('MSFT', 5, 1, 7, '{}', 4, 'd')
            """)
        let report = try Migrator().migrate(fixture.admin, schema: fixture.schema)
        #expect(report.applied.map(\.version) == Migration.all.map(\.version).filter { $0 >= 3 })
        #expect(try fixture.rows("SELECT subject, last_time, total FROM $schema.collected_trade_volume_24h ORDER BY 1") == [
            ["AAPL", "86402000", "5.5"], ["MSFT", "5", "7"],
        ])
    }

    @Test("migration 4 adds a nullable seq to the checkpoints; checkpoints keep the seq of their furthest position, move forward only, and go back only by a reset in a batch")
    func checkpointSeqs() throws {
        let fixture = try SinkFixture(migrate: false)
        defer { fixture.cleanUp() }
        _ = try Migrator(migrations: Migration.all.filter { $0.version < 4 }).migrate(fixture.admin, schema: fixture.schema)
        try fixture.admin.execute("INSERT INTO \(fixture.schema).projection_checkpoints VALUES ('collected', 'tickfold.bar', 0, 41)")
        #expect(try Migrator().migrate(fixture.admin, schema: fixture.schema).applied.map(\.version) == Array(4...Migration.latestVersion))
        let engine = try fixture.engine(redis: false)
        #expect(try engine.committedPositions(projection: "collected") == [
            CheckpointKey(source: "tickfold.bar", partition: 0): CheckpointPosition(source: "tickfold.bar", partition: 0, position: 41),
        ])
        func apply(_ positions: [CheckpointPosition], resetting: [CheckpointKey] = []) throws {
            try engine.apply(changes: ProjectionChanges(), events: 0, positions: positions, resetting: resetting)
        }
        func stored() throws -> [[String?]] {
            try fixture.rows("SELECT source, partition, position, seq FROM $schema.projection_checkpoints ORDER BY 1, 2")
        }
        try apply([
            CheckpointPosition(source: "tickfold.bar", partition: 0, position: 50, seq: 700),
            CheckpointPosition(source: "tickfold.bar", partition: 0, position: 45, seq: 650),
            CheckpointPosition(source: "tickfold.bar", partition: 1, position: 3, seq: nil),
            CheckpointPosition(source: "log", partition: 0, position: 9),
        ])
        #expect(try stored() == [["log", "0", "9", nil], ["tickfold.bar", "0", "50", "700"], ["tickfold.bar", "1", "3", nil]])
        try apply([CheckpointPosition(source: "tickfold.bar", partition: 0, position: 7, seq: 12)])
        #expect(try stored()[1] == ["tickfold.bar", "0", "50", "700"], "a lower position is not written")
        // A reset drops the partition's checkpoint before the batch's own positions.
        try apply([CheckpointPosition(source: "tickfold.bar", partition: 0, position: 7, seq: 12)], resetting: [CheckpointKey(source: "tickfold.bar", partition: 0)])
        try apply([], resetting: [CheckpointKey(source: "tickfold.bar", partition: 1)])
        #expect(try stored() == [["log", "0", "9", nil], ["tickfold.bar", "0", "7", "12"]])
    }

    @Test("the running 24 h volume equals a fresh sum of every window after shuffled, revised, duplicated deliveries on every path")
    func tradeVolumeConverges() throws {
        // Three symbols over three days, sizes of mixed scales, a tenth of the trades revised.
        var log = EventLog()
        var generator = SplitMix64(seed: 24)
        let start: Int64 = 1_741_960_800_000
        let sizes = ["1", "0.5", "2.25", "10", "0.125", "3.10", "7"]
        var keys: [(String, Int64)] = []
        for _ in 0..<600 {
            let symbol = ["AAPL", "MSFT", "NVDA"][Int.random(in: 0..<3, using: &generator)]
            let ms = start + Int64.random(in: 0..<(3 * 86_400_000), using: &generator) / 60_000 * 60_000
            keys.append((symbol, ms))
            try log.trade(symbol, "100.00", DecimalString(sizes.randomElement(using: &generator)!)!, ms: ms)
        }
        for (symbol, ms) in keys.shuffled(using: &generator).prefix(60) {
            try log.trade(symbol, "101.00", DecimalString(sizes.randomElement(using: &generator)!)!, ms: ms)
        }
        let fresh = """
            SELECT l.symbol, l.last_time, trim_scale(sum(t.size))::text FROM $schema.collected_trades t
            JOIN (SELECT symbol, max(timestamp_ms) AS last_time FROM $schema.collected_trades GROUP BY 1) l ON l.symbol = t.symbol
            WHERE t.timestamp_ms > l.last_time - 86400000 GROUP BY 1, 2 ORDER BY 1
            """
        let ordered = try SinkFixture()
        defer { ordered.cleanUp() }
        try ordered.engine().apply(batch: log.events, positions: [])
        let expected = try ordered.rows(fresh)
        #expect(expected.count == 3)
        #expect(try ordered.rows("SELECT subject, last_time, trim_scale(total)::text FROM $schema.collected_trade_volume_24h ORDER BY 1") == expected)
        let expectedKeys = try ordered.redisDump()
        for seed in [1, 2, 3, 4] as [UInt64] {
            let shuffled = try SinkFixture()
            defer { shuffled.cleanUp() }
            let engine = try shuffled.engine(directCopyMinimumRows: seed == 3 ? 1 : 2000, stagingMinimumRows: seed == 2 ? 0 : 500)
            if seed == 4 { try engine.postgres.beginBulkLoad() }
            try Self.deliverShuffled(log.events, seed: seed, to: engine) { _ in [] }
            if seed == 4 { try shuffled.finish(engine) }
            #expect(try shuffled.rows(fresh) == expected, "seed \(seed)")
            #expect(try shuffled.rows("SELECT subject, last_time, trim_scale(total)::text FROM $schema.collected_trade_volume_24h ORDER BY 1") == expected, "seed \(seed)")
            #expect(try shuffled.redisDump() == expectedKeys, "seed \(seed)")
        }
    }

    @Test("a bulk load reduces heavily and rarely repeated tables, indexes unique ones at once, and ends like the merge path")
    func bulkLoadReduction() throws {
        var log = EventLog()
        // Bars: 60 keys revised 20 times (mostly superseded rows). Trades: 3000 keys, one in
        // ten delivered again later with a higher seq (a few superseded rows). Posts: unique.
        for round in 0..<20 {
            for key in 0..<60 {
                try log.bar("B\(key % 6)", LocalDate(daysSinceEpoch: 19_000 + Int64(key)).description, close: DecimalString("\(100 + round).\(key % 10)0")!)
            }
        }
        for index in 0..<3000 { try log.trade("T\(index % 7)", DecimalString("\(10 + index % 50).25")!, "100", ms: 1_741_960_800_000 + Int64(index)) }
        for index in stride(from: 0, to: 3000, by: 10) { try log.trade("T\(index % 7)", "99.99", "1", ms: 1_741_960_800_000 + Int64(index)) }
        for index in 0..<1500 {
            try log.add(SocialPost(platform: .x, postId: "\(index)", authorId: "\(index % 40)", authorHandle: "h\(index % 40)", text: "post \(index)", createdAt: at("2025-03-14T13:00:00.000Z"), metrics: PostMetrics(likes: index)), source: "x", subject: "h\(index % 40)")
        }
        let batches = stride(from: 0, to: log.events.count, by: 700).map { Array(log.events[$0..<min($0 + 700, log.events.count)]) }
        let reference = try SinkFixture()
        defer { reference.cleanUp() }
        let merged = try reference.engine()
        let bulk = try SinkFixture()
        defer { bulk.cleanUp() }
        let engine = try bulk.engine()
        try engine.postgres.beginBulkLoad()
        var appended = 0
        for (index, batch) in batches.enumerated() {
            let position = [CheckpointPosition(source: "log", partition: 0, position: Int64(index * 700 + batch.count))]
            try merged.apply(batch: batch, positions: position)
            appended += try engine.apply(batch: batch, positions: position).postgres.rowsWritten
        }
        #expect(appended > 60 + 3000 + 1500 + 40, "superseded rows are appended until the end of the load")
        #expect(try bulk.rows("SELECT count(*) FROM $schema.collected_daily_bars") != [["60"]])
        try bulk.finish(engine)
        #expect(try bulk.rows("SELECT count(*) FROM $schema.collected_daily_bars") == [["60"]])
        #expect(try bulk.rows("SELECT count(*), count(*) FILTER (WHERE price = 99.99) FROM $schema.collected_trades") == [["3000", "300"]])
        #expect(try bulk.dump() == reference.dump())
        #expect(try bulk.redisDump() == reference.redisDump())
        #expect(try bulk.indexes() == reference.indexes())
        #expect(try bulk.rows("SELECT position FROM $schema.projection_checkpoints") == [[String(log.lastSeq)]])
    }

    @Test("a key the load's sample missed still converges: indexing fails, the table is reduced, then indexed")
    func bulkLoadUnsampledRepeat() throws {
        // A trade key outside the sampled 1/64 of hashes, delivered in two batches.
        func sampled(_ ms: Int64) throws -> Bool {
            var probe = EventLog()
            try probe.trade("AAPL", "1", "1", ms: ms)
            let row = try #require(ProjectionEngine.fold(probe.events, projections: [CollectedProjection()]).rows.first)
            return BulkLoadTable.sampled(CollapsedRows.keyHash(row.values, keyCount: CollectedTables.trades.keyCount))
        }
        var ms: Int64 = 1_741_960_800_000
        while try sampled(ms) { ms += 1 }
        var log = EventLog()
        try log.trade("AAPL", "231.50", "100", ms: ms)
        try log.trade("AAPL", "232.00", "5", ms: ms + 1)
        try log.trade("AAPL", "231.75", "70", ms: ms)
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        let engine = try fixture.engine(redis: false)
        try engine.postgres.beginBulkLoad()
        try engine.apply(batch: Array(log.events[0..<2]), positions: [])
        try engine.apply(batch: [log.events[2]], positions: [])
        try engine.postgres.finishBulkLoad()
        #expect(try fixture.rows("SELECT timestamp_ms - $1::bigint, price, seq FROM $schema.collected_trades ORDER BY 1", [String(ms)]) == [["0", "231.75", "3"], ["1", "232.00", "2"]])
        #expect(try fixture.indexes().contains { $0.hasPrefix("collected_trades_pkey ") })
    }

    @Test("a bulk load refuses tables that hold rows")
    func bulkLoadRefusesRows() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        var log = EventLog()
        try log.bar("SPY", "2025-03-13", close: "551.42")
        let engine = try fixture.engine(redis: false)
        try engine.apply(batch: log.events, positions: [])
        let error = try #require(throws: ProjectionError.self) { try engine.postgres.beginBulkLoad() }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("\(fixture.schema).collected_daily_bars is not empty"))
        #expect(try fixture.indexes().contains { $0.hasPrefix("collected_daily_bars_pkey ") }, "nothing was dropped")
    }

    @Test("a reconnect during a bulk load goes on when its commits survived, and fails when one was lost")
    func bulkLoadReconnect() throws {
        let fixture = try SinkFixture()
        defer { fixture.cleanUp() }
        var log = EventLog()
        for index in 0..<30 { try log.bar("SPY", LocalDate(daysSinceEpoch: 19_000 + Int64(index)).description, close: "10.00") }
        let engine = try fixture.engine(redis: false, retry: RetryPolicy(attempts: 5, initialDelay: .milliseconds(10), maxDelay: .milliseconds(50)))
        try engine.postgres.beginBulkLoad()
        func terminate() throws {
            try fixture.admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [fixture.applicationName])
        }
        try engine.apply(batch: Array(log.events[0..<10]), positions: [CheckpointPosition(source: "log", partition: 0, position: 10)])
        try terminate()
        let resumed = try engine.apply(batch: Array(log.events[10..<20]), positions: [CheckpointPosition(source: "log", partition: 0, position: 20)])
        #expect(resumed.postgres.retries == 1)
        // What an asynchronous commit lost to a server crash looks like: the checkpoint is back.
        try fixture.admin.query("UPDATE \(fixture.schema).projection_checkpoints SET position = 10")
        try terminate()
        let error = try #require(throws: ProjectionError.self) {
            try engine.apply(batch: Array(log.events[20..<30]), positions: [CheckpointPosition(source: "log", partition: 0, position: 30)])
        }
        #expect(error.code == .postgres)
        #expect(error.message.contains("lost batches committed during its bulk load") && error.message.contains("start the rebuild over"))
        #expect(try fixture.rows("SELECT count(*) FROM $schema.collected_daily_bars") == [["20"]])
    }
}

/// How many more times the killer thread may kill the sink's backend, and whether it should stop.
/// The `CLIENT LIST` id of the Redis connection named `name`, if it is connected.
private func clientID(named name: String, _ redis: RedisConnection) -> String? {
    let clients = (try? redis.command("CLIENT", "LIST").string) ?? ""
    guard let line = clients.split(separator: "\n").first(where: { $0.contains(" name=\(name) ") }),
          let id = line.split(separator: " ").first(where: { $0.hasPrefix("id=") })?.dropFirst(3)
    else { return nil }
    return String(id)
}

/// What a batch applied on another thread did.
private final class ApplyOutcome: @unchecked Sendable {  // guarded by lock
    private let lock = NSLock()
    private var done = false
    private var storedRetries = 0
    private var storedError: (any Error)?
    var isDone: Bool { lock.withLock { done } }
    var retries: Int { lock.withLock { storedRetries } }
    var error: (any Error)? { lock.withLock { storedError } }
    func finish(retries: Int, error: (any Error)?) { lock.withLock { storedRetries = retries; storedError = error; done = true } }
}

private final class KillBudget: @unchecked Sendable {  // guarded by lock
    private let lock = NSLock()
    private var remaining = 0
    private var killed = 0
    private var done = false
    /// Kills so far.
    var value: Int { lock.withLock { killed } }
    var isDone: Bool { lock.withLock { done } }
    var mayKill: Bool { lock.withLock { remaining > 0 } }
    /// Allows `count` more kills from now on (replacing what is left of the previous grant).
    func grant(_ count: Int) { lock.withLock { remaining = count } }
    func recordKill() { lock.withLock { killed += 1; remaining -= 1 } }
    func finish() { lock.withLock { done = true } }
}
