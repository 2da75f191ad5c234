import Events
import Ingest
import Testing
import TickfoldTesting

@Suite("Yahoo Finance parsers", .onTestThreads, .enabled(if: Samples.available, Samples.missingNote))
struct YahooParserTests {
    let chart = parseContext("yahoo_finance", "chart")

    @Test("daily chart with a 4:1 split and a dividend: bars, adjClose, split and dividend events")
    func dailyWithEvents() throws {
        let result = try parse(Samples.yahooBody("chart-AAPL-2020-08-31-to-2020-11-07.json"), chart)
        let bars = try payloads(result, DailyBar.self)
        #expect(bars.count == 49)
        #expect(result.issues.isEmpty && result.skipped == 0)
        let first = try #require(bars.first)
        #expect(first.date == day("2020-08-31"))
        #expect(first.open == "127.58000183105469")
        #expect(first.high == "131")
        #expect(first.low == "126")
        #expect(first.close == "129.0399932861328")
        #expect(first.adjClose == "128.02847290039062")
        #expect(first.volume == 225_702_700)
        #expect(bars.last?.date == day("2020-11-06"))
        #expect(bars.last?.close == "118.69000244140625")
        let event = try #require(result.events.first { $0.type == DailyBar.type })
        #expect(event.source == "yahoo" && event.subject == "AAPL")
        #expect(event.occurredAt.rfc3339 == "2020-08-31T00:00:00.000Z")

        let splits = try payloads(result, StockSplit.self)
        #expect(splits == [StockSplit(date: day("2020-08-31"), numerator: "4", denominator: "1")])
        let dividends = try payloads(result, CashDividend.self)
        #expect(dividends == [CashDividend(date: day("2020-11-06"), amount: "0.205", currency: "USD")])
        try expectStableIDs(Samples.yahooBody("chart-AAPL-2020-08-31-to-2020-11-07.json"), chart)
    }

    @Test("historical NVDA chart: the 2021-07-20 4:1 split; MSFT: four dividends")
    func splitAndDividendHistories() throws {
        let nvda = try parse(Samples.yahooBody("historical-via-chart-NVDA-split-2021-02-01-to-2022-01-31.csv"), chart)
        #expect(try payloads(nvda, DailyBar.self).count == 252)
        #expect(try payloads(nvda, StockSplit.self) == [StockSplit(date: day("2021-07-20"), numerator: "4", denominator: "1")])
        let msft = try parse(Samples.yahooBody("historical-via-chart-MSFT-dividends-2021-02-01-to-2022-01-31.csv"), chart)
        let dividends = try payloads(msft, CashDividend.self)
        #expect(dividends.map(\.amount) == ["0.56", "0.56", "0.56", "0.62"])
        #expect(dividends.last?.date == day("2021-11-17"))
    }

    @Test("crypto daily bars are dated in UTC (gmtoffset 0)")
    func cryptoDaily() throws {
        let result = try parse(Samples.yahooBody("chart-BTC-USD-2020-01-01-to-2020-01-03.json"), chart)
        let bars = try payloads(result, DailyBar.self)
        #expect(bars.map(\.date.description) == ["2020-01-01", "2020-01-02", "2020-01-03"])
        #expect(bars.first?.close == "7200.17431640625")
        #expect(result.events.allSatisfy { $0.subject == "BTC-USD" })
    }

    @Test("1m intraday chart: 390 bars, the all-null (halted) entry skipped and counted")
    func intradayWithNullBar() throws {
        let body = try Samples.yahooBody("chart-AAPL-2024-10-02-to-2024-10-03-includePrePost-false-interval-1m.json")
        let result = try parse(body, chart)
        let bars = try payloads(result, IntradayBar.self)
        #expect(bars.count == 390)
        #expect(result.skipped == 1)
        #expect(result.issues.isEmpty)
        #expect(!bars.contains { $0.start.millisecondsSinceEpoch == 1_727_882_100_000 })
        let first = try #require(bars.first)
        #expect(first.interval == "1m")
        #expect(first.start.rfc3339 == "2024-10-02T13:30:00.000Z")
        #expect(first.open == "225.88999938964844" && first.close == "225.6999969482422" && first.volume == 1_205_461)
        #expect(result.events.first?.occurredAt == first.start)
        try expectStableIDs(body, chart)
    }

    @Test("30m intraday chart with pre/post market: 30 bars")
    func thirtyMinutes() throws {
        let result = try parse(Samples.yahooBody("chart-TSLA-2021-11-22-to-2021-11-23-interval-30m.json"), chart)
        let bars = try payloads(result, IntradayBar.self)
        #expect(bars.count == 30)
        #expect(bars.first?.interval == "30m" && bars.first?.open == "1148.51")
    }

    @Test("quoteSummary of QQQ: ten holdings ranked by weight, weights in percent, and an overview")
    func quoteSummaryHoldings() throws {
        let body = try Samples.yahooBody("quoteSummary-all-QQQ.json")
        let context = parseContext("yahoo_finance", "quoteSummary", subject: "QQQ")
        let result = try parse(body, context)
        #expect(result.issues.isEmpty)
        let holdings = try payloads(result, ETFHolding.self)
        #expect(holdings.count == 10)
        let top = try #require(holdings.first)
        #expect(top.fund == "QQQ" && top.symbol == "AAPL" && top.name == "Apple Inc" && top.rank == 1)
        #expect(top.weight == "11.270001")
        // asOf comes from price.regularMarketTime 1656524368 (2022-06-29) when the context gives none.
        #expect(top.asOf == day("2022-06-29"))
        #expect(holdings.map(\.rank) == Array(1...10))
        #expect(holdings.last?.symbol == "ADBE" && holdings.last?.weight == "2.15")
        let overview = try #require(try payloads(result, CompanyOverview.self).first)
        #expect(overview.name == "Invesco QQQ Trust")
        #expect(overview.assetType == "ETF" && overview.currency == "USD" && overview.exchange == "NGM")
        #expect(overview.marketCap == "111341641728")
        #expect(overview.week52High == "408.71" && overview.week52Low == "269.28")
        let event = try #require(result.events.first { $0.type == CompanyOverview.type })
        #expect(event.occurredAt.millisecondsSinceEpoch == 1_656_524_368_000)
        try expectStableIDs(body, context)

        var dated = context
        dated.asOf = day("2022-06-30")
        #expect(try payloads(parse(body, dated), ETFHolding.self).allSatisfy { $0.asOf.description == "2022-06-30" })
    }

    @Test("quoteSummary calendarEvents: AAPL's earnings date and estimate; GOOG without a date yields nothing")
    func calendarEvents() throws {
        let context = parseContext("yahoo_finance", "quoteSummary", subject: "AAPL")
        let result = try parse(Samples.yahooBody("quoteSummary-calendarEvents-AAPL.json"), context)
        let entries = try payloads(result, EarningsCalendarEntry.self)
        #expect(entries.count == 1)
        #expect(entries.first?.reportDate == day("2021-04-28"))
        #expect(entries.first?.estimate == "0.98")
        #expect(entries.first?.fiscalDateEnding == day("2021-03-31"))
        #expect(result.events.first?.subject == "AAPL")
        let goog = try parse(Samples.yahooBody("quoteSummary-calendarEvents-GOOG.json"), parseContext("yahoo_finance", "quoteSummary", subject: "GOOG"))
        #expect(goog.events.isEmpty && goog.issues.isEmpty)
    }

    @Test("Yahoo's error envelope is a source error naming the description")
    func errorEnvelope() {
        let body = utf8(#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#)
        let error = expectParseError(.sourceError, body, chart)
        #expect(error?.description.contains("symbol may be delisted") == true)
        let summary = utf8(#"{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}"#)
        _ = expectParseError(.sourceError, summary, parseContext("yahoo_finance", "quoteSummary"))
    }

    @Test("broken charts: mismatched arrays, wrong types, a partial bar, weekly granularity, no timestamps")
    func brokenCharts() throws {
        func body(_ quote: String, timestamps: String = "[1598880600,1598967000]", granularity: String = "1d") -> [UInt8] {
            utf8(#"{"chart":{"result":[{"meta":{"symbol":"AAPL","gmtoffset":-14400,"currency":"USD","dataGranularity":"\#(granularity)"},"timestamp":\#(timestamps),"indicators":{"quote":[\#(quote)]}}],"error":null}}"#)
        }
        let good = #"{"open":[1.5,2],"high":[2,3],"low":[1,1.5],"close":[1.75,2.5],"volume":[100,200]}"#
        #expect(try parse(body(good), chart).events.count == 2)

        let short = #"{"open":[1.5],"high":[2,3],"low":[1,1.5],"close":[1.75,2.5],"volume":[100,200]}"#
        let mismatch = expectParseError(.invalidValue, body(short), chart)
        #expect(mismatch?.location == "$.chart.result[0].indicators.quote[0].open")
        #expect(mismatch?.detail.contains("1 entries for 2 timestamps") == true)

        _ = expectParseError(.wrongType, body(#"{"open":"x","high":[2,3],"low":[1,1.5],"close":[1.75,2.5],"volume":[100,200]}"#), chart)
        _ = expectParseError(.missingField, body(#"{"open":[1.5,2],"high":[2,3],"low":[1,1.5],"close":[1.75,2.5]}"#), chart)

        let partial = #"{"open":[1.5,null],"high":[2,3],"low":[1,1.5],"close":[1.75,2.5],"volume":[100,200]}"#
        let result = try parse(body(partial), chart)
        #expect(result.events.count == 1)
        #expect(result.issues.count == 1)
        #expect(result.issues.first?.location == "$.chart.result[0].indicators.quote[0].open[1]")

        let badPrice = #"{"open":[1.5,"abc"],"high":[2,3],"low":[1,1.5],"close":[1.75,2.5],"volume":[100,-5]}"#
        #expect(try parse(body(badPrice), chart).issues.count == 1)

        _ = expectParseError(.invalidValue, body(good, granularity: "1wk"), chart)

        let empty = utf8(#"{"chart":{"result":[{"meta":{"symbol":"AAPL","dataGranularity":"1d"},"indicators":{"quote":[{}]}}],"error":null}}"#)
        let none = try parse(empty, chart)
        #expect(none.events.isEmpty && none.issues.isEmpty)
        #expect(try parse(utf8(#"{"chart":{"result":[],"error":null}}"#), chart).events.isEmpty)
        _ = expectParseError(.missingField, utf8(#"{"chart":{"error":null}}"#), chart)
        _ = expectParseError(.wrongType, utf8(#"{"chart":{"result":{},"error":null}}"#), chart)
    }

    @Test("topHoldings without a date anywhere needs asOf; a holding without a weight is an issue")
    func brokenHoldings() throws {
        let body = utf8(#"{"quoteSummary":{"result":[{"topHoldings":{"holdings":[{"symbol":"AAPL","holdingName":"Apple","holdingPercent":0.1},{"symbol":"MSFT","holdingName":"Microsoft"}]}}],"error":null}}"#)
        let context = parseContext("yahoo_finance", "quoteSummary", subject: "QQQ")
        _ = expectParseError(.missingField, body, context)
        var dated = context
        dated.asOf = day("2024-05-01")
        let result = try parse(body, dated)
        #expect(result.events.count == 1)
        #expect(result.issues.map(\.location) == ["$.quoteSummary.result[0].topHoldings.holdings[1].holdingPercent"])
    }
}
