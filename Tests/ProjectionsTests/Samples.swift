import Events
import Projections

/// Realistic events of every family the collected layer projects, with log positions.
enum Samples {
    static func at(_ text: String) -> Timestamp { try! Timestamp(canonical: text) }
    static func day(_ text: String) -> LocalDate { try! LocalDate(text) }

    static func logged<P: EventPayload>(_ payload: P, source: String, subject: String, occurredAt: String = "2025-03-14T20:00:00.000Z", seq: UInt64) throws -> Event {
        var event = try Event.make(payload, source: source, subject: subject, occurredAt: at(occurredAt))
        event.seq = seq
        return event
    }

    static func raw(type: String, version: Int, subject: String = "SPY", payload: JSONValue, seq: UInt64) throws -> Event {
        var event = try Event.make(type: type, version: version, source: "yahoo", subject: subject, occurredAt: at("2025-03-14T20:00:00.000Z"), payload: payload)
        event.seq = seq
        return event
    }

    static func bar(_ ticker: String, _ date: String, close: DecimalString, seq: UInt64, volume: Int = 1_000_000) throws -> Event {
        try logged(DailyBar(date: day(date), open: "560.10", high: "565.00", low: "558.25", close: close, adjClose: close, volume: volume),
                   source: "yahoo", subject: ticker, occurredAt: "\(date)T20:00:00.000Z", seq: seq)
    }

    static func trade(_ symbol: String, price: DecimalString, size: DecimalString, ms: Int64, seq: UInt64) throws -> Event {
        try logged(Trade(price: price, size: size, timestampMs: ms, conditions: ["1", "12"]), source: "finnhub", subject: symbol,
                   occurredAt: Timestamp(millisecondsSinceEpoch: ms).rfc3339, seq: seq)
    }

    /// One event of every projected family, seqs 1…n.
    static func everyFamily() throws -> [Event] {
        var seq: UInt64 = 0
        func next() -> UInt64 { seq += 1; return seq }
        return [
            try bar("SPY", "2025-03-13", close: "551.42", seq: next()),
            try logged(ETFProfile(name: "SPDR S&P 500 ETF Trust", etfType: "benchmark", sector: nil, description: "Tracks the S&P 500", family: "SPDR", expenseRatio: "0.0945", totalAssets: "570000000000", inceptionDate: day("1993-01-22")), source: "yahoo", subject: "SPY", seq: next()),
            try logged(ETFHolding(fund: "XLK", symbol: "AAPL", name: "Apple Inc.", weight: "14.52", asOf: day("2025-03-13"), rank: 1, shares: "1000000", marketValue: "213000000.50"), source: "yahoo", subject: "XLK", seq: next()),
            try logged(ETFHolding(fund: "XLK", symbol: nil, name: "Cash & Other", weight: "0.10", asOf: day("2025-03-13"), rank: 70), source: "yahoo", subject: "XLK", seq: next()),
            try logged(IndexConstituent(index: "sp500", symbol: "AAPL", name: "Apple Inc.", sector: "Information Technology", subIndustry: "Technology Hardware", headquarters: "Cupertino, California", dateAdded: day("1982-11-30"), cik: "0000320193", founded: "1977"), source: "wikipedia", subject: "AAPL", seq: next()),
            try logged(CompanyOverview(name: "Apple Inc", assetType: "Common Stock", exchange: "NASDAQ", currency: "USD", country: "USA", sector: "TECHNOLOGY", industry: "ELECTRONIC COMPUTERS", marketCap: "3200000000000", peRatio: "33.10", beta: "1.20", latestQuarter: day("2024-12-31")), source: "alphavantage", subject: "AAPL", seq: next()),
            try logged(BalanceSheet(period: .annual, fiscalDateEnding: day("2024-09-30"), reportedCurrency: "USD", totalAssets: "364980000000", totalLiabilities: "308030000000"), source: "alphavantage", subject: "AAPL", seq: next()),
            try logged(EarningsCalendarEntry(name: "Apple Inc", reportDate: day("2025-05-01"), fiscalDateEnding: day("2025-03-31"), estimate: "1.62", currency: "USD"), source: "alphavantage", subject: "AAPL", seq: next()),
            try logged(MarketMover(category: .gainer, rank: 1, price: "12.34", changeAmount: "3.10", changePercent: "33.5498", volume: 4_500_000), source: "alphavantage", subject: "ABCD", occurredAt: "2025-03-14T21:30:00.000Z", seq: next()),
            try logged(NewsArticle(url: "https://www.example.com/markets/apple-beats?utm=x", title: "Apple beats estimates", summary: "Revenue rose.", source: "Benzinga", publishedAt: at("2025-03-14T12:00:00.000Z"), authors: ["Jane Doe", "O\"Neil, Pat"], category: "earnings", overallSentimentScore: "0.31", overallSentimentLabel: "Somewhat-Bullish", topics: [TopicRelevance(topic: "Earnings", relevance: "0.99")], tickers: [TickerSentiment(ticker: "AAPL", relevance: "0.95", sentimentScore: "0.40", sentimentLabel: "Bullish"), TickerSentiment(ticker: "MSFT", relevance: "0.10"), TickerSentiment(ticker: "AAPL", relevance: "0.01")]), source: "alphavantage", subject: "https://www.example.com/markets/apple-beats", seq: next()),
            try logged(SocialPost(platform: .truthsocial, postId: "114000000000000001", authorId: "107780257626128497", authorHandle: "realDonaldTrump", text: "Tariffs!\tBig day.", createdAt: at("2025-03-14T13:00:00.000Z"), url: "https://truthsocial.com/@realDonaldTrump/114000000000000001", metrics: PostMetrics(likes: 12000, reposts: 3000, replies: 800)), source: "truthsocial", subject: "realDonaldTrump", seq: next()),
            try logged(SocialProfile(platform: .x, userId: "44196397", username: "elonmusk", displayName: "Elon Musk", followers: 200_000_000, following: 900, verified: true, createdAt: at("2009-06-02T20:12:29.000Z")), source: "x", subject: "elonmusk", seq: next()),
            try logged(CryptoListing(venue: .bithumb, symbol: "BTC", market: "KRW-BTC", koreanName: "비트코인", englishName: "Bitcoin"), source: "bithumb", subject: "BTC", seq: next()),
            try logged(CryptoMarket(coinId: "bitcoin", symbol: "btc", name: "Bitcoin", vsCurrency: "usd", currentPrice: "83950.12", marketCap: "1660000000000", marketCapRank: 1, totalVolume: "25000000000", lastUpdated: at("2025-03-14T20:00:00.000Z")), source: "coingecko", subject: "BTC", seq: next()),
            try logged(CryptoTicker(venue: .bithumb, market: "KRW-BTC", base: "BTC", quote: "KRW", lastPrice: "122500000", changePrice24h: "-1500000", changeRate24h: "-0.0121", timestampMs: 1_741_982_400_000), source: "bithumb", subject: "BTC", seq: next()),
            try logged(MacroObservation(seriesId: "CPIAUCSL", date: day("2025-02-01"), value: "319.775"), source: "fred", subject: "CPIAUCSL", seq: next()),
            try logged(MacroObservation(seriesId: "DGS10", date: day("2025-02-17"), value: "."), source: "fred", subject: "DGS10", seq: next()),
            try trade("AAPL", price: "213.49", size: "100", ms: 1_741_982_399_123, seq: next()),
        ]
    }
}
