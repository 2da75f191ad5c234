import Events
import Ingest
import Testing
import TickfoldTesting

@Suite("Parser tools: plain decimals, HTML text, catalog, error texts", .onTestThreads)
struct ParserToolTests {
    @Test("doubles become their shortest round-trip digits in plain notation")
    func decimalsFromDoubles() {
        #expect(PlainDecimal.text(187.3499908447266) == "187.3499908447266")
        #expect(PlainDecimal.text(7.5e-05) == "0.000075")
        #expect(PlainDecimal.text(1e16) == "10000000000000000")
        #expect(PlainDecimal.text(1.2345e21) == "1234500000000000000000")
        #expect(PlainDecimal.text(20277.0) == "20277")
        #expect(PlainDecimal.text(-0.0) == "0")
        #expect(PlainDecimal.text(-7128.754488713603) == "-7128.754488713603")
        #expect(PlainDecimal.text(0.1 + 0.2) == "0.30000000000000004")
        #expect(PlainDecimal.text(.nan) == nil && PlainDecimal.text(.infinity) == nil)
        let tiny = PlainDecimal.text(.leastNonzeroMagnitude)
        #expect(tiny?.hasPrefix("0.000") == true && tiny?.hasSuffix("5") == true && tiny?.count == 326)
    }

    @Test("plain decimal text round-trips every double exactly", arguments: [1, 2, 3])
    func roundTrip(_ seed: UInt64) {
        var random = SplitMix64(seed: seed)
        for _ in 0..<5000 {
            let value = Double(bitPattern: random.next())
            guard value.isFinite else { continue }
            let text = PlainDecimal.text(value)
            #expect(text.map { DecimalString.isValid($0) } == true, "\(value)")
            #expect(text.flatMap { Double($0) } == value, "\(value) → \(text ?? "nil")")
        }
    }

    @Test("numeric text is normalized without rounding and shifted on the digits")
    func decimalsFromText() {
        #expect(PlainDecimal.normalize("112.6300") == "112.6300")
        #expect(PlainDecimal.normalize("+1.5E-3") == "0.0015")
        #expect(PlainDecimal.normalize(".5") == "0.5")
        #expect(PlainDecimal.normalize("007") == "7")
        #expect(PlainDecimal.normalize("-2.0E+4") == "-20000")
        for bad in ["", "-", ".", "1.2.3", "1e", "abc", "1e99999", "1,5", "0x10", " 1"] {
            #expect(PlainDecimal.normalize(bad) == nil, "\(bad)")
        }
        #expect(PlainDecimal.shifted("0.11270001", by: 2) == "11.270001")
        #expect(PlainDecimal.shifted("0.002", by: 2) == "0.2")
        #expect(PlainDecimal.shifted("12", by: 2) == "1200")
        #expect(PlainDecimal.shifted("-1.5", by: -2) == "-0.015")
    }

    @Test("HTML fragments become text: tags out, breaks and paragraphs as newlines, entities decoded")
    func htmlText() {
        #expect(HTMLText.plainText("<p>Toot!</p>") == "Toot!")
        #expect(HTMLText.plainText("<p>one</p><p>two<br>three<br/>four</p>") == "one\n\ntwo\nthree\nfour")
        #expect(HTMLText.plainText(#"<p><a href="https://x/tags/hoot" class="mention hashtag" rel="tag">#<span>hoot</span></a> (hashtag toot)</p>"#) == "#hoot (hashtag toot)")
        #expect(HTMLText.plainText(#"<a href="https://example.com/a?b=1&amp;c=2"><span class="invisible">https://</span><span class="ellipsis">example.com/a</span></a>"#) == "https://example.com/a")
        #expect(HTMLText.plainText("Tom &amp; Jerry &lt;3 &#39;x&#39; &#x1F600; &hellip; &bogus; &") == "Tom & Jerry <3 'x' \u{1F600} \u{2026} &bogus; &")
        #expect(HTMLText.plainText("a < b and c > d") == "a < b and c > d")
        #expect(HTMLText.plainText("<style>p{}</style><script>alert('<p>')</script>text<!-- <br> -->") == "text")
        #expect(HTMLText.plainText(#"<img alt=">" src="x">after"#) == "after")
        #expect(HTMLText.plainText("<p>a</p>\n\n\n<p>b</p>") == "a\n\nb")
        #expect(HTMLText.plainText("<p>unclosed <b") == "unclosed")
        #expect(HTMLText.decodingEntities("Stay Updated &amp; Watch &#0; &#xZZ;") == "Stay Updated & Watch &#0; &#xZZ;")
    }

    @Test("the catalog knows every endpoint of the issue, by descriptor id and by event-source name")
    func catalog() throws {
        let catalog = EndpointCatalog.standard
        let expected: [(String, [String])] = [
            ("yahoo_finance", ["chart", "quoteSummary"]),
            ("alpha_vantage", ["NEWS_SENTIMENT", "OVERVIEW", "EARNINGS_CALENDAR", "TOP_GAINERS_LOSERS", "BALANCE_SHEET", "CPI", "INFLATION", "FEDERAL_FUNDS_RATE", "TREASURY_YIELD"]),
            ("finnhub", ["company-news", "trade"]), ("fred", ["series/observations"]),
            ("coingecko", ["coins/list", "coins/markets", "coins/tickers"]), ("bithumb", ["v1/market/all", "v1/ticker", "public/ticker"]),
            ("x_twitter", ["users/by/username", "users/tweets"]), ("truth_social", ["accounts/statuses"]),
            ("newsapi", ["everything", "top-headlines"]), ("wikipedia", ["sp500-constituents"]),
        ]
        for (source, endpoints) in expected {
            for endpoint in endpoints { #expect(catalog.entry(source: source, endpoint: endpoint) != nil, "\(source) \(endpoint)") }
        }
        #expect(catalog.entry(source: "yahoo", endpoint: "/Chart")?.source == "yahoo_finance")
        #expect(catalog.entry(source: "alphavantage", endpoint: "cpi")?.endpoint == "CPI")
        #expect(catalog.entry(source: "x", endpoint: "users/tweets") != nil && catalog.entry(source: "truthsocial", endpoint: "accounts/statuses") != nil)
        let descriptorIds = Set(SourceDescriptor.all.map(\.id)).union(["wikipedia"])
        for entry in catalog.entries {
            #expect(descriptorIds.contains(entry.source), "\(entry.source)")
            for type in entry.eventTypes { #expect(EventCatalog.standard.entry(type) != nil, "\(type)") }
        }
        let error = expectParseError(.unknownEndpoint, utf8("{}"), parseContext("finnhub", "quote"))
        #expect(error?.detail.contains("company-news") == true)
        _ = expectParseError(.unknownEndpoint, utf8("{}"), parseContext("nowhere", "x"))
    }

    @Test("errors name source, endpoint, request and location, and mask credentials")
    func errorText() {
        let context = ParseContext(source: "alpha_vantage", endpoint: "OVERVIEW", parameters: ["apikey": "K1", "symbol": "IBM"],
                                   requestFingerprint: "GET /query?function=OVERVIEW&symbol=IBM&apikey=SECRETKEY123")
        #expect(context.parameters == ["symbol": "IBM"])
        let error = ParseError(code: .missingField, source: context.source, endpoint: context.endpoint, request: context.requestFingerprint,
                               location: "$.Name", detail: "missing, token=abc123")
        #expect(error.description == "alpha_vantage OVERVIEW response rejected (missing-field) for request GET /query?function=OVERVIEW&symbol=IBM&apikey=*** at $.Name: missing, token=***")
        let html = utf8("<html><body>Bad key: https://x/?apikey=SECRETKEY123</body></html>")
        do {
            _ = try parse(html, context)
            Issue.record("expected an error")
        } catch {
            #expect(!"\(error)".contains("SECRETKEY123"))
        }
    }
}
