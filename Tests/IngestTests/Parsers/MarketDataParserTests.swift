import Events
import Ingest
import Testing
import TickfoldTesting

@Suite("Finnhub, FRED, CoinGecko and Bithumb parsers", .onTestThreads)
struct MarketDataParserTests {
    @Test("Finnhub company-news: 249 AAPL articles with epoch publish times and the related ticker",
          .enabled(if: Samples.available, Samples.missingNote))
    func companyNews() throws {
        let body = try Samples.bytes("api_samples/finnhub/kxuff_stock_bigdata/finnhub_news.json")
        let context = parseContext("finnhub", "company-news", subject: "AAPL")
        let result = try parse(body, context)
        let articles = try payloads(result, NewsArticle.self)
        #expect(articles.count == 249 && result.issues.isEmpty)
        let first = try #require(articles.first)
        #expect(first.url == "https://finnhub.io/api/news?id=bc647542d2e1fe625a83695c9340518cc65cddd04774bc3a04eca4b8b6957328")
        #expect(first.publishedAt.millisecondsSinceEpoch == 1_776_346_527_000)
        #expect(first.source == "Yahoo" && first.category == "company")
        #expect(first.tickers == [TickerSentiment(ticker: "AAPL", relevance: "1")])
        #expect(articles.last?.imageUrl == nil)
        try expectStableIDs(body, context)
    }

    @Test("Finnhub's real no-access body is a source error", .enabled(if: Samples.available, Samples.missingNote))
    func finnhubError() throws {
        let body = try Samples.bytes("api_samples/finnhub/kxuff_stock_bigdata/finnhub_sentiment.json")
        let error = expectParseError(.sourceError, body, parseContext("finnhub", "company-news", subject: "AAPL"))
        #expect(error?.detail.contains("You don't have access to this resource.") == true)
    }

    @Test("Finnhub trade message: nine prints with conditions; ping is empty; error and unknown types refused",
          .enabled(if: Samples.available, Samples.missingNote))
    func trades() throws {
        let body = try Samples.bytes("api_samples/finnhub/tspannhw_FLiPN-Py-Stocks/DERIVED_ws_trade_message_extracted_from_README.jsonl")
        let context = parseContext("finnhub", "trade")
        let result = try parse(body, context)
        let trades = try payloads(result, Trade.self)
        #expect(trades.count == 9)
        #expect(trades.first == Trade(price: "122.1", size: "1", timestampMs: 1_672_348_887_195, conditions: ["1", "8", "24", "12"]))
        #expect(trades.last?.price == "129.575")
        #expect(result.events.map(\.subject).filter { $0 == "AAPL" }.count == 2)
        #expect(result.events.first?.occurredAt.millisecondsSinceEpoch == 1_672_348_887_195)
        try expectStableIDs(body, context)

        let stream = body + utf8("\n{\"type\":\"ping\"}\n") + body
        #expect(try parse(stream, context).events.count == 18)
        #expect(try parse(utf8(#"{"type":"ping"}"#), context).events.isEmpty)
        _ = expectParseError(.sourceError, utf8(#"{"type":"error","msg":"Invalid API key"}"#), context)
        _ = expectParseError(.invalidValue, utf8(#"{"type":"news","data":[]}"#), context)
        let broken = try parse(utf8(#"{"type":"trade","data":[{"p":1,"s":"X","t":5,"v":1},{"p":"1","s":"X","v":1},{"p":1,"s":"X","t":6,"v":1,"c":[{}]}]}"#), context)
        #expect(broken.events.count == 1)
        #expect(broken.issues.map(\.location) == ["$.data[1].t", "$.data[2].c[0]"])
        _ = expectParseError(.malformedJSON, utf8("{\"type\":\"trade\",\"data\":[]}\n{\"type\":"), context)
    }

    @Test("FRED observations: CPIAUCSL's 319 months with the missing 2025-10-01 kept as '.'",
          .enabled(if: Samples.available, Samples.missingNote))
    func fred() throws {
        let body = try Samples.bytes("api_samples/fred/pansack_us-dashboardv2/CPIAUCSL.json")
        let context = parseContext("fred", "series/observations", subject: "CPIAUCSL")
        let result = try parse(body, context)
        let observations = try payloads(result, MacroObservation.self)
        #expect(observations.count == 319 && result.issues.isEmpty)
        #expect(observations.first == MacroObservation(seriesId: "CPIAUCSL", date: day("2000-01-01"), value: "169.3"))
        #expect(observations.first { $0.date.description == "2025-10-01" }?.value == ".")
        #expect(observations.last?.value == "332.813")
        #expect(result.events.first?.subject == "CPIAUCSL" && result.events.first?.source == "fred")
        try expectStableIDs(body, context)
        let unrate = try parse(Samples.bytes("api_samples/fred/pansack_us-dashboardv2/UNRATE.json"),
                               parseContext("fred", "series/observations", parameters: ["series_id": "UNRATE"]))
        #expect(unrate.events.count == 319 && unrate.events.allSatisfy { $0.subject == "UNRATE" })

        let missing = expectParseError(.missingContext, body, parseContext("fred", "series/observations"))
        #expect(missing?.detail.contains("series id") == true)
        _ = expectParseError(.sourceError, utf8(#"{"error_code":400,"error_message":"Bad Request.  The series does not exist."}"#), context)
        let bad = try parse(utf8(#"{"observations":[{"date":"2024-01-01","value":"1.5"},{"date":"2024-02-30","value":"1"},{"value":"2"},{"date":"2024-03-01","value":7}]}"#), context)
        #expect(bad.events.count == 1)
        #expect(bad.issues.map(\.location) == ["$.observations[1].date", "$.observations[2].date", "$.observations[3].value"])
    }

    @Test("CoinGecko /coins/markets: 30 coins (EUR) and 250 coins, last_updated as occurredAt; vs_currency required",
          .enabled(if: Samples.available, Samples.missingNote))
    func coinMarkets() throws {
        let body = try Samples.bytes("api_samples/coingecko/RozanovIgor_monkey/coins_markets.json")
        let context = parseContext("coingecko", "coins/markets", parameters: ["vs_currency": "eur"])
        let result = try parse(body, context)
        let markets = try payloads(result, CryptoMarket.self)
        #expect(markets.count == 30 && result.issues.isEmpty)
        let bitcoin = try #require(markets.first)
        #expect(bitcoin.coinId == "bitcoin" && bitcoin.symbol == "BTC" && bitcoin.vsCurrency == "eur")
        #expect(bitcoin.currentPrice == "79847" && bitcoin.marketCapRank == 1 && bitcoin.marketCap == "1592704518472")
        #expect(bitcoin.priceChange24h == "-7128.754488713603" && bitcoin.circulatingSupply == "19832115")
        #expect(result.events.first?.occurredAt.rfc3339 == "2025-03-04T14:45:50.155Z")
        #expect(result.events.first?.subject == "BTC")
        try expectStableIDs(body, context)
        // The file is named coins_list.json but holds a /coins/markets answer.
        let older = try parse(Samples.bytes("api_samples/coingecko/theSimizu_cryptomonitor/coins_list.json"),
                              parseContext("coingecko", "coins/markets", parameters: ["vs_currency": "usd"]))
        #expect(older.events.count + older.issues.count == 250)
        #expect(older.events.count >= 240)
        _ = expectParseError(.missingContext, body, parseContext("coingecko", "coins/markets"))
        _ = expectParseError(.sourceError, utf8(#"{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit."}}"#), context)
    }

    @Test("CoinGecko /coins/list: 12,868 coins as listings dated by asOf", .enabled(if: Samples.available, Samples.missingNote))
    func coinList() throws {
        let body = try Samples.bytes("api_samples/coingecko/ALEXA8596_CoinGecko-Price-Bots/coins_list.json")
        let context = parseContext("coingecko", "coins/list", asOf: "2024-06-01")
        let result = try parse(body, context)
        #expect(result.events.count + result.issues.count == 12_868)
        #expect(result.issues.count < 10, "\(result.issues.prefix(3))")
        let first = try #require(try payloads(result, CryptoListing.self).first)
        #expect(first == CryptoListing(venue: .coingecko, symbol: "ZOC", coinId: "01coin", name: "01coin"))
        #expect(result.events.first?.occurredAt.rfc3339 == "2024-06-01T00:00:00.000Z")
        _ = expectParseError(.missingContext, body, parseContext("coingecko", "coins/list"))
    }

    @Test("CoinGecko /coins/{id}/tickers (documented shape): exchange-qualified markets")
    func coinTickers() throws {
        let body = utf8("""
        {"name":"Bitcoin","tickers":[
          {"base":"BTC","target":"USDT","market":{"name":"Binance","identifier":"binance","has_trading_incentive":false},
           "last":67187.33,"volume":18645.12,"trust_score":"green","timestamp":"2024-04-08T04:02:01+00:00",
           "last_traded_at":"2024-04-08T04:02:00+00:00","coin_id":"bitcoin","target_coin_id":"tether"},
          {"base":"BTC","target":"USD","market":{"name":"Broken"},"last":1,"timestamp":"2024-04-08T04:02:01+00:00"}]}
        """)
        let result = try parse(body, parseContext("coingecko", "coins/tickers", subject: "bitcoin"))
        let tickers = try payloads(result, CryptoTicker.self)
        #expect(tickers.count == 1)
        #expect(tickers.first?.market == "binance:BTC/USDT" && tickers.first?.lastPrice == "67187.33" && tickers.first?.volume24h == "18645.12")
        #expect(tickers.first?.timestampMs == 1_712_548_920_000)
        #expect(result.issues.map(\.location) == ["$.tickers[1].market.identifier"])
    }

    @Test("Bithumb /public/ticker/BTC (2018): closing price, 24h volume and the venue's own time",
          .enabled(if: Samples.available, Samples.missingNote))
    func bithumbPublicTicker() throws {
        let body = try Samples.bytes("api_samples/bithumb/guoxiaoyong_simple-useful/bithumb.json")
        let context = parseContext("bithumb", "public/ticker", subject: "BTC")
        let result = try parse(body, context)
        let ticker = try #require(try payloads(result, CryptoTicker.self).first)
        #expect(ticker.market == "KRW-BTC" && ticker.base == "BTC" && ticker.quote == "KRW")
        #expect(ticker.lastPrice == "19984000" && ticker.openPrice == "21521000" && ticker.highPrice == "22200000" && ticker.lowPrice == "17510000")
        #expect(ticker.volume24h == "15010.9806379" && ticker.timestampMs == 1_515_658_390_759)
        #expect(result.events.first?.occurredAt.millisecondsSinceEpoch == 1_515_658_390_759)
        try expectStableIDs(body, context)
        _ = expectParseError(.sourceError, utf8(#"{"status":"5600","message":"Please try again"}"#), context)
        _ = expectParseError(.missingContext, body, parseContext("bithumb", "public/ticker"))
    }

    @Test("Bithumb /public/ticker/ALL_KRW rebuilt from the ccxt dump's raw info objects: 191 tickers",
          .enabled(if: Samples.available, Samples.missingNote))
    func bithumbAllTickers() throws {
        // DERIVED body: {"status":"0000","data":{BASE: info, …, "date": "…"}} from the dump's `info` objects.
        let dump = try JSONValue.parse(Samples.bytes("api_samples/bithumb/ShoutsAtGoats_tat3/bithumb.json"))
        guard case .object(let root) = dump, case .object(let tickers)? = root["tickers"] else { Issue.record("unexpected dump shape"); return }
        var data = JSONObject()
        var date: JSONValue = .null
        for member in tickers.members {
            guard case .object(let ticker) = member.value, case .object(var info)? = ticker["info"] else { continue }
            if let stamp = info["date"], case .number(let ms) = stamp { date = .string(String(Int64(ms))) }
            info["date"] = nil
            data[String(member.key.split(separator: "/")[0])] = .object(info)
        }
        data["date"] = date
        let body = try CanonicalJSON.encode(.object(JSONObject([.init("status", "0000"), .init("data", .object(data))])))
        let result = try parse(body, parseContext("bithumb", "public/ticker", subject: "ALL_KRW"))
        #expect(result.events.count == 191 && result.issues.isEmpty)
        let btc = try #require(try payloads(result, CryptoTicker.self).first { $0.base == "BTC" })
        #expect(btc.lastPrice == "22336000" && btc.prevClosePrice == "22639000" && btc.volume24h == "3074.74507676")
        // `fluctate_rate_24H` is a percent (-1.38 %); the ticker keeps /v1/ticker's fraction.
        #expect(btc.quoteVolume24h == "69011706773.4166" && btc.changePrice24h == "-313000" && btc.changeRate24h == "-0.0138")
        #expect(btc.market == "KRW-BTC" && btc.market == CryptoTicker.bithumbMarket(base: "BTC", quote: "KRW"))
        #expect(btc.timestampMs == 1_669_078_260_631)
    }

    @Test("Bithumb v1 market list and tickers (documented shape)")
    func bithumbV1() throws {
        let markets = utf8(#"[{"market":"KRW-BTC","korean_name":"비트코인","english_name":"Bitcoin","market_warning":"NONE"},{"market":"KRW-XYZ","korean_name":"엑스","english_name":"Xyz","market_warning":"CAUTION"},{"market":"BTC"}]"#)
        let listing = try parse(markets, parseContext("bithumb", "v1/market/all", asOf: "2025-01-02"))
        let listings = try payloads(listing, CryptoListing.self)
        #expect(listings.first == CryptoListing(venue: .bithumb, symbol: "BTC", market: "KRW-BTC", koreanName: "비트코인", englishName: "Bitcoin"))
        #expect(listings.last?.warning == "CAUTION")
        #expect(listing.issues.map(\.location) == ["$[2].market"])
        _ = expectParseError(.missingContext, markets, parseContext("bithumb", "v1/market/all"))

        let ticker = utf8(#"[{"market":"KRW-BTC","trade_date":"20250102","trade_time":"061512","trade_timestamp":1735798512000,"opening_price":140000000,"high_price":141500000.0,"low_price":139100000,"trade_price":140500000,"prev_closing_price":140000000,"change":"RISE","change_price":500000,"change_rate":0.0036,"signed_change_price":500000,"signed_change_rate":0.0036,"trade_volume":0.0012,"acc_trade_price":1.2e+10,"acc_trade_price_24h":98765432109.5,"acc_trade_volume":123.4,"acc_trade_volume_24h":701.2345,"timestamp":1735798512345}]"#)
        let result = try parse(ticker, parseContext("bithumb", "v1/ticker"))
        let snapshot = try #require(try payloads(result, CryptoTicker.self).first)
        #expect(snapshot.lastPrice == "140500000" && snapshot.highPrice == "141500000" && snapshot.changeRate24h == "0.0036")
        #expect(snapshot.quoteVolume24h == "98765432109.5" && snapshot.timestampMs == 1_735_798_512_345)
        _ = expectParseError(.sourceError, utf8(#"{"error":{"name":"invalid_parameter","message":"Invalid markets"}}"#), parseContext("bithumb", "v1/ticker"))
    }
}
