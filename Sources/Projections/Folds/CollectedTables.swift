/// The tables of the `collected` projection (SPEC §2.1), one row per natural key. Column
/// names follow the seeds' tables where they had one; `schemas/postgres/002_collected.sql`
/// holds the DDL and the reading views (`collected_daily_etf_ohlc`, …).
public enum CollectedTables {
    /// Every `bar.daily`, ETF or stock: `(ticker, trade_date)`. The ETF and stock views split
    /// them by whether the ticker has an `etf.profile`.
    public static let dailyBars = TableSchema(
        name: "collected_daily_bars", key: ["ticker", "trade_date"],
        values: ["open_price", "high_price", "low_price", "close_price", "adj_close_price", "volume", "source"])
    public static let metaETF = TableSchema(
        name: "collected_meta_etf", key: ["ticker"],
        values: ["name", "etf_type", "sector_name", "description", "family", "expense_ratio", "total_assets", "inception_date"])
    /// `holding_key` is the holding's ticker, or its name for rows without one (cash, futures).
    public static let etfHoldings = TableSchema(
        name: "collected_etf_holdings", key: ["etf_ticker", "holding_key", "as_of_date"],
        values: ["stock_ticker", "stock_name", "holding_percent", "holding_rank", "shares", "market_value"])
    public static let indexConstituents = TableSchema(
        name: "collected_index_constituents", key: ["index_name", "symbol"],
        values: ["company_name", "sector", "sub_industry", "headquarters", "date_added", "cik", "founded"])
    public static let companyOverview = TableSchema(
        name: "collected_company_overview", key: ["ticker"],
        values: ["name", "asset_type", "exchange", "currency", "country", "sector", "industry", "description",
                 "market_cap", "shares_outstanding", "pe_ratio", "eps", "dividend_yield", "beta",
                 "week52_high", "week52_low", "latest_quarter"])
    public static let balanceSheet = TableSchema(
        name: "collected_balance_sheet", key: ["ticker", "period", "fiscal_date_ending"],
        values: ["reported_currency", "total_assets", "total_current_assets", "cash_and_equivalents",
                 "total_liabilities", "total_current_liabilities", "short_term_debt", "long_term_debt",
                 "total_shareholder_equity", "retained_earnings", "shares_outstanding"])
    public static let earningsCalendar = TableSchema(
        name: "collected_earnings_calendar", key: ["ticker", "report_date"],
        values: ["company_name", "fiscal_date_ending", "estimate", "currency"])
    /// Top gainers / losers / most active: `(category, trade_date, ticker)`, `trade_date` being
    /// the UTC date of the event's `occurredAt`.
    public static let marketMovers = TableSchema(
        name: "collected_market_movers", key: ["category", "trade_date", "ticker"],
        values: ["mover_rank", "price", "change_amount", "change_percent", "volume"])
    /// Market and company news, deduplicated by canonical URL (the event subject).
    public static let news = TableSchema(
        name: "collected_market_news", key: ["canonical_url"],
        values: ["url", "title", "summary", "publisher", "published_at", "authors", "category", "image_url",
                 "overall_sentiment_score", "overall_sentiment_label", "topics", "topic_relevances"])
    /// The tickers an article mentions. Rows of superseded article versions stay, so readers
    /// use the view `collected_news_ticker_sentiment`, which keeps rows whose `seq` is the
    /// article's.
    public static let newsTickers = TableSchema(
        name: "collected_market_news_tickers", key: ["canonical_url", "ticker"],
        values: ["relevance", "sentiment_score", "sentiment_label"])
    public static let socialPosts = TableSchema(
        name: "collected_social_posts", key: ["platform", "post_id"],
        values: ["author_id", "author_handle", "text", "created_at", "url",
                 "likes", "reposts", "replies", "quotes", "impressions", "bookmarks"])
    public static let socialProfiles = TableSchema(
        name: "collected_social_profiles", key: ["platform", "user_id"],
        values: ["username", "display_name", "description", "followers", "following", "posts", "verified", "created_at"])
    /// `listing_key` is the market code when the venue has one (Bithumb), else the symbol.
    public static let cryptoListings = TableSchema(
        name: "collected_crypto_listings", key: ["venue", "listing_key"],
        values: ["symbol", "market", "coin_id", "name", "korean_name", "english_name", "warning"])
    public static let cryptoMarkets = TableSchema(
        name: "collected_crypto_markets", key: ["coin_id", "vs_currency"],
        values: ["symbol", "name", "current_price", "market_cap", "market_cap_rank", "total_volume",
                 "high_24h", "low_24h", "price_change_24h", "price_change_percentage_24h",
                 "circulating_supply", "total_supply", "max_supply", "last_updated"])
    public static let cryptoTickers = TableSchema(
        name: "collected_crypto_tickers", key: ["venue", "market"],
        values: ["base", "quote", "last_price", "open_price", "high_price", "low_price", "prev_close_price",
                 "volume_24h", "quote_volume_24h", "change_price_24h", "change_rate_24h", "timestamp_ms"])
    /// FRED series (CPI, inflation, federal funds rate, treasury yields …): `value` is NULL
    /// where FRED has its missing marker, which `value_text` keeps.
    public static let macroObservations = TableSchema(
        name: "collected_macro_observations", key: ["series_id", "observation_date"],
        values: ["value", "value_text"])
    /// Trades deduplicated by `(symbol, timestamp_ms)`, the seeds' rule; with each symbol's
    /// running 24 h volume (`sp500_market_data`).
    public static let trades = TableSchema(
        name: "collected_trades", key: ["symbol", "timestamp_ms"],
        values: ["price", "size", "conditions"], trailingSums: [tradeVolume24h])
    /// Per symbol, the `size` of its trades within 24 h before its last trade.
    public static let tradeVolume24h = TrailingSum(
        stateTable: "collected_trade_volume_24h", subjectColumn: 0, timeColumn: 1, valueColumn: 3, span: 86_400_000)

    public static let all: [TableSchema] = [
        dailyBars, metaETF, etfHoldings, indexConstituents, companyOverview, balanceSheet, earningsCalendar,
        marketMovers, news, newsTickers, socialPosts, socialProfiles, cryptoListings, cryptoMarkets,
        cryptoTickers, macroObservations, trades,
    ]

    /// `sp500_market_data`: per symbol with trades, a JSON object with the last trade (price,
    /// time, event id),
    /// the previous close (the latest daily bar before the last trade's New York date), the
    /// change and change percent against it, and the volume of the 24 h up to the last trade
    /// (`tradeVolume24h`, without trailing fractional zeros).
    /// Computed from the converged `collected_trades` and `collected_daily_bars` rows, so
    /// arrival order cannot change it; the "24 h" window ends at the last trade, never "now".
    /// Lookups are `LATERAL … LIMIT 1` (one index probe per symbol), so the planner cannot
    /// choose to hash the whole trades table for a batch's few hundred symbols.
    public static let sp500MarketData = DerivedHash(
        key: "sp500_market_data", channel: "sp500_market_data:updates",
        triggers: [trades.name: 0, dailyBars.name: 0],
        sql: """
        SELECT a.symbol,
               json_build_object(
                 'symbol', a.symbol,
                 'price', lt.price::text,
                 'timestamp_ms', lt.timestamp_ms,
                 'trade_event_id', lt.event_id,
                 'previous_close', pc.close_price::text,
                 'previous_close_date', pc.trade_date::text,
                 'change', (lt.price - pc.close_price)::text,
                 'change_percent', CASE WHEN pc.close_price > 0
                     THEN round((lt.price - pc.close_price) * 100 / pc.close_price, 4)::text END,
                 'volume_24h', trim_scale(v.total)::text)::text
        FROM (SELECT DISTINCT unnest($1::text[]) AS symbol) a
        JOIN LATERAL (
            SELECT v.total, v.last_time FROM collected_trade_volume_24h v WHERE v.subject = a.symbol LIMIT 1) v ON true
        JOIN LATERAL (
            SELECT lt.price, lt.timestamp_ms, lt.event_id FROM collected_trades lt
            WHERE lt.symbol = a.symbol AND lt.timestamp_ms = v.last_time LIMIT 1) lt ON true
        LEFT JOIN LATERAL (
            SELECT b.close_price, b.trade_date FROM collected_daily_bars b
            WHERE b.ticker = a.symbol
              AND b.trade_date < (to_timestamp(lt.timestamp_ms / 1000.0) AT TIME ZONE 'America/New_York')::date
            ORDER BY b.trade_date DESC LIMIT 1) pc ON true
        ORDER BY a.symbol
        """)
}

/// The Redis keys the `collected` projection writes (namespace prefix added by the sink).
public enum CollectedKeys {
    /// The last trade of a symbol.
    public static func latestStock(_ symbol: String) -> String { "latest:stocks:sp500:\(symbol)" }
    /// A symbol's latest top gainers / losers / most active entry.
    public static func latestTopGainer(_ symbol: String) -> String { "latest:stocks:topgainers:\(symbol)" }
    /// The latest ticker of a crypto market: `latest:crypto:KRW-BTC` for Bithumb (the seeds'
    /// layout), `latest:crypto:{venue}:{market}` for other venues so markets cannot collide.
    public static func latestCrypto(venue: String, market: String) -> String {
        venue == "bithumb" ? "latest:crypto:\(market)" : "latest:crypto:\(venue):\(market)"
    }
}
