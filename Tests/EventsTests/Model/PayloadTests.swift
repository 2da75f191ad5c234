import Testing
@testable import Events
import TickfoldTesting

@Suite("Typed payloads and the catalogue", .onTestThreads)
struct PayloadTests {
    @Test("Every generated event validates against the catalogue and round-trips through its typed payload")
    func everyType() throws {
        var samples = EventSamples(seed: 11)
        var seen: Set<String> = []
        for event in try samples.events(EventSamples.kinds * 20) {
            try EventCatalog.standard.validate(event)
            seen.insert(event.type)
            let decoded = try Event.decode(try event.canonicalBytes())
            #expect(decoded == event)
        }
        #expect(seen == Set(EventCatalog.standard.types))
    }

    @Test("The catalogue lists every family with its versions")
    func catalogue() throws {
        let catalog = EventCatalog.standard
        #expect(catalog.types.count == 22)
        #expect(catalog.entry("bar.daily")?.versions == 1...2)
        #expect(catalog.entry("news.article")?.versions == 1...1)
        #expect(catalog.entry("nope") == nil)
    }

    @Test("Payload errors give the field path and what was wrong", arguments: [
        ("bar.daily", 2, #"{"date":"2026-02-18","open":"1","high":"1","low":"1","close":1.5,"volume":1}"#, "close", "expected a string"),
        ("bar.daily", 2, #"{"date":"2026-02-18","open":"1","high":"1","low":"1","close":"1e5","volume":1}"#, "close", "decimal string"),
        ("bar.daily", 2, #"{"date":"2026-02-30","open":"1","high":"1","low":"1","close":"1","volume":1}"#, "date", "not a calendar date"),
        ("bar.daily", 2, #"{"date":"2026-02-18","open":"1","high":"1","low":"1","close":"1","volume":1.5}"#, "volume", "integer"),
        ("bar.daily", 2, #"{"date":"2026-02-18","open":"1","high":"1","low":"1","close":"1","volume":-1}"#, "volume", "non-negative"),
        ("bar.daily", 2, #"{"date":"2026-02-18","open":"1","high":"1","low":"1","volume":1}"#, "close", "missing"),
        ("bar.daily", 2, #"{"date":"2026-02-18","open":"1","high":"1","low":"1","close":"1","volume":1,"vwap":"1"}"#, "vwap", "unknown field"),
        ("bar.daily", 2, #"{"date":"2026-02-18","open":"1","high":"1","low":"1","close":"1","adjClose":null,"volume":1}"#, "adjClose", "omitted, not null"),
        ("bar.daily", 1, #"{"date":"2026-02-18","open":"1","high":"1","low":"1","close":"1","adjClose":"1","volume":1}"#, "adjClose", "unknown field"),
        ("news.article", 1, #"{"url":"u","title":"t","source":"s","publishedAt":"2025-01-31T10:57:09.000Z","authors":[],"topics":[],"tickers":[{"ticker":"AAPL","relevance":0.45}]}"#, "tickers[0].relevance", "expected a string"),
        ("market.mover", 1, #"{"category":"winner","rank":1,"price":"1","changeAmount":"1","changePercent":"1","volume":1}"#, "category", "winner"),
        ("social.post", 1, #"{"platform":"x","postId":"1","authorId":"2","text":"t","createdAt":"2025-01-31T10:57:09.000Z","metrics":{"likes":"3"}}"#, "metrics.likes", "integer"),
        ("macro.observation", 1, #"{"seriesId":"CPIAUCSL","date":"2000-01-01","value":"n/a"}"#, "value", "\".\""),
        ("stage.decision", 1, #"{"stage":"s","asOf":"2000-01-01","watermark":1,"decision":"d","details":[]}"#, "details", "expected an object"),
    ])
    func errors(type: String, version: Int, payload: String, path: String, detail: String) throws {
        let event = try Event.make(type: type, version: version, source: "test", subject: "X",
                                   occurredAt: Timestamp(millisecondsSinceEpoch: 0), payload: try JSONValue.parse(payload))
        do {
            try EventCatalog.standard.validate(event)
            Issue.record("accepted \(payload)")
        } catch {
            #expect(error.path == path, "\(error)")
            #expect(error.description.contains(detail), "\(error)")
            #expect(error.type == type)
        }
    }

    @Test("Decimal strings: plain notation only")
    func decimals() {
        for good in ["0", "-0", "12", "-12.50", "0.0529", "22336000", "123456789012345678901234567890.1"] {
            #expect(DecimalString(good) != nil, "\(good)")
        }
        for bad in ["", "-", "01", "1.", ".5", "+1", "1e5", "1,5", " 1", "NaN", "0x10", "١"] {
            #expect(DecimalString(bad) == nil, "\(bad)")
        }
    }

    @Test("Unknown types and unknown versions are refused by the catalogue")
    func unknown() throws {
        let t = Timestamp(millisecondsSinceEpoch: 0)
        let alien = try Event.make(type: "alien.thing", version: 1, source: "s", subject: "x", occurredAt: t, payload: [:])
        #expect(throws: PayloadError.self) { try EventCatalog.standard.validate(alien) }
        let future = try Event.make(type: "trade", version: 2, source: "s", subject: "x", occurredAt: t, payload: [:])
        #expect(throws: PayloadError.self) { try EventCatalog.standard.validate(future) }
    }

    @Test("A stored bar.daily v1 reads as the current DailyBar while its id stays the v1 hash")
    func upcasting() throws {
        let v1 = DailyBarV1(date: try LocalDate("2021-07-20"), open: "187.36", high: "188.07", low: "182.55", close: "187.80", volume: 35_000_000)
        let stored = try Event.make(v1, source: "yahoo", subject: "NVDA", occurredAt: try Timestamp(canonical: "2021-07-20T20:00:00.000Z"))
        let bytes = try stored.canonicalBytes()

        let decoded = try Event.decode(bytes)
        #expect(decoded.version == 1)
        #expect(decoded.id == stored.id)
        #expect(try decoded.canonicalBytes() == bytes)

        let current = try decoded.payload(as: DailyBar.self)
        #expect(current == DailyBar(date: v1.date, open: v1.open, high: v1.high, low: v1.low, close: v1.close, adjClose: nil, volume: v1.volume))
        let upcast = try EventCatalog.standard.currentPayload(of: decoded)
        #expect(upcast.version == 2)

        // The same content made as v2 is a different event: the version is part of the identity.
        let asV2 = try Event.make(current, source: "yahoo", subject: "NVDA", occurredAt: stored.occurredAt)
        #expect(asV2.id != stored.id)
        // Reading v1 as the old struct is refused: the catalogue hands out current versions.
        #expect(throws: PayloadError.self) { try decoded.payload(as: DailyBarV1.self) }
        #expect(throws: PayloadError.self) { try decoded.payload(as: Trade.self) }
    }

    @Test("DecimalString.dividedByPowerOfTen moves the point exactly and keeps the scale")
    func decimalShift() {
        let cases: [(DecimalString, Int, String)] = [
            ("-1.38", 2, "-0.0138"), ("1.38", 2, "0.0138"), ("5", 2, "0.05"), ("0", 2, "0.00"), ("-0", 2, "0.00"),
            ("-0.0", 2, "0.000"), ("123", 2, "1.23"), ("12345.6", 2, "123.456"), ("100", 2, "1.00"), ("1.50", 2, "0.0150"),
            ("7", 0, "7"), ("0.5", 3, "0.0005"), ("-250", 1, "-25.0"), ("99999999999999999999", 2, "999999999999999999.99"),
        ]
        for (value, places, expected) in cases {
            let shifted = value.dividedByPowerOfTen(places)
            #expect(shifted.text == expected, "\(value) / 10^\(places)")
            #expect(DecimalString(shifted.text) != nil, "\(shifted) is a valid decimal string")
        }
    }

    @Test("A v1 Bithumb /public/ticker event (BTC_KRW, percent) reads as v2's KRW-BTC with a fraction; other v1 tickers are unchanged")
    func cryptoTickerUpcast() throws {
        let at = try Timestamp(canonical: "2022-11-22T00:51:00.631Z")
        let oldEndpoint = CryptoTicker(venue: .bithumb, market: "BTC_KRW", base: "BTC", quote: "KRW", lastPrice: "22336000",
                                       changePrice24h: "-313000", changeRate24h: "-1.38", timestampMs: at.millisecondsSinceEpoch)
        let stored = try Event.make(CryptoTickerV1(oldEndpoint), source: "bithumb", subject: "BTC", occurredAt: at)
        #expect(stored.version == 1)
        let decoded = try Event.decode(try stored.canonicalBytes())
        #expect(decoded.id == stored.id && decoded.version == 1)
        let current = try decoded.payload(as: CryptoTicker.self)
        var expected = oldEndpoint
        expected.market = "KRW-BTC"
        expected.changeRate24h = "-0.0138"
        #expect(current == expected)
        #expect(try EventCatalog.standard.currentPayload(of: decoded).version == 2)

        // /v1/ticker's v1 events and CoinGecko's already meant what v2 says.
        for ticker in [
            CryptoTicker(venue: .bithumb, market: "KRW-BTC", base: "BTC", quote: "KRW", lastPrice: "1", changeRate24h: "0.0036", timestampMs: 1),
            CryptoTicker(venue: .coingecko, market: "binance:BTC/USDT", base: "BTC", quote: "USDT", lastPrice: "1", changeRate24h: "1.5", timestampMs: 1),
            CryptoTicker(venue: .coingecko, market: "BTC_KRW", base: "BTC", quote: "KRW", lastPrice: "1", changeRate24h: "1.5", timestampMs: 1),
        ] {
            let event = try Event.make(CryptoTickerV1(ticker), source: "bithumb", subject: "BTC", occurredAt: at)
            #expect(try event.payload(as: CryptoTicker.self) == ticker)
        }

        // v2 holds a Bithumb market only as QUOTE-BASE: BTC_KRW is a v1 spelling.
        #expect(throws: PayloadError.self) { try Event.make(oldEndpoint, source: "bithumb", subject: "BTC", occurredAt: at) }
        var v2 = expected
        v2.market = "KRW-ETH"
        #expect(throws: PayloadError.self) { try v2.json() }
        // Under v2, the same content is another event: the version is part of the identity.
        #expect(try Event.make(expected, source: "bithumb", subject: "BTC", occurredAt: at).id != stored.id)
    }

    @Test("Typed encoding omits nil optionals and refuses integers beyond 2^53")
    func encoding() throws {
        let bar = DailyBar(date: try LocalDate("2026-02-18"), open: "1", high: "2", low: "0.5", close: "1.5", volume: 10)
        #expect(try bar.json().description == #"{"close":"1.5","date":"2026-02-18","high":"2","low":"0.5","open":"1","volume":10}"#)
        let huge = DailyBar(date: bar.date, open: "1", high: "1", low: "1", close: "1", volume: 9_007_199_254_740_992)
        #expect(throws: PayloadError.self) { try huge.json() }
        let details: JSONValue = ["weights": ["XLK": "0.25"], "n": 3]
        let decision = StageDecision(stage: "allocation", asOf: bar.date, watermark: 7, decision: "allocate", details: details)
        #expect(try StageDecision(json: try decision.json()) == decision)
    }
}
