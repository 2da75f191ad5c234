import Events

/// Yahoo Finance v8 chart (`/v8/finance/chart/{symbol}`): bars plus split and dividend events.
///
/// - `dataGranularity` `1d` gives `bar.daily`; `1m` … `90m`/`1h` give `bar.intraday`; other
///   granularities (`1wk`, `1mo`) have no event type and are refused.
/// - A daily bar's date is its timestamp in the exchange's time zone (`meta.gmtoffset`, which
///   Yahoo gives for the current season; daily stamps sit at the session open, hours away from
///   midnight, so the season never moves the date). `occurredAt` is that date at 00:00Z —
///   the session date, not an instant, so the id never depends on time-zone rules.
/// - An intraday bar's `occurredAt` is its opening instant.
/// - `adjclose` (dividend-adjusted close) fills `adjClose` when present.
/// - An entry whose open, high, low, close and volume are all null (a halted or empty
///   interval) is skipped and counted in `skipped`; an entry with only some nulls is an issue.
/// - Splits and dividends: date from the event's timestamp like a daily bar, `occurredAt`
///   at 00:00Z; the dividend currency is `meta.currency`.
public struct YahooChartParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        var collector = EventCollector(context, eventSource: "yahoo")
        do throws(FieldError) {
            let chart = try root.member("chart")
            try YahooErrors.check(chart, context)
            for result in try chart.member("result").array() {
                try parseResult(result, into: &collector)
            }
        } catch {
            throw error.parseError(context)
        }
        return collector.result
    }

    private func parseResult(_ result: JSONNode, into collector: inout EventCollector) throws(FieldError) {
        let context = collector.context
        let meta = try result.member("meta")
        let symbol: String
        if let stated = meta.optionalMember("symbol") {
            symbol = try stated.text()
        } else if let subject = context.subject {
            symbol = subject
        } else {
            throw FieldError(code: .missingField, path: meta.path + ".symbol", detail: "missing, and the request context names no subject")
        }
        let gmtOffset = try meta.optionalMember("gmtoffset")?.integer() ?? 0
        guard abs(gmtOffset) <= 18 * 3600 else {
            throw FieldError(code: .invalidValue, path: meta.path + ".gmtoffset", detail: "\(gmtOffset) s is not a UTC offset")
        }
        let currency = try meta.optionalMember("currency")?.optionalText()

        if let events = result.optionalMember("events") {
            try parseCorporateEvents(events, symbol: symbol, gmtOffset: gmtOffset, currency: currency, into: &collector)
        }

        guard let timestampNode = result.optionalMember("timestamp") else { return }
        let granularityNode = meta.optionalMember("dataGranularity")
        let granularity = try granularityNode?.text() ?? context.parameter("interval")
        guard let granularity else {
            throw FieldError(code: .missingField, path: meta.path + ".dataGranularity", detail: "missing, and the request has no interval parameter")
        }
        let daily = granularity == "1d"
        guard daily || IntradayBar.intervals.contains(granularity) else {
            throw FieldError(code: .invalidValue, path: granularityNode?.path ?? "interval",
                             detail: "granularity \"\(granularity)\" has no event type (bar.daily takes 1d; bar.intraday takes \(IntradayBar.intervals.sorted().joined(separator: ", ")))")
        }

        let timestamps = try timestampNode.arrayValues()
        let quotes = try result.member("indicators").member("quote").array()
        guard let quote = quotes.first else {
            throw FieldError(code: .missingField, path: result.path + ".indicators.quote", detail: "is empty while there are \(timestamps.count) timestamps")
        }
        func series(_ node: JSONNode?, _ name: String) throws(FieldError) -> [JSONValue] {
            guard let node else { throw FieldError(code: .missingField, path: quote.path + "." + name, detail: "missing") }
            let values = try node.arrayValues()
            guard values.count == timestamps.count else {
                throw node.invalid("has \(values.count) entries for \(timestamps.count) timestamps")
            }
            return values
        }
        let open = try series(quote.optionalMember("open"), "open")
        let high = try series(quote.optionalMember("high"), "high")
        let low = try series(quote.optionalMember("low"), "low")
        let close = try series(quote.optionalMember("close"), "close")
        let volume = try series(quote.optionalMember("volume"), "volume")
        var adjClose: [JSONValue]? = nil
        if daily, let adjustedNode = result.optionalMember("indicators")?.optionalMember("adjclose") {
            if let first = try adjustedNode.array().first, let values = first.optionalMember("adjclose") {
                adjClose = try series(values, "adjclose")
            }
        }

        for index in timestamps.indices {
            let path = "\(result.path).timestamp[\(index)]"
            let fields = [open[index], high[index], low[index], close[index], volume[index]]
            if fields.allSatisfy({ if case .null = $0 { return true } else { return false } }) {
                collector.result.skipped += 1
                continue
            }
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let start = try JSONNode(timestamps[index], path: path).epochSeconds()
                func price(_ values: [JSONValue], _ name: String) throws(FieldError) -> DecimalString {
                    let node = JSONNode(values[index], path: "\(quote.path).\(name)[\(index)]")
                    if node.isNull { throw FieldError(code: .missingField, path: node.path, detail: "is null while other fields of the bar are not") }
                    return try node.decimal()
                }
                let o = try price(open, "open"), h = try price(high, "high"), l = try price(low, "low"), cl = try price(close, "close")
                let volumeNode = JSONNode(volume[index], path: "\(quote.path).volume[\(index)]")
                if volumeNode.isNull { throw FieldError(code: .missingField, path: volumeNode.path, detail: "is null while the prices are not") }
                let v = try volumeNode.count()
                if daily {
                    let date = LocalDate(utcDateOf: Timestamp(millisecondsSinceEpoch: start.millisecondsSinceEpoch + gmtOffset * 1000))
                    var adjusted: DecimalString? = nil
                    if let adjClose {
                        adjusted = try JSONNode(adjClose[index], path: "\(result.path).indicators.adjclose[0].adjclose[\(index)]").optionalDecimal()
                    }
                    try c.add(DailyBar(date: date, open: o, high: h, low: l, close: cl, adjClose: adjusted, volume: v),
                              subject: symbol, occurredAt: date.startOfDay, path: path)
                } else {
                    try c.add(IntradayBar(interval: granularity, start: start, open: o, high: h, low: l, close: cl, volume: v),
                              subject: symbol, occurredAt: start, path: path)
                }
            }
        }
    }

    private func parseCorporateEvents(_ events: JSONNode, symbol: String, gmtOffset: Int64, currency: String?,
                                      into collector: inout EventCollector) throws(FieldError) {
        func sessionDate(_ node: JSONNode) throws(FieldError) -> LocalDate {
            let time = try node.epochSeconds()
            return LocalDate(utcDateOf: Timestamp(millisecondsSinceEpoch: time.millisecondsSinceEpoch + gmtOffset * 1000))
        }
        if let dividends = events.optionalMember("dividends") {
            for member in try dividends.object().members {
                let node = JSONNode(member.value, path: dividends.path + "." + member.key)
                collector.each { (c: inout EventCollector) throws(FieldError) in
                    let date = try sessionDate(node.member("date"))
                    let amount = try node.member("amount").decimal()
                    try c.add(CashDividend(date: date, amount: amount, currency: currency), subject: symbol, occurredAt: date.startOfDay, path: node.path)
                }
            }
        }
        if let splits = events.optionalMember("splits") {
            for member in try splits.object().members {
                let node = JSONNode(member.value, path: splits.path + "." + member.key)
                collector.each { (c: inout EventCollector) throws(FieldError) in
                    let date = try sessionDate(node.member("date"))
                    var numerator = try node.optionalMember("numerator")?.decimal()
                    var denominator = try node.optionalMember("denominator")?.decimal()
                    if numerator == nil || denominator == nil {
                        let ratio = try node.member("splitRatio")
                        let parts = try ratio.string().split(separator: ":")
                        guard parts.count == 2, let n = DecimalString(String(parts[0])), let d = DecimalString(String(parts[1])) else {
                            throw ratio.invalid("expected a ratio like 4:1")
                        }
                        numerator = n
                        denominator = d
                    }
                    guard let numerator, let denominator, numerator.doubleValue > 0, denominator.doubleValue > 0 else {
                        throw node.invalid("a split needs a positive numerator and denominator")
                    }
                    try c.add(StockSplit(date: date, numerator: numerator, denominator: denominator), subject: symbol, occurredAt: date.startOfDay, path: node.path)
                }
            }
        }
    }
}

/// Yahoo Finance v10 quoteSummary (`/v10/finance/quoteSummary/{symbol}?modules=…`); reads the
/// modules present and ignores the rest.
///
/// - `topHoldings` → `etf.holding` per holding: `weight` is `holdingPercent` × 100 computed on
///   the digits; `rank` is the position by weight. Yahoo states no date for holdings, so
///   `asOf` is the request's `asOf`, else the UTC date of `price.regularMarketTime`;
///   `occurredAt` is `asOf` at 00:00Z.
/// - `price` (+ `summaryDetail`, `assetProfile`/`summaryProfile`, `defaultKeyStatistics`) →
///   one `company.overview` (name, quote type, exchange, currency, sector, industry, country,
///   description, market cap, P/E, dividend yield, beta, 52-week range); `occurredAt` is
///   `price.regularMarketTime`, else `asOf`.
/// - `calendarEvents` → one `earnings.calendar` when an earnings date is announced:
///   `reportDate` is the first `earningsDate` (UTC date), `estimate` is `earningsAverage`.
///   Yahoo states no fiscal period; `fiscalDateEnding` (required by the payload) is DERIVED as
///   the last calendar-quarter end before the report date — right for calendar-year filers
///   only. `currency` is `price.currency`, else `earnings.financialCurrency`, else `USD`.
/// Formatted responses (`{"raw": 1.2, "fmt": "1.20"}`) are unwrapped.
public struct YahooQuoteSummaryParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        var collector = EventCollector(context, eventSource: "yahoo")
        do throws(FieldError) {
            let summary = try root.optionalMember("finance").or(root.member("quoteSummary"))
            try YahooErrors.check(summary, context)
            for result in try summary.member("result").array() {
                _ = try result.object()
                try parseModules(result, into: &collector)
            }
        } catch {
            throw error.parseError(context)
        }
        return collector.result
    }

    private func parseModules(_ result: JSONNode, into collector: inout EventCollector) throws(FieldError) {
        let context = collector.context
        let price = result.optionalMember("price")
        let quoteType = result.optionalMember("quoteType")
        let symbolNode = price?.optionalMember("symbol") ?? quoteType?.optionalMember("symbol")
        let symbol: String
        if let symbolNode {
            symbol = try symbolNode.text()
        } else if let subject = context.subject, !subject.isEmpty {
            symbol = subject
        } else {
            throw FieldError(code: .missingField, path: result.path + ".price.symbol", detail: "no module names the symbol and the request context gives no subject")
        }
        let marketTime = try price?.optionalMember("regularMarketTime")?.epochSeconds()
        let currency = try price?.optionalMember("currency")?.optionalText()

        if let holdings = result.optionalMember("topHoldings") {
            let asOf: LocalDate
            if let given = context.asOf {
                asOf = given
            } else if let marketTime {
                asOf = LocalDate(utcDateOf: marketTime)
            } else {
                throw FieldError(code: .missingField, path: holdings.path, detail: "topHoldings states no date: the request context must give asOf (or request the price module)")
            }
            try parseHoldings(holdings, fund: symbol, asOf: asOf, into: &collector)
        }

        if let price {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let occurredAt: Timestamp
                if let marketTime {
                    occurredAt = marketTime
                } else if let asOf = context.asOf {
                    occurredAt = asOf.startOfDay
                } else {
                    throw FieldError(code: .missingField, path: price.path + ".regularMarketTime", detail: "missing, and the request context gives no asOf")
                }
                let overview = try overview(result, price: price, quoteType: quoteType)
                try c.add(overview, subject: symbol, occurredAt: occurredAt, path: price.path)
            }
        }

        if let calendar = result.optionalMember("calendarEvents") {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                guard let earnings = calendar.optionalMember("earnings"), let dates = earnings.optionalMember("earningsDate") else { return }
                guard let first = try dates.array().first else { return }
                let reportDate = LocalDate(utcDateOf: try first.epochSeconds())
                let name = try (price?.optionalMember("longName")?.optionalText()).or(price?.optionalMember("shortName")?.optionalText())
                    .or(quoteType?.optionalMember("longName")?.optionalText()) ?? symbol
                let reportCurrency = try currency.or(result.optionalMember("earnings")?.optionalMember("financialCurrency")?.optionalText()) ?? "USD"
                let entry = EarningsCalendarEntry(
                    name: name, reportDate: reportDate, fiscalDateEnding: reportDate.previousQuarterEnd,
                    estimate: try earnings.optionalMember("earningsAverage")?.optionalDecimal(), currency: reportCurrency)
                try c.add(entry, subject: symbol, occurredAt: reportDate.startOfDay, path: first.path)
            }
        }
    }

    private func parseHoldings(_ holdings: JSONNode, fund: String, asOf: LocalDate, into collector: inout EventCollector) throws(FieldError) {
        struct Row {
            let node: JSONNode
            let fraction: Double
        }
        var rows: [Row] = []
        for node in try holdings.member("holdings").array() {
            collector.each { (_: inout EventCollector) throws(FieldError) in
                let percent = try node.member("holdingPercent")
                let fraction = try (percent.optionalMember("raw")?.number()).or(percent.number())
                guard fraction.isFinite, fraction >= 0 else { throw percent.invalid("expected a non-negative fraction") }
                rows.append(Row(node: node, fraction: fraction))
            }
        }
        let ranked = rows.enumerated().sorted { $0.element.fraction != $1.element.fraction ? $0.element.fraction > $1.element.fraction : $0.offset < $1.offset }
        for (rank, entry) in ranked.enumerated() {
            let node = entry.element.node
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let symbol = try node.optionalMember("symbol")?.optionalText()
                guard let name = try node.optionalMember("holdingName")?.optionalText() ?? symbol else {
                    throw FieldError(code: .missingField, path: node.path + ".holdingName", detail: "a holding needs a name or a symbol")
                }
                let fractionText = PlainDecimal.text(entry.element.fraction) ?? "0"
                guard let weight = PlainDecimal.shifted(fractionText, by: 2).flatMap(DecimalString.init) else {
                    throw node.invalid("holdingPercent is not a number")
                }
                let holding = ETFHolding(fund: fund, symbol: symbol, name: name, weight: weight, asOf: asOf, rank: rank + 1)
                try c.add(holding, subject: fund, occurredAt: asOf.startOfDay, path: node.path)
            }
        }
    }

    private func overview(_ result: JSONNode, price: JSONNode, quoteType: JSONNode?) throws(FieldError) -> CompanyOverview {
        let detail = result.optionalMember("summaryDetail")
        let profile = result.optionalMember("assetProfile") ?? result.optionalMember("summaryProfile")
        let statistics = result.optionalMember("defaultKeyStatistics")
        func text(_ node: JSONNode?, _ key: String) throws(FieldError) -> String? { try node?.optionalMember(key)?.optionalText() }
        func decimal(_ node: JSONNode?, _ key: String) throws(FieldError) -> DecimalString? { try node?.optionalMember(key)?.optionalDecimal() }
        guard let name = try text(price, "longName").or(text(price, "shortName")).or(text(quoteType, "longName")).or(text(quoteType, "shortName")) else {
            throw FieldError(code: .missingField, path: price.path + ".longName", detail: "no longName or shortName to name the company")
        }
        var latestQuarter: LocalDate? = nil
        if let node = statistics?.optionalMember("mostRecentQuarter") { latestQuarter = LocalDate(utcDateOf: try node.epochSeconds()) }
        return CompanyOverview(
            name: name,
            assetType: try text(price, "quoteType").or(text(quoteType, "quoteType")),
            exchange: try text(price, "exchange"),
            currency: try text(price, "currency"),
            country: try text(profile, "country"),
            sector: try text(profile, "sector"),
            industry: try text(profile, "industry"),
            description: try text(profile, "longBusinessSummary"),
            marketCap: try decimal(price, "marketCap").or(decimal(detail, "marketCap")),
            sharesOutstanding: try decimal(statistics, "sharesOutstanding"),
            peRatio: try decimal(detail, "trailingPE"),
            eps: try decimal(statistics, "trailingEps"),
            dividendYield: try decimal(detail, "dividendYield").or(decimal(detail, "yield")),
            beta: try decimal(detail, "beta").or(decimal(statistics, "beta")),
            week52High: try decimal(detail, "fiftyTwoWeekHigh"),
            week52Low: try decimal(detail, "fiftyTwoWeekLow"),
            latestQuarter: latestQuarter)
    }
}

/// Yahoo's error envelope: `{"chart": {"result": null, "error": {"code", "description"}}}`.
enum YahooErrors {
    static func check(_ container: JSONNode, _ context: ParseContext) throws(FieldError) {
        guard let error = container.optionalMember("error") else { return }
        let code = (try? error.optionalMember("code")?.optionalText()) ?? nil
        let description = (try? error.optionalMember("description")?.optionalText()) ?? nil
        let text = [code, description].compactMap { $0 }.joined(separator: ": ")
        throw FieldError(code: .sourceError, path: error.path, detail: "Yahoo reported an error: " + (text.isEmpty ? error.value.description : excerpt(text, limit: 200)))
    }
}

extension LocalDate {
    /// The last day of the calendar quarter that ended before this date.
    var previousQuarterEnd: LocalDate {
        let quarterStartMonth = (month - 1) / 3 * 3 + 1
        let firstOfQuarter = LocalDate(year: year, month: quarterStartMonth, day: 1)!
        return LocalDate(daysSinceEpoch: firstOfQuarter.daysSinceEpoch - 1)
    }
}
