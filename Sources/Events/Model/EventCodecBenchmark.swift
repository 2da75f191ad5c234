/// Deterministic mixed market-data events for the benchmarks (`tickfold bench log`, `bench
/// rebuild`) and the tests that need realistic events: the same seed gives the same events.
public enum EventCodecBenchmark {
    /// `count` deterministic events of the mix (mostly bars, trades and tickers, some news
    /// and posts).
    public static func sampleEvents(count: Int, seed: UInt64 = 0x7_1c4f) throws -> [Event] {
        try samples(count: count, seed: seed).map { try $0.makeTyped() }
    }

    static func samples(count: Int, seed: UInt64) -> [Sample] {
        var generator = SampleGenerator(seed: seed)
        return (0..<count).map { generator.sample(kind: $0) }
    }

    /// One event's inputs before `Event.make`.
    struct Sample {
        let payload: any EventPayload
        let source: String
        let subject: String
        let occurredAt: Timestamp
        let observedAt: Timestamp
        let provenance: Provenance?

        func makeTyped() throws -> Event {
            try Event.make(payload, source: source, subject: subject, occurredAt: occurredAt, observedAt: observedAt, provenance: provenance)
        }
    }

    /// Realistic market-data events: mostly bars, trades and tickers, some news and posts.
    struct SampleGenerator {
        var random: SplitMix64

        init(seed: UInt64) { random = SplitMix64(seed: seed) }

        mutating func next() -> UInt64 { random.next() }

        mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }

        mutating func pick(_ choices: [String]) -> String { choices[int(0...(choices.count - 1))] }

        mutating func price() -> DecimalString {
            DecimalString("\(int(1...4999)).\(int(10...99))\(int(0...9))")!
        }

        mutating func ticker() -> String {
            pick(["SPY", "QQQ", "AAPL", "MSFT", "NVDA", "TSLA", "XLK", "XLF", "BRK.B", "005930.KS", "ARKK", "IWM"])
        }

        mutating func words(_ n: Int) -> String {
            let vocabulary = ["market", "rally", "shares", "earnings", "guidance", "rate", "cut", "Fed", "chips", "demand",
                              "record", "quarter", "\"beat\"", "miss", "outlook", "inflation", "삼성전자", "jobs", "yield", "AI"]
            var text = ""
            for i in 0..<n {
                if i > 0 { text += " " }
                text += pick(vocabulary)
            }
            return text
        }

        mutating func sample(kind index: Int) -> Sample {
            let day = Int64(19_000 + int(0...1500))
            let occurredAt = Timestamp(millisecondsSinceEpoch: day * 86_400_000 + Int64(int(0...86_399_999)))
            let observedAt = Timestamp(millisecondsSinceEpoch: occurredAt.millisecondsSinceEpoch + Int64(int(1000...600_000)))
            let date = LocalDate(daysSinceEpoch: day)
            let ticker = ticker()
            let fetch = Provenance(request: "\(pick(["yahoo", "alphavantage", "finnhub"])):\(ticker):\(int(1...99_999))")
            let payload: any EventPayload
            var source = "yahoo"
            var subject = ticker
            var provenance: Provenance? = fetch
            switch index % 10 {
            case 0, 1, 2:
                payload = DailyBar(date: date, open: price(), high: price(), low: price(), close: price(), adjClose: int(0...1) == 0 ? price() : nil, volume: int(0...90_000_000))
            case 3:
                payload = IntradayBar(interval: "5m", start: occurredAt, open: price(), high: price(), low: price(), close: price(), volume: int(0...2_000_000))
            case 4, 5:
                source = "finnhub"
                payload = Trade(price: price(), size: DecimalString("\(int(1...5000))")!, timestampMs: occurredAt.millisecondsSinceEpoch, conditions: int(0...2) == 0 ? ["1", "12"] : [])
            case 6:
                source = "bithumb"
                let coin = pick(["BTC", "ETH", "XRP", "SOL", "DOGE"])
                subject = coin
                provenance = nil
                payload = CryptoTicker(venue: .bithumb, market: "KRW-\(coin)", base: coin, quote: "KRW", lastPrice: price(), highPrice: price(), lowPrice: price(), volume24h: price(), changeRate24h: DecimalString("0.0\(int(10...999))")!, timestampMs: occurredAt.millisecondsSinceEpoch)
            case 7:
                source = "fred"
                subject = pick(["CPIAUCSL", "FEDFUNDS", "DGS10", "UNRATE"])
                payload = MacroObservation(seriesId: subject, date: date, value: "\(int(0...600)).\(int(0...99))")
            case 8:
                source = "alphavantage"
                let url = "https://news.example/\(int(1...9_999_999))/\(ticker.lowercased())"
                subject = url
                payload = NewsArticle(url: url, title: words(9), summary: words(int(10...30)), source: "Example Wire", publishedAt: occurredAt,
                                      authors: ["Jane Doe"], overallSentimentScore: DecimalString("0.\(int(100...999))")!, overallSentimentLabel: "Somewhat-Bullish",
                                      tickers: [TickerSentiment(ticker: ticker, relevance: DecimalString("0.\(int(100...999))")!, sentimentScore: DecimalString("0.\(int(100...999))")!, sentimentLabel: "Neutral")])
            default:
                source = "x"
                let handle = pick(["marketwatcher", "deltaone", "tradehawk"])
                subject = handle
                payload = SocialPost(platform: .x, postId: "\(next() >> 2)", authorId: "\(int(1...999_999_999))", authorHandle: handle, text: words(int(8...35)), createdAt: occurredAt,
                                     metrics: PostMetrics(likes: int(0...50_000), reposts: int(0...9000), replies: int(0...900)))
            }
            return Sample(payload: payload, source: source, subject: subject, occurredAt: occurredAt, observedAt: observedAt, provenance: provenance)
        }
    }
}
