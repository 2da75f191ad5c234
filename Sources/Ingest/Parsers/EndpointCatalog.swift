import Events

/// One endpoint Tickfold knows how to read: its source and name, the request it answers, the
/// event types it yields, and the parser.
public struct EndpointParser: Sendable {
    /// The source id as in `SourceDescriptor` (`yahoo_finance`); `wikipedia` for the S&P 500 list.
    public let source: String
    /// The endpoint name used by `tickfold ingest file --endpoint` and the ingest plans.
    public let endpoint: String
    /// The request shape, for help texts (`GET /v8/finance/chart/{symbol}?interval=1d`).
    public let request: String
    public let eventTypes: [String]
    /// What the request context must carry beyond source and endpoint (`subject`, `asOf`,
    /// `vs_currency` …); empty when the body says everything.
    public let requires: String
    public let parser: any ResponseParser

    public init(source: String, endpoint: String, request: String, eventTypes: [String], requires: String = "", parser: any ResponseParser) {
        self.source = source
        self.endpoint = endpoint
        self.request = request
        self.eventTypes = eventTypes
        self.requires = requires
        self.parser = parser
    }
}

/// The registry from (source, endpoint) to parser, used by `tickfold ingest file` and the
/// ingest plans.
///
/// Event `occurredAt` by endpoint (always from the data or the request, never the clock):
/// daily bars, splits, dividends, macro observations, balance sheets and earnings dates use
/// their date at 00:00Z; intraday bars their opening instant; trades, tickers, news, posts and
/// markets their own timestamps; Yahoo's overview `price.regularMarketTime`; Alpha Vantage's
/// overview `LatestQuarter`; movers `last_updated`. Snapshots that state no time (holdings,
/// coin and market lists, profiles, index constituents) use the request's `asOf` at 00:00Z.
public struct EndpointCatalog: Sendable {
    /// The registered endpoints, in registration order (help texts list them so).
    public let entries: [EndpointParser]

    /// A catalog of `entries`; `standard` is the one ingest uses.
    public init(_ entries: [EndpointParser]) {
        self.entries = entries
    }

    /// Event-source names and common spellings accepted for the descriptor ids.
    static let sourceAliases: [String: String] = [
        "yahoo": "yahoo_finance", "alphavantage": "alpha_vantage", "x": "x_twitter", "twitter": "x_twitter",
        "truthsocial": "truth_social", "mastodon": "truth_social", "sp500": "wikipedia",
    ]

    /// The entry for `source` (descriptor id or event-source name) and `endpoint`
    /// (case-insensitive, leading `/` ignored), or nil.
    public func entry(source: String, endpoint: String) -> EndpointParser? {
        let sourceKey = source.lowercased()
        let resolved = Self.sourceAliases[sourceKey] ?? sourceKey
        var endpointKey = endpoint.lowercased()
        while endpointKey.hasPrefix("/") { endpointKey.removeFirst() }
        return entries.first { $0.source == resolved && $0.endpoint.lowercased() == endpointKey }
    }

    /// Parses `body` with the parser registered for the context's source and endpoint.
    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        guard let entry = entry(source: context.source, endpoint: context.endpoint) else {
            let known = entries.filter { $0.source == (Self.sourceAliases[context.source.lowercased()] ?? context.source.lowercased()) }.map(\.endpoint)
            let hint = known.isEmpty ? "known sources: \(Set(entries.map(\.source)).sorted().joined(separator: ", "))" : "known endpoints: \(known.joined(separator: ", "))"
            throw ParseError(.unknownEndpoint, context, "no parser for \(context.source) \(context.endpoint); \(hint)")
        }
        return try entry.parser.parse(body, context: context)
    }

    /// Every endpoint of SPEC §1/§3.
    public static let standard = EndpointCatalog([
        EndpointParser(source: "yahoo_finance", endpoint: "chart", request: "GET /v8/finance/chart/{symbol}?interval=1d|1m…&events=div|split",
                       eventTypes: [DailyBar.type, IntradayBar.type, StockSplit.type, CashDividend.type], parser: YahooChartParser()),
        EndpointParser(source: "yahoo_finance", endpoint: "quoteSummary",
                       request: "GET /v10/finance/quoteSummary/{symbol}?modules=topHoldings,price,summaryDetail,assetProfile,calendarEvents",
                       eventTypes: [ETFHolding.type, CompanyOverview.type, EarningsCalendarEntry.type],
                       requires: "asOf for topHoldings without the price module", parser: YahooQuoteSummaryParser()),
        EndpointParser(source: "alpha_vantage", endpoint: "NEWS_SENTIMENT", request: "GET /query?function=NEWS_SENTIMENT",
                       eventTypes: [NewsArticle.type], parser: AlphaVantageNewsParser()),
        EndpointParser(source: "alpha_vantage", endpoint: "OVERVIEW", request: "GET /query?function=OVERVIEW&symbol={symbol}",
                       eventTypes: [CompanyOverview.type], requires: "asOf when LatestQuarter is absent", parser: AlphaVantageOverviewParser()),
        EndpointParser(source: "alpha_vantage", endpoint: "EARNINGS_CALENDAR", request: "GET /query?function=EARNINGS_CALENDAR&horizon=3month (CSV)",
                       eventTypes: [EarningsCalendarEntry.type], parser: AlphaVantageEarningsCalendarParser()),
        EndpointParser(source: "alpha_vantage", endpoint: "TOP_GAINERS_LOSERS", request: "GET /query?function=TOP_GAINERS_LOSERS",
                       eventTypes: [MarketMover.type], parser: AlphaVantageMoversParser()),
        EndpointParser(source: "alpha_vantage", endpoint: "BALANCE_SHEET", request: "GET /query?function=BALANCE_SHEET&symbol={symbol}",
                       eventTypes: [BalanceSheet.type], parser: AlphaVantageBalanceSheetParser()),
        EndpointParser(source: "alpha_vantage", endpoint: "CPI", request: "GET /query?function=CPI&interval=monthly|semiannual",
                       eventTypes: [MacroObservation.type], parser: AlphaVantageEconomicParser()),
        EndpointParser(source: "alpha_vantage", endpoint: "INFLATION", request: "GET /query?function=INFLATION",
                       eventTypes: [MacroObservation.type], parser: AlphaVantageEconomicParser()),
        EndpointParser(source: "alpha_vantage", endpoint: "FEDERAL_FUNDS_RATE", request: "GET /query?function=FEDERAL_FUNDS_RATE&interval=…",
                       eventTypes: [MacroObservation.type], parser: AlphaVantageEconomicParser()),
        EndpointParser(source: "alpha_vantage", endpoint: "TREASURY_YIELD", request: "GET /query?function=TREASURY_YIELD&interval=…&maturity=…",
                       eventTypes: [MacroObservation.type], requires: "the maturity parameter when not 10year", parser: AlphaVantageEconomicParser()),
        EndpointParser(source: "finnhub", endpoint: "company-news", request: "GET /company-news?symbol={symbol}&from=…&to=…",
                       eventTypes: [NewsArticle.type], parser: FinnhubCompanyNewsParser()),
        EndpointParser(source: "finnhub", endpoint: "trade", request: "WebSocket wss://ws.finnhub.io message {\"type\":\"trade\",\"data\":[…]}",
                       eventTypes: [Trade.type], parser: FinnhubTradeMessageParser()),
        EndpointParser(source: "fred", endpoint: "series/observations", request: "GET /fred/series/observations?series_id={id}&file_type=json",
                       eventTypes: [MacroObservation.type], requires: "subject or series_id parameter = the series id", parser: FREDObservationsParser()),
        EndpointParser(source: "coingecko", endpoint: "coins/list", request: "GET /coins/list",
                       eventTypes: [CryptoListing.type], requires: "asOf", parser: CoinGeckoCoinsListParser()),
        EndpointParser(source: "coingecko", endpoint: "coins/markets", request: "GET /coins/markets?vs_currency={currency}",
                       eventTypes: [CryptoMarket.type], requires: "vs_currency parameter", parser: CoinGeckoMarketsParser()),
        EndpointParser(source: "coingecko", endpoint: "coins/tickers", request: "GET /coins/{id}/tickers",
                       eventTypes: [CryptoTicker.type], parser: CoinGeckoTickersParser()),
        EndpointParser(source: "bithumb", endpoint: "v1/market/all", request: "GET /v1/market/all?isDetails=true",
                       eventTypes: [CryptoListing.type], requires: "asOf", parser: BithumbMarketsParser()),
        EndpointParser(source: "bithumb", endpoint: "v1/ticker", request: "GET /v1/ticker?markets=KRW-BTC,…",
                       eventTypes: [CryptoTicker.type], parser: BithumbTickerParser()),
        EndpointParser(source: "bithumb", endpoint: "public/ticker", request: "GET /public/ticker/{BASE}_{QUOTE} or /public/ticker/ALL_{QUOTE}",
                       eventTypes: [CryptoTicker.type], requires: "subject = the pair (BTC_KRW, ALL_KRW)", parser: BithumbPublicTickerParser()),
        EndpointParser(source: "x_twitter", endpoint: "users/by/username", request: "GET /2/users/by/username/{username}?user.fields=…",
                       eventTypes: [SocialProfile.type], requires: "asOf", parser: XUserParser()),
        EndpointParser(source: "x_twitter", endpoint: "users/tweets", request: "GET /2/users/{id}/tweets?tweet.fields=created_at,public_metrics&expansions=author_id",
                       eventTypes: [SocialPost.type], requires: "subject = the user id when author_id is not requested", parser: XTweetsParser()),
        EndpointParser(source: "x_twitter", endpoint: "tweets/search/recent", request: "GET /2/tweets/search/recent?query=…",
                       eventTypes: [SocialPost.type], parser: XTweetsParser()),
        EndpointParser(source: "truth_social", endpoint: "accounts/statuses", request: "GET /api/v1/accounts/{id}/statuses",
                       eventTypes: [SocialPost.type], parser: TruthSocialStatusesParser()),
        EndpointParser(source: "newsapi", endpoint: "everything", request: "GET /v2/everything?q=…",
                       eventTypes: [NewsArticle.type], parser: NewsAPIArticlesParser()),
        EndpointParser(source: "newsapi", endpoint: "top-headlines", request: "GET /v2/top-headlines?category=business",
                       eventTypes: [NewsArticle.type], parser: NewsAPIArticlesParser()),
        EndpointParser(source: "wikipedia", endpoint: "sp500-constituents", request: "constituents.csv (Symbol,Security,GICS Sector,…)",
                       eventTypes: [IndexConstituent.type], requires: "asOf", parser: SP500ConstituentsParser()),
    ])
}
