import Events

/// CoinGecko `/coins/list` → `crypto.listing` per coin (venue `coingecko`, subject = symbol
/// upper-cased, `coinId`, `name`). The list states no time: `occurredAt` is the request's
/// `asOf` at 00:00Z (required).
public struct CoinGeckoCoinsListParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        try CoinGeckoErrors.check(root, context)
        let occurredAt = try context.snapshotTime("/coins/list")
        var collector = EventCollector(context, eventSource: "coingecko")
        let coins: [JSONValue]
        do throws(FieldError) {
            coins = try root.arrayValues()
        } catch {
            throw error.parseError(context)
        }
        collector.result.events.reserveCapacity(coins.count)
        for (index, value) in coins.enumerated() {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let coin = JSONNode(value, path: "$[\(index)]")
                let symbol = try coin.member("symbol").text().uppercased()
                let listing = CryptoListing(venue: .coingecko, symbol: symbol, coinId: try coin.member("id").text(), name: try coin.optionalMember("name")?.optionalText())
                try c.add(listing, subject: symbol, occurredAt: occurredAt, path: coin.path)
            }
        }
        return collector.result
    }
}

/// CoinGecko `/coins/markets?vs_currency=…` → `crypto.market` per coin (subject = symbol
/// upper-cased, `occurredAt` = the row's `last_updated`). The quote currency is not in the
/// body: it comes from the `vs_currency` request parameter (required).
public struct CoinGeckoMarketsParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        try CoinGeckoErrors.check(root, context)
        guard let vsCurrency = context.parameter("vs_currency")?.lowercased() else {
            throw ParseError(.missingContext, context, "/coins/markets rows do not name their quote currency; the request parameters must give vs_currency")
        }
        var collector = EventCollector(context, eventSource: "coingecko")
        let rows: [JSONNode]
        do throws(FieldError) {
            rows = try root.array()
        } catch {
            throw error.parseError(context)
        }
        for row in rows {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                func decimal(_ key: String) throws(FieldError) -> DecimalString? { try row.optionalMember(key)?.optionalDecimal() }
                let symbol = try row.member("symbol").text().uppercased()
                let updated = try row.member("last_updated").rfc3339()
                var rank: Int? = nil
                if let rankNode = row.optionalMember("market_cap_rank") { rank = try rankNode.count() }
                let market = CryptoMarket(
                    coinId: try row.member("id").text(), symbol: symbol, name: try row.member("name").text(), vsCurrency: vsCurrency,
                    currentPrice: try row.member("current_price").decimal(), marketCap: try decimal("market_cap"), marketCapRank: rank,
                    totalVolume: try decimal("total_volume"), high24h: try decimal("high_24h"), low24h: try decimal("low_24h"),
                    priceChange24h: try decimal("price_change_24h"), priceChangePercentage24h: try decimal("price_change_percentage_24h"),
                    circulatingSupply: try decimal("circulating_supply"), totalSupply: try decimal("total_supply"),
                    maxSupply: try decimal("max_supply"), lastUpdated: updated)
                try c.add(market, subject: symbol, occurredAt: updated, path: row.path)
            }
        }
        return collector.result
    }
}

/// CoinGecko `/coins/{id}/tickers` → `crypto.ticker` per exchange ticker (venue `coingecko`,
/// market `<exchange identifier>:<base>/<target>`, subject = base upper-cased). `occurredAt`
/// and `timestampMs` are `last_traded_at`, else `timestamp`; `volume24h` is `volume` (in base units).
public struct CoinGeckoTickersParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        try CoinGeckoErrors.check(root, context)
        var collector = EventCollector(context, eventSource: "coingecko")
        let tickers: [JSONNode]
        do throws(FieldError) {
            tickers = try root.member("tickers").array()
        } catch {
            throw error.parseError(context)
        }
        for ticker in tickers {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let base = try ticker.member("base").text().uppercased()
                let target = try ticker.member("target").text().uppercased()
                let exchange = try ticker.member("market").member("identifier").text()
                let time = try ticker.optionalMember("last_traded_at").or(ticker.member("timestamp")).rfc3339()
                let snapshot = CryptoTicker(
                    venue: .coingecko, market: "\(exchange):\(base)/\(target)", base: base, quote: target,
                    lastPrice: try ticker.member("last").decimal(), volume24h: try ticker.optionalMember("volume")?.optionalDecimal(),
                    timestampMs: time.millisecondsSinceEpoch)
                try c.add(snapshot, subject: base, occurredAt: time, path: ticker.path)
            }
        }
        return collector.result
    }
}

/// CoinGecko errors: `{"error": "…"}` or `{"status": {"error_code": 429, "error_message": "…"}}`.
enum CoinGeckoErrors {
    static func check(_ root: JSONNode, _ context: ParseContext) throws(ParseError) {
        if let message = root.optionalMember("error") {
            throw ParseError(.sourceError, context, location: "$.error", "CoinGecko reported an error: \"\(excerpt(message.value.stringValue ?? message.value.description, limit: 200))\"")
        }
        if let status = root.optionalMember("status"), let message = status.optionalMember("error_message") {
            let code = status.optionalMember("error_code").map { $0.value.description } ?? "?"
            throw ParseError(.sourceError, context, location: "$.status", "CoinGecko reported error \(code): \"\(excerpt(message.value.stringValue ?? message.value.description, limit: 200))\"")
        }
    }
}

/// Bithumb `/v1/market/all` → `crypto.listing` per market (venue `bithumb`, market `KRW-BTC`,
/// subject = the base symbol after the dash, Korean and English names, `market_warning`
/// unless `NONE`). The list states no time: `occurredAt` is the request's `asOf` (required).
public struct BithumbMarketsParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        try BithumbErrors.check(root, context)
        let occurredAt = try context.snapshotTime("/v1/market/all")
        var collector = EventCollector(context, eventSource: "bithumb")
        let markets: [JSONNode]
        do throws(FieldError) {
            markets = try root.array()
        } catch {
            throw error.parseError(context)
        }
        for market in markets {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let marketNode = try market.member("market")
                let name = try marketNode.text()
                let (_, base) = try BithumbMarket.split(name, marketNode)
                var warning = try market.optionalMember("market_warning")?.optionalText()
                if warning == "NONE" { warning = nil }
                let listing = CryptoListing(
                    venue: .bithumb, symbol: base, market: name,
                    koreanName: try market.optionalMember("korean_name")?.optionalText(),
                    englishName: try market.optionalMember("english_name")?.optionalText(), warning: warning)
                try c.add(listing, subject: base, occurredAt: occurredAt, path: market.path)
            }
        }
        return collector.result
    }
}

/// Bithumb `/v1/ticker?markets=…` → `crypto.ticker` per market (market `KRW-BTC`, subject =
/// base symbol, `occurredAt` = `timestamp` in milliseconds). Signed change price and rate are
/// recorded as Bithumb sends them (the rate is a fraction, `-0.0129`).
public struct BithumbTickerParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        try BithumbErrors.check(root, context)
        var collector = EventCollector(context, eventSource: "bithumb")
        let tickers: [JSONNode]
        do throws(FieldError) {
            tickers = try root.array()
        } catch {
            throw error.parseError(context)
        }
        for ticker in tickers {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                func decimal(_ key: String) throws(FieldError) -> DecimalString? { try ticker.optionalMember(key)?.optionalDecimal() }
                let marketNode = try ticker.member("market")
                let market = try marketNode.text()
                let (quote, base) = try BithumbMarket.split(market, marketNode)
                let timestampNode = try ticker.optionalMember("timestamp").or(ticker.member("trade_timestamp"))
                let timestamp = try timestampNode.integer()
                guard timestamp >= 0, Timestamp.range.contains(timestamp) else { throw timestampNode.invalid("\(timestamp) ms is not a time") }
                let snapshot = CryptoTicker(
                    venue: .bithumb, market: market, base: base, quote: quote,
                    lastPrice: try ticker.member("trade_price").decimal(), openPrice: try decimal("opening_price"),
                    highPrice: try decimal("high_price"), lowPrice: try decimal("low_price"),
                    prevClosePrice: try decimal("prev_closing_price"), volume24h: try decimal("acc_trade_volume_24h"),
                    quoteVolume24h: try decimal("acc_trade_price_24h"),
                    changePrice24h: try decimal("signed_change_price"), changeRate24h: try decimal("signed_change_rate"),
                    timestampMs: timestamp)
                try c.add(snapshot, subject: base, occurredAt: Timestamp(millisecondsSinceEpoch: timestamp), path: ticker.path)
            }
        }
        return collector.result
    }
}

/// Bithumb's older `/public/ticker/{BASE}_{QUOTE}` (one coin) and `/public/ticker/ALL_{QUOTE}`
/// (every coin, plus a shared `date`) → `crypto.ticker` (subject = base, `occurredAt` = `date`
/// in milliseconds). The pair comes from the context's subject (`BTC_KRW`, `BTC`, `ALL_KRW`;
/// quote currency KRW when not named). The ticker reads as `/v1/ticker`'s does: market
/// `KRW-BTC`, and `fluctate_rate_24H` (a percent, `-1.38`) as a fraction (`-0.0138`), so both
/// endpoints fill one row and one key per coin. `status` other than `0000` is a source error.
public struct BithumbPublicTickerParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        try BithumbErrors.check(root, context)
        let pair = try context.requiredSubject("currency pair (BTC_KRW or ALL_KRW)").uppercased()
        let parts = pair.split(separator: "_")
        let requestedBase = String(parts[0])
        let quote = parts.count > 1 ? String(parts[1]) : "KRW"
        var collector = EventCollector(context, eventSource: "bithumb")
        do throws(FieldError) {
            let data = try root.member("data")
            if requestedBase == "ALL" {
                let shared = try data.member("date")
                for member in try data.object().members where member.key != "date" {
                    let node = JSONNode(member.value, path: data.path + "." + member.key)
                    collector.each { (c: inout EventCollector) throws(FieldError) in
                        try add(node, base: member.key.uppercased(), quote: quote, date: node.optionalMember("date") ?? shared, into: &c)
                    }
                }
            } else {
                try add(data, base: requestedBase, quote: quote, date: data.member("date"), into: &collector)
            }
        } catch {
            throw error.parseError(context)
        }
        return collector.result
    }

    private func add(_ node: JSONNode, base: String, quote: String, date: JSONNode, into collector: inout EventCollector) throws(FieldError) {
        func decimal(_ key: String) throws(FieldError) -> DecimalString? { try node.optionalMember(key)?.optionalDecimal() }
        let timestamp = try date.integer()
        guard timestamp >= 0, Timestamp.range.contains(timestamp) else { throw date.invalid("\(timestamp) ms is not a time") }
        let snapshot = CryptoTicker(
            venue: .bithumb, market: CryptoTicker.bithumbMarket(base: base, quote: quote), base: base, quote: quote,
            lastPrice: try node.member("closing_price").decimal(), openPrice: try decimal("opening_price"),
            highPrice: try decimal("max_price"), lowPrice: try decimal("min_price"),
            prevClosePrice: try decimal("prev_closing_price"),
            volume24h: try decimal("units_traded_24H").or(decimal("volume_1day")),
            quoteVolume24h: try decimal("acc_trade_value_24H"),
            changePrice24h: try decimal("fluctate_24H"), changeRate24h: try decimal("fluctate_rate_24H")?.dividedByPowerOfTen(2),
            timestampMs: timestamp)
        try collector.add(snapshot, subject: base, occurredAt: Timestamp(millisecondsSinceEpoch: timestamp), path: node.path)
    }
}

/// Bithumb market codes: `KRW-BTC` is quote `KRW`, base `BTC`.
enum BithumbMarket {
    static func split(_ market: String, _ node: JSONNode) throws(FieldError) -> (quote: String, base: String) {
        let parts = market.split(separator: "-")
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw node.invalid("expected a market code like KRW-BTC, found \"\(excerpt(market))\"")
        }
        return (String(parts[0]).uppercased(), String(parts[1]).uppercased())
    }
}

/// Bithumb errors: old API `{"status": "5500", "message": …}`, v1 `{"error": {"name", "message"}}`.
enum BithumbErrors {
    static func check(_ root: JSONNode, _ context: ParseContext) throws(ParseError) {
        if let status = root.optionalMember("status"), let code = status.value.stringValue, code != "0000" {
            let message = root.optionalMember("message")?.value.stringValue ?? "no message"
            throw ParseError(.sourceError, context, location: "$.status", "Bithumb reported status \(excerpt(code)): \"\(excerpt(message, limit: 200))\"")
        }
        if let error = root.optionalMember("error") {
            let name = error.optionalMember("name")?.value.stringValue ?? ""
            let message = error.optionalMember("message")?.value.stringValue ?? error.value.description
            throw ParseError(.sourceError, context, location: "$.error", "Bithumb reported an error \(excerpt(name)): \"\(excerpt(message, limit: 200))\"")
        }
    }
}
