import Events

/// The collected layer (SPEC §2.1): one row per natural key of every datum the seeds keep,
/// and the `latest:*` Redis keys. Natural keys implement the seeds' dedup rules (news by
/// canonical URL, trades by symbol and millisecond, posts by platform id); the sinks keep, for
/// each key, the row of the highest `seq`.
///
/// Event types the layer does not project (intraday bars, corporate actions, stage and ingest
/// bookkeeping) are skipped. A type the catalogue does not know, a version it cannot read or a
/// payload that fails typed decoding is rejected with the decoder's own message.
public struct CollectedProjection: Projection {
    public let name = "collected"
    /// v2: `latest:*` keys are canonical JSON strings (v1 wrote hashes). v3:
    /// `sp500_market_data`'s `volume_24h` is a running total printed without trailing
    /// fractional zeros (`1.5`, where v2 printed the window's widest scale, `1.50`). v4:
    /// tickers read as `crypto.ticker` v2, so Bithumb's older endpoint lands on the same row
    /// and `latest:crypto:KRW-BTC` key as `/v1/ticker`, with a fractional change rate.
    public let version = 4
    public let catalog: EventCatalog

    public init(catalog: EventCatalog = .standard) {
        self.catalog = catalog
    }

    public var tables: [TableSchema] { CollectedTables.all }
    public var derivedHashes: [DerivedHash] { [CollectedTables.sp500MarketData] }

    /// Types of the catalogue this projection deliberately leaves alone.
    public static let ignoredTypes: Set<String> = [
        IntradayBar.type, StockSplit.type, CashDividend.type, StageDecision.type, IngestCursor.type, IngestRejected.type,
    ]

    public func fold(_ event: Event, seq: UInt64, into changes: inout ProjectionChanges) {
        var fold = EventFold(projection: name, event: event, seq: seq, catalog: catalog)
        // The fold appends straight to the batch's changes (swapped in and out, which moves
        // the arrays without copying) and drops what it appended if the event fails.
        swap(&fold.changes, &changes)
        defer { swap(&fold.changes, &changes) }
        let rowMark = fold.changes.rows.count, keyMark = fold.changes.keys.count
        do {
            switch event.type {
            case DailyBar.type: try fold.dailyBar()
            case ETFProfile.type: try fold.etfProfile()
            case ETFHolding.type: try fold.etfHolding()
            case IndexConstituent.type: try fold.indexConstituent()
            case CompanyOverview.type: try fold.companyOverview()
            case BalanceSheet.type: try fold.balanceSheet()
            case EarningsCalendarEntry.type: try fold.earningsCalendar()
            case MarketMover.type: try fold.marketMover()
            case NewsArticle.type: try fold.newsArticle()
            case SocialPost.type: try fold.socialPost()
            case SocialProfile.type: try fold.socialProfile()
            case CryptoListing.type: try fold.cryptoListing()
            case CryptoMarket.type: try fold.cryptoMarket()
            case CryptoTicker.type: try fold.cryptoTicker()
            case MacroObservation.type: try fold.macroObservation()
            case Trade.type: try fold.trade()
            default:
                if catalog.entry(event.type) == nil {
                    throw FoldFailure("unknown event type \"\(event.type)\" (version \(event.version))")
                }
                // Catalogued but not collected: validate nothing, write nothing.
                guard Self.ignoredTypes.contains(event.type) else {
                    throw FoldFailure("event type \"\(event.type)\" has no fold in \(label)")
                }
            }
        } catch {
            fold.changes.rows.removeSubrange(rowMark...)
            fold.changes.keys.removeSubrange(keyMark...)
            fold.changes.rejects.append(Reject(projection: name, eventID: event.id, seq: seq, eventType: event.type, reason: error.reason))
        }
    }
}

/// Why a fold refused an event; `reason` is stable for a given event.
struct FoldFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

extension Error {
    fileprivate var reason: String {
        if let failure = self as? FoldFailure { return failure.reason }
        return String(describing: self)
    }
}

/// Folds one event into the batch's changes; the caller removes what it appended if it
/// fails, so a failing event contributes nothing but its reject.
private struct EventFold {
    let projection: String
    let event: Event
    let seq: UInt64
    let catalog: EventCatalog
    /// The batch's changes while this event is folded.
    var changes = ProjectionChanges()

    init(projection: String, event: Event, seq: UInt64, catalog: EventCatalog) {
        self.projection = projection
        self.event = event
        self.seq = seq
        self.catalog = catalog
    }

    func payload<P: EventPayload>(_ type: P.Type) throws -> P {
        try catalog.payload(of: event, as: type)
    }

    mutating func row(_ table: TableSchema, _ values: [String?]) throws {
        precondition(values.count == table.columns.count, "\(table.name): \(values.count) values for \(table.columns.count) columns")
        // JSON strings may carry U+0000, which PostgreSQL text cannot store: refuse here
        // rather than fail the sink's whole batch on every retry.
        for (index, value) in values.enumerated() where value.map(containsNUL) == true {
            throw FoldFailure("\(table.name).\(table.columns[index]) would contain a NUL character, which PostgreSQL text cannot hold")
        }
        changes.rows.append(RowUpsert(table: table.name, values: values, seq: seq, eventID: event.id))
    }

    /// A `latest:*` key holding `fields` (given in name order, which spares the sort); absent
    /// values are left out.
    mutating func key(_ key: String, _ fields: [(String, RedisField.Value?)]) {
        let present = fields.compactMap { name, value in value.map { RedisField(name, $0) } }
        changes.keys.append(KeyWrite(key: key, fields: present, seq: seq, eventID: event.id))
    }

    mutating func dailyBar() throws {
        let bar = try payload(DailyBar.self)
        try row(CollectedTables.dailyBars, [
            event.subject, try ColumnText.date(bar.date), try ColumnText.decimal(bar.open), try ColumnText.decimal(bar.high),
            try ColumnText.decimal(bar.low), try ColumnText.decimal(bar.close),
            try ColumnText.decimal(bar.adjClose), String(bar.volume), event.source,
        ])
    }

    mutating func etfProfile() throws {
        let profile = try payload(ETFProfile.self)
        try row(CollectedTables.metaETF, [
            event.subject, profile.name, profile.etfType, profile.sector, profile.description, profile.family,
            try ColumnText.decimal(profile.expenseRatio), try ColumnText.decimal(profile.totalAssets), try ColumnText.date(profile.inceptionDate),
        ])
    }

    mutating func etfHolding() throws {
        let holding = try payload(ETFHolding.self)
        try row(CollectedTables.etfHoldings, [
            holding.fund, holding.symbol ?? holding.name, try ColumnText.date(holding.asOf),
            holding.symbol, holding.name, try ColumnText.decimal(holding.weight), String(holding.rank),
            try ColumnText.decimal(holding.shares), try ColumnText.decimal(holding.marketValue),
        ])
    }

    mutating func indexConstituent() throws {
        let member = try payload(IndexConstituent.self)
        try row(CollectedTables.indexConstituents, [
            member.index, member.symbol, member.name, member.sector, member.subIndustry, member.headquarters,
            try ColumnText.date(member.dateAdded), member.cik, member.founded,
        ])
    }

    mutating func companyOverview() throws {
        let o = try payload(CompanyOverview.self)
        try row(CollectedTables.companyOverview, [
            event.subject, o.name, o.assetType, o.exchange, o.currency, o.country, o.sector, o.industry, o.description,
            try ColumnText.decimal(o.marketCap), try ColumnText.decimal(o.sharesOutstanding), try ColumnText.decimal(o.peRatio),
            try ColumnText.decimal(o.eps), try ColumnText.decimal(o.dividendYield), try ColumnText.decimal(o.beta),
            try ColumnText.decimal(o.week52High), try ColumnText.decimal(o.week52Low), try ColumnText.date(o.latestQuarter),
        ])
    }

    mutating func balanceSheet() throws {
        let b = try payload(BalanceSheet.self)
        try row(CollectedTables.balanceSheet, [
            event.subject, b.period.rawValue, try ColumnText.date(b.fiscalDateEnding), b.reportedCurrency,
            try ColumnText.decimal(b.totalAssets), try ColumnText.decimal(b.totalCurrentAssets), try ColumnText.decimal(b.cashAndEquivalents),
            try ColumnText.decimal(b.totalLiabilities), try ColumnText.decimal(b.totalCurrentLiabilities), try ColumnText.decimal(b.shortTermDebt),
            try ColumnText.decimal(b.longTermDebt), try ColumnText.decimal(b.totalShareholderEquity), try ColumnText.decimal(b.retainedEarnings),
            try ColumnText.decimal(b.sharesOutstanding),
        ])
    }

    mutating func earningsCalendar() throws {
        let e = try payload(EarningsCalendarEntry.self)
        try row(CollectedTables.earningsCalendar, [
            event.subject, try ColumnText.date(e.reportDate), e.name, try ColumnText.date(e.fiscalDateEnding),
            try ColumnText.decimal(e.estimate), e.currency,
        ])
    }

    mutating func marketMover() throws {
        let m = try payload(MarketMover.self)
        let date = try ColumnText.date(LocalDate(daysSinceEpoch: floorDays(event.occurredAt.millisecondsSinceEpoch)))
        try row(CollectedTables.marketMovers, [
            m.category.rawValue, date, event.subject, String(m.rank), try ColumnText.decimal(m.price),
            try ColumnText.decimal(m.changeAmount), try ColumnText.decimal(m.changePercent), String(m.volume),
        ])
        key(CollectedKeys.latestTopGainer(event.subject), [
            ("category", .string(m.category.rawValue)), ("change_amount", .string(m.changeAmount.text)),
            ("change_percent", .string(m.changePercent.text)), ("date", .string(date)), ("price", .string(m.price.text)),
            ("rank", .integer(Int64(m.rank))), ("source", .string(event.source)), ("symbol", .string(event.subject)),
            ("volume", .integer(Int64(m.volume))),
        ])
    }

    mutating func newsArticle() throws {
        let a = try payload(NewsArticle.self)
        try row(CollectedTables.news, [
            event.subject, a.url, a.title, a.summary, a.source, try ColumnText.time(a.publishedAt), ColumnText.array(a.authors),
            a.category, a.imageUrl, try ColumnText.decimal(a.overallSentimentScore), a.overallSentimentLabel,
            ColumnText.array(a.topics.map(\.topic)), ColumnText.array(try a.topics.map { try ColumnText.decimal($0.relevance) }),
        ])
        // One row per ticker; a ticker listed twice keeps its first entry, so the batch never
        // holds two different rows with the same key and seq.
        var seen = Set<String>()
        for ticker in a.tickers where seen.insert(ticker.ticker).inserted {
            try row(CollectedTables.newsTickers, [
                event.subject, ticker.ticker, try ColumnText.decimal(ticker.relevance), try ColumnText.decimal(ticker.sentimentScore), ticker.sentimentLabel,
            ])
        }
    }

    mutating func socialPost() throws {
        let p = try payload(SocialPost.self)
        try row(CollectedTables.socialPosts, [
            p.platform.rawValue, p.postId, p.authorId, p.authorHandle, p.text, try ColumnText.time(p.createdAt), p.url,
            ColumnText.integer(p.metrics.likes), ColumnText.integer(p.metrics.reposts), ColumnText.integer(p.metrics.replies),
            ColumnText.integer(p.metrics.quotes), ColumnText.integer(p.metrics.impressions), ColumnText.integer(p.metrics.bookmarks),
        ])
    }

    mutating func socialProfile() throws {
        let p = try payload(SocialProfile.self)
        try row(CollectedTables.socialProfiles, [
            p.platform.rawValue, p.userId, p.username, p.displayName, p.description,
            ColumnText.integer(p.followers), ColumnText.integer(p.following), ColumnText.integer(p.posts),
            ColumnText.bool(p.verified), try ColumnText.time(p.createdAt),
        ])
    }

    mutating func cryptoListing() throws {
        let l = try payload(CryptoListing.self)
        try row(CollectedTables.cryptoListings, [
            l.venue.rawValue, l.market ?? l.symbol, l.symbol, l.market, l.coinId, l.name, l.koreanName, l.englishName, l.warning,
        ])
    }

    mutating func cryptoMarket() throws {
        let m = try payload(CryptoMarket.self)
        try row(CollectedTables.cryptoMarkets, [
            m.coinId, m.vsCurrency, m.symbol, m.name, try ColumnText.decimal(m.currentPrice), try ColumnText.decimal(m.marketCap),
            ColumnText.integer(m.marketCapRank), try ColumnText.decimal(m.totalVolume), try ColumnText.decimal(m.high24h),
            try ColumnText.decimal(m.low24h), try ColumnText.decimal(m.priceChange24h), try ColumnText.decimal(m.priceChangePercentage24h),
            try ColumnText.decimal(m.circulatingSupply), try ColumnText.decimal(m.totalSupply), try ColumnText.decimal(m.maxSupply),
            try ColumnText.time(m.lastUpdated),
        ])
    }

    mutating func cryptoTicker() throws {
        let t = try payload(CryptoTicker.self)
        try row(CollectedTables.cryptoTickers, [
            t.venue.rawValue, t.market, t.base, t.quote, try ColumnText.decimal(t.lastPrice), try ColumnText.decimal(t.openPrice),
            try ColumnText.decimal(t.highPrice), try ColumnText.decimal(t.lowPrice), try ColumnText.decimal(t.prevClosePrice),
            try ColumnText.decimal(t.volume24h), try ColumnText.decimal(t.quoteVolume24h), try ColumnText.decimal(t.changePrice24h),
            try ColumnText.decimal(t.changeRate24h), String(t.timestampMs),
        ])
        key(CollectedKeys.latestCrypto(venue: t.venue.rawValue, market: t.market), [
            ("base", .string(t.base)), ("change_price", t.changePrice24h.map { .string($0.text) }),
            ("change_rate", t.changeRate24h.map { .string($0.text) }), ("price", .string(t.lastPrice.text)),
            ("quote", .string(t.quote)), ("source", .string(t.venue.rawValue)), ("symbol", .string(t.market)),
            ("timestamp", .integer(t.timestampMs)), ("volume", t.volume24h.map { .string($0.text) }),
        ])
    }

    mutating func macroObservation() throws {
        let o = try payload(MacroObservation.self)
        try row(CollectedTables.macroObservations, [o.seriesId, try ColumnText.date(o.date), try ColumnText.decimal(o.decimalValue), o.value])
    }

    mutating func trade() throws {
        let t = try payload(Trade.self)
        try row(CollectedTables.trades, [
            event.subject, String(t.timestampMs), try ColumnText.decimal(t.price), try ColumnText.decimal(t.size), ColumnText.array(t.conditions),
        ])
        key(CollectedKeys.latestStock(event.subject), [
            ("price", .string(t.price.text)), ("source", .string(event.source)), ("symbol", .string(event.subject)),
            ("timestamp", .integer(t.timestampMs)), ("volume", .string(t.size.text)),
        ])
    }

    private func floorDays(_ milliseconds: Int64) -> Int64 {
        milliseconds >= 0 ? milliseconds / 86_400_000 : (milliseconds - 86_399_999) / 86_400_000
    }
}

/// Whether `text` holds U+0000; scans the UTF-8 bytes in place.
private func containsNUL(_ text: String) -> Bool {
    text.utf8.withContiguousStorageIfAvailable { $0.contains(0) } ?? text.utf8.contains(0)
}
