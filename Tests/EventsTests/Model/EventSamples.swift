import Events


/// Deterministic, varied events of every catalogued type (plus stored `bar.daily` v1 and
/// `crypto.ticker` v1 of Bithumb's older endpoint).
struct EventSamples {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// `count` events cycling through every generator.
    mutating func events(_ count: Int) throws -> [Event] {
        var out: [Event] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            out.append(try event(kind: i % Self.kinds))
        }
        return out
    }

    static let kinds = 24

    mutating func event(kind: Int) throws -> Event {
        let occurredAt = timestamp()
        let observedAt: Timestamp? = bool() ? Timestamp(millisecondsSinceEpoch: min(Timestamp.range.upperBound, occurredAt.millisecondsSinceEpoch + Int64(int(0...86_400_000)))) : nil
        let provenance: Provenance? = switch int(0...3) {
        case 0: nil
        case 1: Provenance(request: "GET \(word())?q=\(text(12))")
        case 2: Provenance(causation: text(20))
        default: Provenance(request: hex(16), causation: hex(64))
        }
        let ticker = ticker()
        func make<P: EventPayload>(_ p: P, _ source: String, _ subject: String) throws -> Event {
            try Event.make(p, source: source, subject: subject, occurredAt: occurredAt, observedAt: observedAt, provenance: provenance)
        }
        switch kind {
        case 0:
            return try make(DailyBar(date: date(), open: decimal(), high: decimal(), low: decimal(), close: decimal(), adjClose: bool() ? decimal() : nil, volume: count()), "yahoo", ticker)
        case 1:
            return try make(DailyBarV1(date: date(), open: decimal(), high: decimal(), low: decimal(), close: decimal(), volume: count()), "yahoo", ticker)
        case 2:
            return try make(IntradayBar(interval: IntradayBar.intervals.sorted()[int(0...7)], start: timestamp(), open: decimal(), high: decimal(), low: decimal(), close: decimal(), volume: count()), "yahoo", ticker)
        case 3:
            return try make(Trade(price: decimal(), size: decimal(), timestampMs: Int64(int(0...4_102_444_800_000)), conditions: (0..<int(0...4)).map { _ in String(int(0...40)) }), "finnhub", ticker)
        case 4:
            return try make(MarketMover(category: MoverCategory.allCases[int(0...2)], rank: int(1...20), price: decimal(), changeAmount: decimal(), changePercent: decimal(), volume: count()), "alphavantage", ticker)
        case 5:
            return try make(StockSplit(date: date(), numerator: decimal(), denominator: decimal()), "yahoo", ticker)
        case 6:
            return try make(CashDividend(date: date(), amount: decimal(), currency: (bool() ? "USD" : nil)), "yahoo", ticker)
        case 7:
            let series = ["CPIAUCSL", "FEDFUNDS", "DGS10", "UNRATE"][int(0...3)]
            return try make(MacroObservation(seriesId: series, date: date(), value: int(0...5) == 0 ? "." : decimal().text), "fred", series)
        case 8:
            return try make(ETFHolding(fund: ticker, symbol: (bool() ? self.ticker() : nil), name: text(30), weight: decimal(), asOf: date(), rank: int(1...500), shares: (bool() ? self.decimal() : nil), marketValue: (bool() ? self.decimal() : nil)), "yahoo", ticker)
        case 9:
            return try make(ETFProfile(name: text(20), etfType: ["benchmark", "sector"][int(0...1)], sector: (bool() ? self.text(10) : nil), description: (bool() ? self.text(200) : nil), family: (bool() ? self.word() : nil), expenseRatio: (bool() ? self.decimal() : nil), totalAssets: (bool() ? self.decimal() : nil), inceptionDate: (bool() ? self.date() : nil)), "yahoo", ticker)
        case 10:
            return try make(IndexConstituent(index: "sp500", symbol: ticker, name: text(25), sector: (bool() ? self.text(12) : nil), subIndustry: (bool() ? self.text(20) : nil), headquarters: (bool() ? self.text(20) : nil), dateAdded: (bool() ? self.date() : nil), cik: (bool() ? String(self.int(1...9_999_999)) : nil), founded: (bool() ? String(self.int(1800...2024)) : nil)), "tickfold", ticker)
        case 11:
            return try make(CompanyOverview(name: text(30), assetType: (bool() ? "Common Stock" : nil), exchange: (bool() ? "NYSE" : nil), currency: (bool() ? "USD" : nil), country: (bool() ? "USA" : nil), sector: (bool() ? self.text(10) : nil), industry: (bool() ? self.text(25) : nil), description: (bool() ? self.text(300) : nil), marketCap: (bool() ? self.decimal() : nil), sharesOutstanding: (bool() ? self.decimal() : nil), peRatio: (bool() ? self.decimal() : nil), eps: (bool() ? self.decimal() : nil), dividendYield: (bool() ? self.decimal() : nil), beta: (bool() ? self.decimal() : nil), week52High: (bool() ? self.decimal() : nil), week52Low: (bool() ? self.decimal() : nil), latestQuarter: (bool() ? self.date() : nil)), "alphavantage", ticker)
        case 12:
            return try make(BalanceSheet(period: ReportPeriod.allCases[int(0...1)], fiscalDateEnding: date(), reportedCurrency: "USD", totalAssets: (bool() ? self.decimal() : nil), totalCurrentAssets: (bool() ? self.decimal() : nil), cashAndEquivalents: (bool() ? self.decimal() : nil), totalLiabilities: (bool() ? self.decimal() : nil), totalCurrentLiabilities: (bool() ? self.decimal() : nil), shortTermDebt: (bool() ? self.decimal() : nil), longTermDebt: (bool() ? self.decimal() : nil), totalShareholderEquity: (bool() ? self.decimal() : nil), retainedEarnings: (bool() ? self.decimal() : nil), sharesOutstanding: (bool() ? self.decimal() : nil)), "alphavantage", ticker)
        case 13:
            return try make(EarningsCalendarEntry(name: text(30), reportDate: date(), fiscalDateEnding: date(), estimate: (bool() ? self.decimal() : nil), currency: "USD"), "alphavantage", ticker)
        case 14:
            let url = "https://news.example/\(word())/\(int(0...1_000_000))"
            return try make(NewsArticle(url: url, title: text(60), summary: (bool() ? self.text(250) : nil), source: word(), publishedAt: timestamp(), authors: (0..<int(0...3)).map { _ in self.text(15) }, category: (bool() ? self.word() : nil), imageUrl: (bool() ? "https://img.example/\(self.word()).jpg" : nil), overallSentimentScore: (bool() ? self.decimal() : nil), overallSentimentLabel: (bool() ? "Somewhat-Bullish" : nil), topics: (0..<int(0...3)).map { _ in TopicRelevance(topic: self.text(12), relevance: self.decimal()) }, tickers: (0..<int(0...5)).map { _ in TickerSentiment(ticker: self.ticker(), relevance: self.decimal(), sentimentScore: (self.bool() ? self.decimal() : nil), sentimentLabel: (self.bool() ? "Neutral" : nil)) }), "alphavantage", url)
        case 15:
            let handle = word()
            return try make(SocialPost(platform: SocialPlatform.allCases[int(0...1)], postId: String(UInt64.random(in: 1...UInt64.max, using: &rng)), authorId: String(int(1...1_000_000_000)), authorHandle: (bool() ? handle : nil), text: text(280), createdAt: timestamp(), url: (bool() ? "https://x.example/\(handle)" : nil), metrics: PostMetrics(likes: (bool() ? self.count() : nil), reposts: (bool() ? self.count() : nil), replies: (bool() ? self.count() : nil), quotes: (bool() ? self.count() : nil), impressions: (bool() ? self.count() : nil), bookmarks: (bool() ? self.count() : nil))), "x", handle)
        case 16:
            let handle = word()
            return try make(SocialProfile(platform: SocialPlatform.allCases[int(0...1)], userId: String(int(1...1_000_000_000)), username: handle, displayName: (bool() ? self.text(20) : nil), description: (bool() ? self.text(160) : nil), followers: (bool() ? self.count() : nil), following: (bool() ? self.count() : nil), posts: (bool() ? self.count() : nil), verified: (bool() ? self.bool() : nil), createdAt: (bool() ? self.timestamp() : nil)), "truthsocial", handle)
        case 17:
            let coin = self.ticker()
            return try make(CryptoListing(venue: CryptoVenue.allCases[int(0...1)], symbol: coin, market: (bool() ? "KRW-\(coin)" : nil), coinId: (bool() ? self.word() : nil), name: (bool() ? self.text(15) : nil), koreanName: (bool() ? "비트코인\(self.text(4))" : nil), englishName: (bool() ? self.text(15) : nil), warning: (bool() ? "CAUTION" : nil)), "bithumb", coin)
        case 18:
            let coin = self.ticker()
            return try make(CryptoMarket(coinId: word(), symbol: coin.lowercased(), name: text(15), vsCurrency: ["usd", "eur", "krw"][int(0...2)], currentPrice: decimal(), marketCap: (bool() ? self.decimal() : nil), marketCapRank: (bool() ? self.int(1...15_000) : nil), totalVolume: (bool() ? self.decimal() : nil), high24h: (bool() ? self.decimal() : nil), low24h: (bool() ? self.decimal() : nil), priceChange24h: (bool() ? self.decimal() : nil), priceChangePercentage24h: (bool() ? self.decimal() : nil), circulatingSupply: (bool() ? self.decimal() : nil), totalSupply: (bool() ? self.decimal() : nil), maxSupply: (bool() ? self.decimal() : nil), lastUpdated: (bool() ? self.timestamp() : nil)), "coingecko", coin)
        case 19:
            let coin = self.ticker()
            return try make(CryptoTicker(venue: CryptoVenue.allCases[int(0...1)], market: "KRW-\(coin)", base: coin, quote: "KRW", lastPrice: decimal(), openPrice: (bool() ? self.decimal() : nil), highPrice: (bool() ? self.decimal() : nil), lowPrice: (bool() ? self.decimal() : nil), prevClosePrice: (bool() ? self.decimal() : nil), volume24h: (bool() ? self.decimal() : nil), quoteVolume24h: (bool() ? self.decimal() : nil), changePrice24h: (bool() ? self.decimal() : nil), changeRate24h: (bool() ? self.decimal() : nil), timestampMs: Int64(int(0...4_102_444_800_000))), "bithumb", coin)
        case 20:
            let stage = ["benchmark_bars", "sector_bars", "trending_etfs", "trending_holdings", "allocation"][int(0...4)]
            return try make(StageDecision(stage: stage, asOf: date(), watermark: Int64(int(0...10_000_000)), decision: word(), details: .object(object(depth: 0))), "tickfold", stage)
        case 21:
            let source = ["alphavantage", "yahoo", "x"][int(0...2)]
            return try make(IngestCursor(source: source, plan: word(), position: int(0...600), total: (bool() ? 503 : nil), lastKey: (bool() ? self.ticker() : nil)), "tickfold", "\(source)/plan")
        case 23:
            let coin = self.ticker()
            return try make(CryptoTickerV1(CryptoTicker(venue: .bithumb, market: "\(coin)_KRW", base: coin, quote: "KRW", lastPrice: decimal(), openPrice: (bool() ? self.decimal() : nil), volume24h: (bool() ? self.decimal() : nil), changePrice24h: (bool() ? self.decimal() : nil), changeRate24h: (bool() ? self.decimal() : nil), timestampMs: Int64(int(0...4_102_444_800_000)))), "bithumb", coin)
        default:
            let source = ["alphavantage", "yahoo", "finnhub"][int(0...2)]
            return try make(IngestRejected(source: source, request: hex(16), error: text(80), bodySha256: hex(64), bodySize: (bool() ? self.count() : nil), httpStatus: (bool() ? [200, 429, 500][self.int(0...2)] : nil)), "tickfold", source)
        }
    }

    // MARK: random pieces

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func bool() -> Bool { rng.next() & 1 == 0 }

    /// Counts across the exact-integer range, biased to realistic sizes.
    mutating func count() -> Int {
        switch int(0...9) {
        case 0: return 0
        case 1: return 9_007_199_254_740_991
        case 2...4: return int(0...1_000)
        default: return int(0...9_007_199_254_740_991)
        }
    }

    mutating func ticker() -> String {
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        var s = String((0..<int(1...5)).map { _ in letters[int(0...25)] })
        if int(0...15) == 0 { s += ".B" }
        return s
    }

    mutating func word() -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyz_0123456789")
        return "w" + String((0..<int(1...10)).map { _ in letters[int(0...(letters.count - 1))] })
    }

    mutating func hex(_ n: Int) -> String {
        let digits = Array("0123456789abcdef")
        return String((0..<n).map { _ in digits[int(0...15)] })
    }

    mutating func decimal() -> DecimalString {
        let sign = int(0...4) == 0 ? "-" : ""
        let whole: String
        switch int(0...5) {
        case 0: whole = "0"
        case 1: whole = String(int(1...9)) + String((0..<int(15...40)).map { _ in Character(String(self.int(0...9))) })
        default: whole = String(int(1...999_999))
        }
        var text = sign + whole
        if bool() {
            text += "." + String((0..<int(1...12)).map { _ in Character(String(self.int(0...9))) })
        }
        return DecimalString(text)!
    }

    mutating func date() -> LocalDate {
        LocalDate(daysSinceEpoch: Int64(int(-25_000...30_000)))
    }

    mutating func timestamp() -> Timestamp {
        switch int(0...9) {
        case 0: return Timestamp(millisecondsSinceEpoch: Timestamp.range.lowerBound)
        case 1: return Timestamp(millisecondsSinceEpoch: Timestamp.range.upperBound)
        default: return Timestamp(millisecondsSinceEpoch: Int64(int(-2_000_000_000_000...4_102_444_800_000)))
        }
    }

    /// Text mixing ASCII, JSON escapes, control characters, Korean, emoji and private-use characters.
    mutating func text(_ maxLength: Int) -> String {
        let pieces: [String] = [
            "a", "Z", " ", "7", "\"", "\\", "/", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{00}", "\u{1F}", "\u{7F}",
            "\u{80}", "ö", "€", "한국어", "삼성전자", "😀", "🚀", "\u{FB33}", "\u{E000}", "\u{FFFD}", "\u{10FFFF}",
            "\u{2028}", "\u{2029}", "’", "$AAPL", "<b>", "&amp;", "e\u{301}",
        ]
        var s = ""
        let n = int(0...maxLength)
        while s.unicodeScalars.count < n {
            s += int(0...3) == 0 ? pieces[int(0...(pieces.count - 1))] : String(Character(Unicode.Scalar(UInt8(int(0x20...0x7e)))))
        }
        return s
    }

    /// A finite double from random bits, small integers or awkward constants.
    mutating func number() -> Double {
        switch int(0...5) {
        case 0: return Double(int(-1_000_000...1_000_000))
        case 1: return [0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 1.7976931348623157e308, 1e21, 1e-7, 9_007_199_254_740_992, 1e23, 0.1, 333333333.33333329][int(0...10)]
        case 2: return Double(int(-1_000_000...1_000_000)) / Double([1, 10, 100, 1000, 7, 3][int(0...5)])
        default:
            while true {
                let d = Double(bitPattern: rng.next())
                if d.isFinite { return d }
            }
        }
    }

    mutating func value(depth: Int) -> JSONValue {
        switch int(0...(depth >= 3 ? 3 : 5)) {
        case 0: return .number(number())
        case 1: return .string(text(20))
        case 2: return [.null, .bool(true), .bool(false)][int(0...2)]
        case 3: return .number(number())
        case 4: return .array((0..<int(0...4)).map { _ in value(depth: depth + 1) })
        default: return .object(object(depth: depth + 1))
        }
    }

    mutating func object(depth: Int) -> JSONObject {
        var object = JSONObject()
        for _ in 0..<int(0...5) {
            let key = bool() ? word() : text(6)
            object[key] = value(depth: depth)
        }
        return object
    }
}
