import Events
import Ingest
import Testing
import TickfoldTesting

@Suite("Alpha Vantage parsers", .onTestThreads)
struct AlphaVantageParserTests {
    @Test("NEWS_SENTIMENT: 48 articles with topics, ticker sentiment and UTC publish times",
          .enabled(if: Samples.available, Samples.missingNote))
    func news() throws {
        let body = try Samples.bytes("api_samples/alpha_vantage/Legion808_Real-Time_News-Based_Trading_System/alpha_vantage_news.json")
        let context = parseContext("alpha_vantage", "NEWS_SENTIMENT")
        let result = try parse(body, context)
        let articles = try payloads(result, NewsArticle.self)
        #expect(articles.count == 48)
        #expect(result.issues.isEmpty)
        let first = try #require(articles.first)
        #expect(first.url == "https://www.benzinga.com/news/earnings/25/01/43379598/apple-exxon-mobil-and-3-stocks-to-watch-heading-into-friday")
        #expect(first.publishedAt.rfc3339 == "2025-01-31T10:57:09.000Z")
        #expect(first.source == "Benzinga" && first.category == "Markets" && first.authors == ["Avi Kapoor"])
        #expect(first.overallSentimentScore == "0.268759" && first.overallSentimentLabel == "Somewhat-Bullish")
        #expect(first.topics.first == TopicRelevance(topic: "Financial Markets", relevance: "0.413559"))
        #expect(first.tickers.first == TickerSentiment(ticker: "AAPL", relevance: "0.457566", sentimentScore: "0.147256", sentimentLabel: "Neutral"))
        #expect(result.events.first?.subject == first.url)
        #expect(result.events.first?.source == "alphavantage")
        try expectStableIDs(body, context)
    }

    @Test("OVERVIEW of IBM: name, sector, decimals kept as sent, LatestQuarter as occurredAt",
          .enabled(if: Samples.available, Samples.missingNote))
    func overview() throws {
        let body = try Samples.bytes("api_samples/alpha_vantage/RomelTorres_alpha_vantage/mock_company_overview")
        let result = try parse(body, parseContext("alpha_vantage", "OVERVIEW", subject: "IBM"))
        let overview = try #require(try payloads(result, CompanyOverview.self).first)
        #expect(overview.name == "International Business Machines Corporation")
        #expect(overview.sector == "Technology" && overview.industry == "Information Technology Services")
        #expect(overview.marketCap == "114234572800" && overview.peRatio == "14.1327" && overview.dividendYield == "0.0529")
        #expect(overview.week52High == "158.75" && overview.latestQuarter == day("2020-06-30"))
        #expect(result.events.first?.occurredAt.rfc3339 == "2020-06-30T00:00:00.000Z")
        #expect(result.events.first?.subject == "IBM")

        _ = expectParseError(.sourceError, utf8("{}"), parseContext("alpha_vantage", "OVERVIEW", subject: "NOPE"))
        let partial = utf8(#"{"Symbol":"X","Name":"X Corp","MarketCapitalization":"None","PERatio":"-","EPS":"abc"}"#)
        _ = expectParseError(.invalidValue, partial, parseContext("alpha_vantage", "OVERVIEW", asOf: "2024-01-02"))
        let noneValues = utf8(#"{"Symbol":"X","Name":"X Corp","MarketCapitalization":"None","PERatio":"-"}"#)
        let sparse = try #require(try payloads(parse(noneValues, parseContext("alpha_vantage", "OVERVIEW", asOf: "2024-01-02")), CompanyOverview.self).first)
        #expect(sparse.marketCap == nil && sparse.peRatio == nil)
        _ = expectParseError(.missingField, noneValues, parseContext("alpha_vantage", "OVERVIEW"))
    }

    @Test("EARNINGS_CALENDAR CSV (spreadsheet M/D/YYYY dates): 8,018 rows, empty estimates omitted",
          .enabled(if: Samples.available, Samples.missingNote))
    func earningsCalendar() throws {
        let body = try Samples.bytes("earnings_calendar/AlphaGeek_finapi_alphavantage/earnings_calendar.csv")
        let context = parseContext("alpha_vantage", "EARNINGS_CALENDAR")
        let result = try parse(body, context)
        #expect(result.events.count + result.issues.count == 8018)
        #expect(result.issues.isEmpty, "\(result.issues.prefix(3))")
        let entries = try payloads(result, EarningsCalendarEntry.self)
        let agilent = try #require(entries.first)
        #expect(agilent == EarningsCalendarEntry(name: "Agilent Technologies Inc", reportDate: day("2023-11-20"),
                                                 fiscalDateEnding: day("2023-10-31"), estimate: "1.35", currency: "USD"))
        #expect(result.events.first?.subject == "A")
        #expect(entries[3].name == "ATA Creativity Global" && entries[3].estimate == nil && entries[3].currency == "CNY")
        #expect(entries[1].estimate == "-0.79")
        try expectStableIDs(Array(body.prefix(2000)), context)
    }

    @Test("EARNINGS_CALENDAR: ISO dates, quoted names, bad rows as issues, bad headers and JSON notes as errors")
    func earningsCalendarBroken() throws {
        let context = parseContext("alpha_vantage", "EARNINGS_CALENDAR")
        let csv = utf8("symbol,name,reportDate,fiscalDateEnding,estimate,currency\r\nIBM,\"International Business Machines, Corp\",2024-01-24,2023-12-31,3.78,USD\r\nBAD,Bad Inc,2024-13-01,2023-12-31,1,USD\r\nSHORT,Short Inc\r\nNUM,Num Inc,2024-01-24,2023-12-31,abc,USD\r\n")
        let result = try parse(csv, context)
        #expect(result.events.count == 1)
        #expect(try payloads(result, EarningsCalendarEntry.self).first?.name == "International Business Machines, Corp")
        #expect(result.issues.map(\.location) == ["line 3 reportDate", "line 4", "line 5 estimate"])
        let header = expectParseError(.malformedCSV, utf8("symbol,name,date\nIBM,IBM,2024-01-01\n"), context)
        #expect(header?.detail.contains("reportDate") == true)
        _ = expectParseError(.malformedCSV, utf8("symbol,name,reportDate,fiscalDateEnding,estimate,currency\nIBM,\"unterminated,2024-01-24"), context)
        _ = expectParseError(.sourceError, utf8(#"{"Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day."}"#), context)
        #expect(try parse(utf8("symbol,name,reportDate,fiscalDateEnding,estimate,currency\n"), context).events.isEmpty)
    }

    @Test("TOP_GAINERS_LOSERS (documented shape): three lists ranked, percent sign dropped, US/Eastern to UTC")
    func movers() throws {
        let body = utf8("""
        {"metadata":"Top gainers, losers, and most actively traded US tickers","last_updated":"2023-10-13 16:15:59 US/Eastern",
         "top_gainers":[{"ticker":"GAIN","price":"0.0013","change_amount":"0.0007","change_percentage":"116.6667%","volume":"79546"},
                        {"ticker":"UP","price":"12.5","change_amount":"2.5","change_percentage":"25.0%","volume":"100"}],
         "top_losers":[{"ticker":"DOWN","price":"1.10","change_amount":"-0.90","change_percentage":"-45.0%","volume":"5000"}],
         "most_actively_traded":[{"ticker":"BUSY","price":"3.01","change_amount":"0.01","change_percentage":"0.3333%","volume":"123456789"},
                                 {"ticker":"BROKEN","price":"x","change_amount":"0.01","change_percentage":"1%","volume":"1"}]}
        """)
        let context = parseContext("alpha_vantage", "TOP_GAINERS_LOSERS")
        let result = try parse(body, context)
        let movers = try payloads(result, MarketMover.self)
        #expect(movers.count == 4)
        #expect(movers[0] == MarketMover(category: .gainer, rank: 1, price: "0.0013", changeAmount: "0.0007", changePercent: "116.6667", volume: 79546))
        #expect(movers[1].rank == 2 && movers[2].category == .loser && movers[2].changePercent == "-45.0")
        #expect(movers[3].category == .mostActive)
        #expect(result.issues.map(\.location) == ["$.most_actively_traded[1].price"])
        // 16:15:59 EDT (October) is 20:15:59 UTC.
        #expect(result.events.first?.occurredAt.rfc3339 == "2023-10-13T20:15:59.000Z")
        let winter = utf8(#"{"last_updated":"2024-01-12 16:15:59 US/Eastern","top_gainers":[]}"#)
        #expect(try parse(winter, context).events.isEmpty)
        _ = expectParseError(.missingField, utf8(#"{"last_updated":"2024-01-12 16:15:59 US/Eastern"}"#), context)
        _ = expectParseError(.invalidValue, utf8(#"{"last_updated":"yesterday","top_gainers":[]}"#), context)
    }

    @Test("US Eastern daylight-saving boundaries")
    func easternTime() throws {
        func utc(_ local: String) throws -> String {
            let body = utf8(#"{"last_updated":"\#(local) US/Eastern","top_gainers":[{"ticker":"A","price":"1","change_amount":"0","change_percentage":"0%","volume":"1"}]}"#)
            return try parse(body, parseContext("alpha_vantage", "TOP_GAINERS_LOSERS")).events[0].occurredAt.rfc3339
        }
        #expect(try utc("2024-03-10 01:59:59") == "2024-03-10T06:59:59.000Z")
        #expect(try utc("2024-03-10 03:00:00") == "2024-03-10T07:00:00.000Z")
        #expect(try utc("2024-11-03 00:30:00") == "2024-11-03T04:30:00.000Z")
        #expect(try utc("2024-11-03 02:30:00") == "2024-11-03T07:30:00.000Z")
        #expect(try utc("2006-04-02 12:00:00") == "2006-04-02T16:00:00.000Z")
        #expect(try utc("2006-10-29 12:00:00") == "2006-10-29T17:00:00.000Z")
    }

    @Test("BALANCE_SHEET (documented shape): annual and quarterly reports, None omitted, bad report an issue")
    func balanceSheet() throws {
        let body = utf8("""
        {"symbol":"IBM","annualReports":[{"fiscalDateEnding":"2023-12-31","reportedCurrency":"USD","totalAssets":"135241000000",
          "totalCurrentAssets":"32908000000","cashAndCashEquivalentsAtCarryingValue":"13068000000","totalLiabilities":"112628000000",
          "totalCurrentLiabilities":"34122000000","shortTermDebt":"None","longTermDebt":"50121000000","totalShareholderEquity":"22533000000",
          "retainedEarnings":"151276000000","commonStockSharesOutstanding":"915013486"}],
         "quarterlyReports":[{"fiscalDateEnding":"2024-03-31","reportedCurrency":"USD","totalAssets":"137169000000"},
                             {"fiscalDateEnding":"not a date","reportedCurrency":"USD"}]}
        """)
        let context = parseContext("alpha_vantage", "BALANCE_SHEET")
        let result = try parse(body, context)
        let sheets = try payloads(result, BalanceSheet.self)
        #expect(sheets.count == 2)
        #expect(sheets[0].period == .annual && sheets[0].totalAssets == "135241000000" && sheets[0].shortTermDebt == nil)
        #expect(sheets[0].cashAndEquivalents == "13068000000" && sheets[0].sharesOutstanding == "915013486")
        #expect(sheets[1].period == .quarterly && sheets[1].fiscalDateEnding == day("2024-03-31"))
        #expect(result.issues.map(\.location) == ["$.quarterlyReports[1].fiscalDateEnding"])
        #expect(result.events.first?.subject == "IBM")
        _ = expectParseError(.missingField, utf8(#"{"symbol":"IBM"}"#), context)
        _ = expectParseError(.wrongType, utf8(#"{"symbol":"IBM","annualReports":{}}"#), context)
    }

    @Test("economic indicators (documented shape): series ids name function, maturity and interval; '.' kept")
    func economic() throws {
        let body = utf8(#"{"name":"10-Year Treasury Constant Maturity Rate","interval":"daily","unit":"percent","data":[{"date":"2024-05-01","value":"4.63"},{"date":"2024-04-30","value":"."},{"date":"2024-04-29","value":"n/a"}]}"#)
        let treasury = try parse(body, parseContext("alpha_vantage", "TREASURY_YIELD", parameters: ["maturity": "2year"]))
        let observations = try payloads(treasury, MacroObservation.self)
        #expect(observations.map(\.seriesId) == ["TREASURY_YIELD_2YEAR_DAILY", "TREASURY_YIELD_2YEAR_DAILY"])
        #expect(observations.map(\.value) == ["4.63", "."])
        #expect(treasury.issues.map(\.location) == ["$.data[2].value"])
        let cpi = utf8(#"{"name":"Consumer Price Index for all Urban Consumers","interval":"monthly","unit":"index 1982-1984=100","data":[{"date":"2024-03-01","value":"312.332"}]}"#)
        let result = try parse(cpi, parseContext("alpha_vantage", "CPI"))
        #expect(result.events.first?.subject == "CPI_MONTHLY")
        #expect(result.events.first?.occurredAt.rfc3339 == "2024-03-01T00:00:00.000Z")
        let inflation = utf8(#"{"name":"Inflation - US Consumer Prices","interval":"annual","unit":"percent","data":[{"date":"2023-01-01","value":"4.11633838374488"}]}"#)
        #expect(try parse(inflation, parseContext("alpha_vantage", "INFLATION")).events.first?.subject == "INFLATION_ANNUAL")
        _ = expectParseError(.wrongType, utf8(#"{"name":"x","data":"none"}"#), parseContext("alpha_vantage", "FEDERAL_FUNDS_RATE"))
    }

    @Test("rate-limit notes and error messages are source errors, and never leak the key")
    func notes() {
        let context = parseContext("alpha_vantage", "NEWS_SENTIMENT")
        let note = utf8(#"{"Note":"Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute. https://www.alphavantage.co/query?function=X&apikey=SECRETKEY123"}"#)
        let error = expectParseError(.sourceError, note, context)
        #expect(error?.description.contains("SECRETKEY123") == false)
        #expect(error?.description.contains("apikey=***") == true)
        _ = expectParseError(.sourceError, utf8(#"{"Error Message":"Invalid API call."}"#), parseContext("alpha_vantage", "BALANCE_SHEET"))
        _ = expectParseError(.sourceError, utf8(#"{"Information":"premium endpoint"}"#), parseContext("alpha_vantage", "TOP_GAINERS_LOSERS"))
    }
}
