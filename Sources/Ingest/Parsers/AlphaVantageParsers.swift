import Events

/// Alpha Vantage answers errors and rate limits with status 200 and a one-member object:
/// `{"Information": …}`, `{"Note": …}` or `{"Error Message": …}`.
enum AlphaVantageErrors {
    static let keys = ["Error Message", "Information", "Note"]

    static func check(_ root: JSONNode, dataKeys: [String], _ context: ParseContext) throws(ParseError) {
        guard case .object(let object) = root.value else { return }
        for key in keys {
            guard let message = object[key]?.stringValue else { continue }
            if dataKeys.contains(where: { object[$0] != nil }) { continue }
            throw ParseError(.sourceError, context, location: "$.\(key)", "Alpha Vantage answered with a note instead of data: \"\(excerpt(message, limit: 200))\"")
        }
    }
}

/// Alpha Vantage `NEWS_SENTIMENT` → `news.article` per feed item (subject = canonical URL).
/// `time_published` (`20250131T105709`) is read as UTC; scores are decimal strings.
public struct AlphaVantageNewsParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        try AlphaVantageErrors.check(root, dataKeys: ["feed"], context)
        var collector = EventCollector(context, eventSource: "alphavantage")
        let feed: [JSONNode]
        do throws(FieldError) {
            feed = try root.member("feed").array()
        } catch {
            throw error.parseError(context)
        }
        for item in feed {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let url = try NewsURL.canonical(item.member("url"))
                let published = try AlphaVantageTime.published(item.member("time_published"))
                var topics: [TopicRelevance] = []
                for topic in try item.optionalMember("topics")?.array() ?? [] {
                    topics.append(TopicRelevance(topic: try topic.member("topic").text(), relevance: try topic.member("relevance_score").decimal()))
                }
                var tickers: [TickerSentiment] = []
                for ticker in try item.optionalMember("ticker_sentiment")?.array() ?? [] {
                    tickers.append(TickerSentiment(
                        ticker: try ticker.member("ticker").text(), relevance: try ticker.member("relevance_score").decimal(),
                        sentimentScore: try ticker.optionalMember("ticker_sentiment_score")?.optionalDecimal(),
                        sentimentLabel: try ticker.optionalMember("ticker_sentiment_label")?.optionalText()))
                }
                var authors: [String] = []
                for author in try item.optionalMember("authors")?.array() ?? [] {
                    if let name = try author.optionalText() { authors.append(name) }
                }
                let article = NewsArticle(
                    url: url, title: try item.member("title").text(),
                    summary: try item.optionalMember("summary")?.optionalText(),
                    source: try (item.optionalMember("source")?.optionalText()).or(item.optionalMember("source_domain")?.optionalText()) ?? "unknown",
                    publishedAt: published, authors: authors,
                    category: try item.optionalMember("category_within_source")?.optionalText(),
                    imageUrl: try item.optionalMember("banner_image")?.optionalText(),
                    overallSentimentScore: try item.optionalMember("overall_sentiment_score")?.optionalDecimal(),
                    overallSentimentLabel: try item.optionalMember("overall_sentiment_label")?.optionalText(),
                    topics: topics, tickers: tickers)
                try c.add(article, subject: url, occurredAt: published, path: item.path)
            }
        }
        return collector.result
    }
}

/// Alpha Vantage `OVERVIEW` → one `company.overview` (subject = `Symbol`). `None` and `-`
/// values are omitted. `occurredAt` is `LatestQuarter` at 00:00Z, else the request's `asOf`.
/// An empty object (what Alpha Vantage returns for an unknown symbol) is a source error.
public struct AlphaVantageOverviewParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        try AlphaVantageErrors.check(root, dataKeys: ["Symbol"], context)
        var collector = EventCollector(context, eventSource: "alphavantage")
        do throws(FieldError) {
            let object = try root.object()
            guard !object.isEmpty else {
                throw FieldError(code: .sourceError, path: "$", detail: "Alpha Vantage returned an empty object (unknown symbol?)")
            }
            func text(_ key: String) throws(FieldError) -> String? { try root.optionalMember(key)?.optionalText() }
            func decimal(_ key: String) throws(FieldError) -> DecimalString? { try root.optionalMember(key)?.optionalDecimal() }
            let name = try root.member("Name").text()
            let symbol = try text("Symbol").or(context.requiredSubjectField())
            var latestQuarter: LocalDate? = nil
            if let node = root.optionalMember("LatestQuarter"), try node.optionalText() != nil {
                latestQuarter = try node.date()
            }
            let occurredAt: Timestamp
            if let latestQuarter {
                occurredAt = latestQuarter.startOfDay
            } else if let asOf = context.asOf {
                occurredAt = asOf.startOfDay
            } else {
                throw FieldError(code: .missingField, path: "$.LatestQuarter", detail: "missing, and the request context gives no asOf")
            }
            let overview = CompanyOverview(
                name: name, assetType: try text("AssetType"), exchange: try text("Exchange"),
                currency: try text("Currency"), country: try text("Country"), sector: try text("Sector"),
                industry: try text("Industry"), description: try text("Description"),
                marketCap: try decimal("MarketCapitalization"), sharesOutstanding: try decimal("SharesOutstanding"),
                peRatio: try decimal("PERatio"), eps: try decimal("EPS"), dividendYield: try decimal("DividendYield"),
                beta: try decimal("Beta"), week52High: try decimal("52WeekHigh"), week52Low: try decimal("52WeekLow"),
                latestQuarter: latestQuarter)
            try collector.add(overview, subject: symbol, occurredAt: occurredAt, path: "$")
        } catch {
            throw error.parseError(context)
        }
        return collector.result
    }
}

/// Alpha Vantage `EARNINGS_CALENDAR` (CSV `symbol,name,reportDate,fiscalDateEnding,estimate,currency`)
/// → `earnings.calendar` per row (subject = symbol, `occurredAt` = report date at 00:00Z).
/// Dates are `YYYY-MM-DD` or, in spreadsheet re-saves, `M/D/YYYY`; an empty estimate is omitted.
public struct AlphaVantageEarningsCalendarParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        try ResponseBody.refuseNonData(body, context)
        if let first = body.first(where: { !ResponseBody.isSpace($0) }), first == UInt8(ascii: "{") {
            let root = try ResponseBody.json(body, context)
            try AlphaVantageErrors.check(root, dataKeys: [], context)
            throw ParseError(.malformedCSV, context, "expected CSV, found a JSON object")
        }
        let table: CSVTable
        do {
            table = try CSVTable(body)
        } catch {
            throw ParseError(.malformedCSV, context, location: "line \(error.line)", error.detail)
        }
        let required = ["symbol", "name", "reportDate", "fiscalDateEnding", "estimate", "currency"]
        var columns: [Int] = []
        for name in required {
            guard let index = table.column(name) else {
                throw ParseError(.malformedCSV, context, location: "line 1", "the header lacks the column \(name) (found: \(excerpt(table.header.joined(separator: ","), limit: 120)))")
            }
            columns.append(index)
        }
        var collector = EventCollector(context, eventSource: "alphavantage")
        for record in table.records {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let location = "line \(record.line)"
                guard record.fields.count == table.header.count else {
                    throw FieldError(code: .invalidValue, path: location, detail: "expected \(table.header.count) fields, found \(record.fields.count)")
                }
                func field(_ i: Int) -> String { record.fields[columns[i]].trimmingASCIIWhitespace() }
                let symbol = field(0)
                guard !symbol.isEmpty else { throw FieldError(code: .missingField, path: location, detail: "symbol is empty") }
                let reportDate = try CalendarDate.parse(field(2), location: location + " reportDate")
                let fiscal = try CalendarDate.parse(field(3), location: location + " fiscalDateEnding")
                var estimate: DecimalString? = nil
                if !JSONNode.isPlaceholder(field(4)) {
                    guard let value = PlainDecimal.normalize(field(4)).flatMap(DecimalString.init) else {
                        throw FieldError(code: .invalidValue, path: location + " estimate", detail: "expected a number, found \"\(excerpt(field(4)))\"")
                    }
                    estimate = value
                }
                let currency = field(5)
                guard !currency.isEmpty else { throw FieldError(code: .missingField, path: location + " currency", detail: "is empty") }
                let name = field(1).isEmpty ? symbol : field(1)
                try c.add(EarningsCalendarEntry(name: name, reportDate: reportDate, fiscalDateEnding: fiscal, estimate: estimate, currency: currency),
                          subject: symbol, occurredAt: reportDate.startOfDay, path: location)
            }
        }
        return collector.result
    }
}

/// Alpha Vantage `TOP_GAINERS_LOSERS` → `market.mover` per entry of `top_gainers`,
/// `top_losers` and `most_actively_traded` (rank = 1-based position in its list). `occurredAt`
/// is `last_updated` (`2023-10-13 16:15:59 US/Eastern`) converted to UTC with the US Eastern
/// daylight-saving rules.
public struct AlphaVantageMoversParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        let lists: [(String, MoverCategory)] = [("top_gainers", .gainer), ("top_losers", .loser), ("most_actively_traded", .mostActive)]
        try AlphaVantageErrors.check(root, dataKeys: lists.map(\.0), context)
        var collector = EventCollector(context, eventSource: "alphavantage")
        do throws(FieldError) {
            let occurredAt = try AlphaVantageTime.lastUpdated(root.member("last_updated"))
            var found = false
            for (key, category) in lists {
                guard let list = root.optionalMember(key) else { continue }
                found = true
                for (index, item) in try list.array().enumerated() {
                    collector.each { (c: inout EventCollector) throws(FieldError) in
                        let percentNode = try item.member("change_percentage")
                        var percentText = try percentNode.string().trimmingASCIIWhitespace()
                        if percentText.hasSuffix("%") { percentText.removeLast() }
                        guard let percent = PlainDecimal.normalize(percentText).flatMap(DecimalString.init) else {
                            throw percentNode.invalid("expected a percentage like \"9.1%\"")
                        }
                        let mover = MarketMover(
                            category: category, rank: index + 1, price: try item.member("price").decimal(),
                            changeAmount: try item.member("change_amount").decimal(), changePercent: percent,
                            volume: try item.member("volume").count())
                        try c.add(mover, subject: try item.member("ticker").text(), occurredAt: occurredAt, path: item.path)
                    }
                }
            }
            guard found else { throw FieldError(code: .missingField, path: "$.top_gainers", detail: "none of top_gainers, top_losers, most_actively_traded is present") }
        } catch {
            throw error.parseError(context)
        }
        return collector.result
    }
}

/// Alpha Vantage `BALANCE_SHEET` → `company.balance_sheet` per annual and quarterly report
/// (subject = `symbol`, `occurredAt` = `fiscalDateEnding` at 00:00Z). `None` values are omitted.
public struct AlphaVantageBalanceSheetParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        try AlphaVantageErrors.check(root, dataKeys: ["annualReports", "quarterlyReports"], context)
        var collector = EventCollector(context, eventSource: "alphavantage")
        do throws(FieldError) {
            let symbol = try (root.optionalMember("symbol")?.text()).or(context.requiredSubjectField())
            guard root.has("annualReports") || root.has("quarterlyReports") else {
                throw FieldError(code: .missingField, path: "$.annualReports", detail: "neither annualReports nor quarterlyReports is present")
            }
            for (key, period) in [("annualReports", ReportPeriod.annual), ("quarterlyReports", .quarterly)] {
                for report in try root.optionalMember(key)?.array() ?? [] {
                    collector.each { (c: inout EventCollector) throws(FieldError) in
                        func decimal(_ key: String) throws(FieldError) -> DecimalString? { try report.optionalMember(key)?.optionalDecimal() }
                        let fiscal = try report.member("fiscalDateEnding").date()
                        let sheet = BalanceSheet(
                            period: period, fiscalDateEnding: fiscal, reportedCurrency: try report.member("reportedCurrency").text(),
                            totalAssets: try decimal("totalAssets"), totalCurrentAssets: try decimal("totalCurrentAssets"),
                            cashAndEquivalents: try decimal("cashAndCashEquivalentsAtCarryingValue"),
                            totalLiabilities: try decimal("totalLiabilities"), totalCurrentLiabilities: try decimal("totalCurrentLiabilities"),
                            shortTermDebt: try decimal("shortTermDebt"), longTermDebt: try decimal("longTermDebt"),
                            totalShareholderEquity: try decimal("totalShareholderEquity"), retainedEarnings: try decimal("retainedEarnings"),
                            sharesOutstanding: try decimal("commonStockSharesOutstanding"))
                        try c.add(sheet, subject: symbol, occurredAt: fiscal.startOfDay, path: report.path)
                    }
                }
            }
        } catch {
            throw error.parseError(context)
        }
        return collector.result
    }
}

/// Alpha Vantage economic indicators (`CPI`, `INFLATION`, `FEDERAL_FUNDS_RATE`,
/// `TREASURY_YIELD`; the function is the context's endpoint) → `macro.observation` per
/// `data` entry, `occurredAt` = date at 00:00Z, `"."` kept as the missing marker.
///
/// The series id names everything that changes the numbers: the function, the maturity for
/// treasury yields (request parameter, Alpha Vantage's default `10year`) and the interval
/// (body `interval`, else the request parameter): `CPI_MONTHLY`, `TREASURY_YIELD_10YEAR_DAILY`.
public struct AlphaVantageEconomicParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        try AlphaVantageErrors.check(root, dataKeys: ["data"], context)
        var collector = EventCollector(context, eventSource: "alphavantage")
        do throws(FieldError) {
            let function = context.endpoint.uppercased()
            var parts = [function]
            if function == "TREASURY_YIELD" { parts.append((context.parameter("maturity") ?? "10year").uppercased()) }
            if let interval = try root.optionalMember("interval")?.optionalText() ?? context.parameter("interval") {
                parts.append(interval.uppercased())
            }
            let seriesId = parts.joined(separator: "_")
            for entry in try root.member("data").array() {
                collector.each { (c: inout EventCollector) throws(FieldError) in
                    let date = try entry.member("date").date()
                    let valueNode = try entry.member("value")
                    var value = try valueNode.string().trimmingASCIIWhitespace()
                    if value != MacroObservation.missing {
                        guard let plain = PlainDecimal.normalize(value) else { throw valueNode.invalid("expected a number or \".\", found \"\(excerpt(value))\"") }
                        value = plain
                    }
                    try c.add(MacroObservation(seriesId: seriesId, date: date, value: value), subject: seriesId, occurredAt: date.startOfDay, path: entry.path)
                }
            }
        } catch {
            throw error.parseError(context)
        }
        return collector.result
    }
}

/// Alpha Vantage's time spellings.
enum AlphaVantageTime {
    /// `YYYYMMDDTHHMMSS` or `YYYYMMDDTHHMM`, read as UTC.
    static func published(_ node: JSONNode) throws(FieldError) -> Timestamp {
        let text = try node.string()
        let b = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int? { decimalDigits(b, start, count) }
        guard b.count == 15 || b.count == 13, b[8] == UInt8(ascii: "T"),
              let year = number(0, 4), let month = number(4, 2), let day = number(6, 2),
              let hour = number(9, 2), let minute = number(11, 2), hour < 24, minute < 60,
              let date = LocalDate(year: year, month: month, day: day)
        else { throw node.invalid("expected YYYYMMDDTHHMMSS, found \"\(excerpt(text))\"") }
        let second = b.count == 15 ? number(13, 2) : 0
        guard let second, second < 60 else { throw node.invalid("expected YYYYMMDDTHHMMSS, found \"\(excerpt(text))\"") }
        return Timestamp(millisecondsSinceEpoch: date.startOfDay.millisecondsSinceEpoch + Int64((hour * 60 + minute) * 60 + second) * 1000)
    }

    /// `2023-10-13 16:15:59 US/Eastern` (or a UTC RFC 3339 time) as an instant.
    static func lastUpdated(_ node: JSONNode) throws(FieldError) -> Timestamp {
        let text = try node.string().trimmingASCIIWhitespace()
        let parts = text.split(separator: " ")
        if parts.count == 3, parts[2] == "US/Eastern" || parts[2] == "America/New_York",
           let local = try? Timestamp.parseRFC3339("\(parts[0])T\(parts[1])Z") {
            return USEastern.utc(fromLocal: local)
        }
        if let utc = try? Timestamp.parseRFC3339(text) { return utc }
        throw node.invalid("expected \"YYYY-MM-DD HH:MM:SS US/Eastern\", found \"\(excerpt(text))\"")
    }
}

/// US Eastern time (EST −5 h, EDT −4 h) by the federal daylight-saving rules: since 2007 from
/// the second Sunday of March to the first Sunday of November, before that from the first
/// Sunday of April to the last Sunday of October, switching at 02:00 local time.
enum USEastern {
    /// The instant of a US Eastern wall-clock time given as if it were UTC.
    static func utc(fromLocal local: Timestamp) -> Timestamp {
        let date = LocalDate(utcDateOf: local)
        let (start, end) = daylightBounds(year: date.year)
        let localMs = local.millisecondsSinceEpoch
        let daylight = localMs >= start.startOfDay.millisecondsSinceEpoch + 2 * 3_600_000
            && localMs < end.startOfDay.millisecondsSinceEpoch + 2 * 3_600_000
        return Timestamp(millisecondsSinceEpoch: localMs + Int64(daylight ? 4 : 5) * 3_600_000)
    }

    static func daylightBounds(year: Int) -> (LocalDate, LocalDate) {
        if year >= 2007 {
            return (nthSunday(year: year, month: 3, n: 2), nthSunday(year: year, month: 11, n: 1))
        }
        let lastOctober = LocalDate(year: year, month: 10, day: 31)!
        let weekday = Int((lastOctober.daysSinceEpoch + 4) % 7 + 7) % 7
        return (nthSunday(year: year, month: 4, n: 1), LocalDate(daysSinceEpoch: lastOctober.daysSinceEpoch - Int64(weekday)))
    }

    /// Weekday 0 = Sunday (1970-01-01 was a Thursday).
    static func nthSunday(year: Int, month: Int, n: Int) -> LocalDate {
        let first = LocalDate(year: year, month: month, day: 1)!
        let weekday = Int((first.daysSinceEpoch + 4) % 7 + 7) % 7
        let offset = (7 - weekday) % 7 + (n - 1) * 7
        return LocalDate(daysSinceEpoch: first.daysSinceEpoch + Int64(offset))
    }
}

/// Calendar dates in CSV exports: `YYYY-MM-DD` or a spreadsheet's `M/D/YYYY`.
enum CalendarDate {
    static func parse(_ text: String, location: String) throws(FieldError) -> LocalDate {
        if let date = try? LocalDate(text) { return date }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 3, parts[2].count == 4, (1...2).contains(parts[0].count), (1...2).contains(parts[1].count),
           let month = Int(parts[0]), let day = Int(parts[1]), let year = Int(parts[2]),
           let date = LocalDate(year: year, month: month, day: day) {
            return date
        }
        throw FieldError(code: .invalidValue, path: location, detail: "expected YYYY-MM-DD or M/D/YYYY, found \"\(excerpt(text))\"")
    }
}

/// The dedup key of news (SPEC-analytics "Earnings calendar × news"): the article URL, trimmed,
/// reduced to one spelling per article so that two sources, or two fetches, carrying the same
/// link yield the same subject:
/// - scheme and host lower-cased (only `http` and `https` are accepted); user info kept as is;
/// - the default port dropped (`:80` for http, `:443` for https);
/// - the `#fragment` dropped;
/// - trailing `/` of the path dropped, the root included (`https://host/` → `https://host`,
///   `https://host/?id=1` → `https://host?id=1`: both spellings name the same resource);
/// - tracking parameters dropped from the query: any name starting with `utm_`, and
///   ``trackingParameters`` (names compared case-insensitively). Every other parameter stays,
///   in its order and spelling (Finnhub's URLs are `…/news?id=…`); empty `&&` segments go, and
///   a query left empty drops its `?`.
/// Percent-encoding is not normalised: two spellings that differ only there stay two keys.
enum NewsURL {
    /// Query parameters that only say how a reader arrived (ad clicks, mail campaigns), never
    /// which article: conservative on purpose, so no parameter a site may route by (`ref`,
    /// `source`, `id`) is in it.
    static let trackingParameters: Set<String> = [
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok",
    ]

    /// Why a text is not a news URL.
    struct Rejection: Error {
        let detail: String
    }

    static func canonical(_ node: JSONNode) throws(FieldError) -> String {
        let text = try node.text()
        do throws(Rejection) {
            return try canonical(text)
        } catch {
            throw node.invalid(error.detail)
        }
    }

    static func canonical(_ url: String) throws(Rejection) -> String {
        let text = url.trimmingASCIIWhitespace()
        guard let schemeEnd = text.range(of: "://") else { throw Rejection(detail: "expected an absolute URL, found \"\(excerpt(text))\"") }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { throw Rejection(detail: "expected an http(s) URL, found \"\(excerpt(text))\"") }
        var rest = text[schemeEnd.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let hostStart = authority.lastIndex(of: "@").map { authority.index(after: $0) } ?? authority.startIndex
        let userInfo = authority[..<hostStart]
        var host = authority[hostStart...].lowercased()
        if (scheme == "http" && host.hasSuffix(":80")) || (scheme == "https" && host.hasSuffix(":443")) {
            host = String(host[..<host.lastIndex(of: ":")!])
        }
        guard !host.isEmpty, !host.hasPrefix(":") else { throw Rejection(detail: "the URL has no host: \"\(excerpt(text))\"") }
        let pathAndQuery = rest[authorityEnd...]
        let queryStart = pathAndQuery.firstIndex(of: "?")
        var path = pathAndQuery[..<(queryStart ?? pathAndQuery.endIndex)]
        while path.last == "/" { path = path.dropLast() }
        var canonical = "\(scheme)://\(userInfo)\(host)\(path)"
        if let queryStart {
            let kept = pathAndQuery[pathAndQuery.index(after: queryStart)...].split(separator: "&").filter { !isTracking($0) }
            if !kept.isEmpty { canonical += "?" + kept.joined(separator: "&") }
        }
        return canonical
    }

    /// Whether one `name[=value]` query segment is a tracking parameter.
    static func isTracking(_ segment: Substring) -> Bool {
        let name = (segment.firstIndex(of: "=").map { segment[..<$0] } ?? segment).lowercased()
        return name.hasPrefix("utm_") || trackingParameters.contains(name)
    }
}

extension ParseContext {
    /// The subject for a body that does not name it, as a `FieldError`.
    func requiredSubjectField() throws(FieldError) -> String {
        guard let subject = subject?.trimmingASCIIWhitespace(), !subject.isEmpty else {
            throw FieldError(code: .missingContext, path: "$", detail: "the body does not name its subject and the request context gives none")
        }
        return subject
    }
}
