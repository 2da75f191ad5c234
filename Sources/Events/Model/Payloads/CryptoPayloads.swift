/// A crypto data source.
public enum CryptoVenue: String, Codable, Sendable, CaseIterable {
    case bithumb, coingecko
}

/// `crypto.listing` v1: a tradable market or listed coin (subject = symbol, upper case): Bithumb
/// market codes (`KRW-BTC`, Korean/English names) and CoinGecko's coin list (`coinId`).
public struct CryptoListing: EventPayload {
    public static let type = "crypto.listing"
    public static let version = 1

    public var venue: CryptoVenue
    public var symbol: String
    public var market: String?
    public var coinId: String?
    public var name: String?
    public var koreanName: String?
    public var englishName: String?
    /// Bithumb's market warning flag (`CAUTION`), when set.
    public var warning: String?

    public init(venue: CryptoVenue, symbol: String, market: String? = nil, coinId: String? = nil, name: String? = nil, koreanName: String? = nil, englishName: String? = nil, warning: String? = nil) {
        self.venue = venue
        self.symbol = symbol
        self.market = market
        self.coinId = coinId
        self.name = name
        self.koreanName = koreanName
        self.englishName = englishName
        self.warning = warning
    }

    public func validate() throws(PayloadError) {
        try requireText(symbol, "symbol")
    }
}

extension CryptoListing: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        venue = try reader.required("venue")
        symbol = try reader.required("symbol")
        market = try reader.optional("market")
        coinId = try reader.optional("coinId")
        name = try reader.optional("name")
        koreanName = try reader.optional("koreanName")
        englishName = try reader.optional("englishName")
        warning = try reader.optional("warning")
    }
}

/// `crypto.market` v1: a CoinGecko /coins/markets row (subject = symbol, upper case).
public struct CryptoMarket: EventPayload {
    public static let type = "crypto.market"
    public static let version = 1

    public var coinId: String
    public var symbol: String
    public var name: String
    /// The quote currency of every price here (`usd`, `eur`, `krw`).
    public var vsCurrency: String
    public var currentPrice: DecimalString
    public var marketCap: DecimalString?
    public var marketCapRank: Int?
    public var totalVolume: DecimalString?
    public var high24h: DecimalString?
    public var low24h: DecimalString?
    public var priceChange24h: DecimalString?
    public var priceChangePercentage24h: DecimalString?
    public var circulatingSupply: DecimalString?
    public var totalSupply: DecimalString?
    public var maxSupply: DecimalString?
    public var lastUpdated: Timestamp?

    public init(coinId: String, symbol: String, name: String, vsCurrency: String, currentPrice: DecimalString, marketCap: DecimalString? = nil, marketCapRank: Int? = nil, totalVolume: DecimalString? = nil, high24h: DecimalString? = nil, low24h: DecimalString? = nil, priceChange24h: DecimalString? = nil, priceChangePercentage24h: DecimalString? = nil, circulatingSupply: DecimalString? = nil, totalSupply: DecimalString? = nil, maxSupply: DecimalString? = nil, lastUpdated: Timestamp? = nil) {
        self.coinId = coinId
        self.symbol = symbol
        self.name = name
        self.vsCurrency = vsCurrency
        self.currentPrice = currentPrice
        self.marketCap = marketCap
        self.marketCapRank = marketCapRank
        self.totalVolume = totalVolume
        self.high24h = high24h
        self.low24h = low24h
        self.priceChange24h = priceChange24h
        self.priceChangePercentage24h = priceChangePercentage24h
        self.circulatingSupply = circulatingSupply
        self.totalSupply = totalSupply
        self.maxSupply = maxSupply
        self.lastUpdated = lastUpdated
    }
}

extension CryptoMarket: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        coinId = try reader.required("coinId")
        symbol = try reader.required("symbol")
        name = try reader.required("name")
        vsCurrency = try reader.required("vsCurrency")
        currentPrice = try reader.required("currentPrice")
        marketCap = try reader.optional("marketCap")
        marketCapRank = try reader.optional("marketCapRank")
        totalVolume = try reader.optional("totalVolume")
        high24h = try reader.optional("high24h")
        low24h = try reader.optional("low24h")
        priceChange24h = try reader.optional("priceChange24h")
        priceChangePercentage24h = try reader.optional("priceChangePercentage24h")
        circulatingSupply = try reader.optional("circulatingSupply")
        totalSupply = try reader.optional("totalSupply")
        maxSupply = try reader.optional("maxSupply")
        lastUpdated = try reader.optional("lastUpdated")
    }
}

/// `crypto.ticker` v2: a 24 h ticker snapshot of one market (subject = base symbol, upper case):
/// Bithumb KRW tickers and CoinGecko exchange tickers. Natural key `(venue, market)`.
///
/// v2 gives every Bithumb ticker one market code and one unit of change, whichever endpoint it
/// came from: v1 recorded the older `/public/ticker` endpoint as `BTC_KRW` with a percent
/// change, beside `/v1/ticker`'s `KRW-BTC` with a fractional one, so one coin had two keys
/// and two scales (see `CryptoTickerV1.upcast`).
public struct CryptoTicker: EventPayload {
    public static let type = "crypto.ticker"
    public static let version = 2

    public var venue: CryptoVenue
    /// The venue's market code: `QUOTE-BASE` for Bithumb (`KRW-BTC`), `exchange:BASE/TARGET`
    /// for CoinGecko exchange tickers.
    public var market: String
    public var base: String
    public var quote: String
    public var lastPrice: DecimalString
    public var openPrice: DecimalString?
    public var highPrice: DecimalString?
    public var lowPrice: DecimalString?
    public var prevClosePrice: DecimalString?
    public var volume24h: DecimalString?
    public var quoteVolume24h: DecimalString?
    public var changePrice24h: DecimalString?
    /// Signed change over 24 h as a fraction of the earlier price (`-0.0138` = −1.38 %).
    public var changeRate24h: DecimalString?
    /// The venue's own timestamp of the snapshot.
    public var timestampMs: Int64

    public init(venue: CryptoVenue, market: String, base: String, quote: String, lastPrice: DecimalString, openPrice: DecimalString? = nil, highPrice: DecimalString? = nil, lowPrice: DecimalString? = nil, prevClosePrice: DecimalString? = nil, volume24h: DecimalString? = nil, quoteVolume24h: DecimalString? = nil, changePrice24h: DecimalString? = nil, changeRate24h: DecimalString? = nil, timestampMs: Int64) {
        self.venue = venue
        self.market = market
        self.base = base
        self.quote = quote
        self.lastPrice = lastPrice
        self.openPrice = openPrice
        self.highPrice = highPrice
        self.lowPrice = lowPrice
        self.prevClosePrice = prevClosePrice
        self.volume24h = volume24h
        self.quoteVolume24h = quoteVolume24h
        self.changePrice24h = changePrice24h
        self.changeRate24h = changeRate24h
        self.timestampMs = timestampMs
    }

    public func validate() throws(PayloadError) {
        try requireText(market, "market")
        if venue == .bithumb, market != Self.bithumbMarket(base: base, quote: quote) {
            throw PayloadError(path: "market", detail: "a Bithumb market is QUOTE-BASE (\(Self.bithumbMarket(base: base, quote: quote))), found \"\(market)\"")
        }
        try requireNonNegative(Int(timestampMs), "timestampMs")
    }

    /// Bithumb's market code of a pair: `KRW-BTC` for base `BTC`, quote `KRW`.
    public static func bithumbMarket(base: String, quote: String) -> String { "\(quote)-\(base)" }
}

extension CryptoTicker: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        venue = try reader.required("venue")
        market = try reader.required("market")
        base = try reader.required("base")
        quote = try reader.required("quote")
        lastPrice = try reader.required("lastPrice")
        openPrice = try reader.optional("openPrice")
        highPrice = try reader.optional("highPrice")
        lowPrice = try reader.optional("lowPrice")
        prevClosePrice = try reader.optional("prevClosePrice")
        volume24h = try reader.optional("volume24h")
        quoteVolume24h = try reader.optional("quoteVolume24h")
        changePrice24h = try reader.optional("changePrice24h")
        changeRate24h = try reader.optional("changeRate24h")
        timestampMs = try reader.required("timestampMs")
    }
}

/// `crypto.ticker` v1, the first recorded meaning: the same fields, but Bithumb's older
/// `/public/ticker` endpoint was recorded as market `BASE_QUOTE` (`BTC_KRW`) with
/// `changeRate24h` in percent. Upcast to `CryptoTicker` on read.
public struct CryptoTickerV1: EventPayload {
    public static let type = "crypto.ticker"
    public static let version = 1

    /// The stored fields, as v1 meant them.
    public var fields: CryptoTicker

    public init(_ fields: CryptoTicker) {
        self.fields = fields
    }

    public init(from decoder: any Decoder) throws {
        fields = try CryptoTicker(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        try fields.encode(to: encoder)
    }

    /// v1 checked only these; a v1 Bithumb market may be `BTC_KRW`.
    public func validate() throws(PayloadError) {
        try requireText(fields.market, "market")
        try requireNonNegative(Int(fields.timestampMs), "timestampMs")
    }

    /// The v2 reading: a Bithumb `BASE_QUOTE` market (only `/public/ticker` wrote those)
    /// becomes `QUOTE-BASE` and its percent change a fraction. Every other ticker already
    /// meant what v2 says.
    public func upcast() -> CryptoTicker {
        var ticker = fields
        guard ticker.venue == .bithumb, ticker.market == "\(ticker.base)_\(ticker.quote)" else { return ticker }
        ticker.market = CryptoTicker.bithumbMarket(base: ticker.base, quote: ticker.quote)
        ticker.changeRate24h = ticker.changeRate24h?.dividedByPowerOfTen(2)
        return ticker
    }
}

extension CryptoTickerV1: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        fields = try CryptoTicker(reading: &reader)
    }
}
