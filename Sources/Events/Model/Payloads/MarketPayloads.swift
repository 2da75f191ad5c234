/// `bar.daily` v2: one trading day of a ticker (subject = ticker). Prices are as the source
/// states them (Yahoo chart: split-adjusted); `adjClose` also adjusts for dividends when known.
public struct DailyBar: EventPayload {
    public static let type = "bar.daily"
    public static let version = 2

    public var date: LocalDate
    public var open: DecimalString
    public var high: DecimalString
    public var low: DecimalString
    public var close: DecimalString
    public var adjClose: DecimalString?
    public var volume: Int

    public init(date: LocalDate, open: DecimalString, high: DecimalString, low: DecimalString, close: DecimalString, adjClose: DecimalString? = nil, volume: Int) {
        self.date = date
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.adjClose = adjClose
        self.volume = volume
    }

    public func validate() throws(PayloadError) {
        try requireNonNegative(volume, "volume")
    }
}

extension DailyBar: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        date = try reader.required("date")
        open = try reader.required("open")
        high = try reader.required("high")
        low = try reader.required("low")
        close = try reader.required("close")
        adjClose = try reader.optional("adjClose")
        volume = try reader.required("volume")
    }
}

/// `bar.daily` v1, the first recorded shape (no `adjClose`); upcast to `DailyBar` on read.
public struct DailyBarV1: EventPayload {
    public static let type = "bar.daily"
    public static let version = 1

    public var date: LocalDate
    public var open: DecimalString
    public var high: DecimalString
    public var low: DecimalString
    public var close: DecimalString
    public var volume: Int

    public init(date: LocalDate, open: DecimalString, high: DecimalString, low: DecimalString, close: DecimalString, volume: Int) {
        self.date = date
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
    }

    public func validate() throws(PayloadError) {
        try requireNonNegative(volume, "volume")
    }
}

extension DailyBarV1: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        date = try reader.required("date")
        open = try reader.required("open")
        high = try reader.required("high")
        low = try reader.required("low")
        close = try reader.required("close")
        volume = try reader.required("volume")
    }
}

/// `bar.intraday` v1: one interval bar (subject = ticker); `start` is the bar's opening instant.
public struct IntradayBar: EventPayload {
    public static let type = "bar.intraday"
    public static let version = 1

    /// `1m`, `5m`, `15m`, `30m`, `60m`, `90m`, `1h`.
    public var interval: String
    public var start: Timestamp
    public var open: DecimalString
    public var high: DecimalString
    public var low: DecimalString
    public var close: DecimalString
    public var volume: Int

    public init(interval: String, start: Timestamp, open: DecimalString, high: DecimalString, low: DecimalString, close: DecimalString, volume: Int) {
        self.interval = interval
        self.start = start
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
    }

    public static let intervals: Set<String> = ["1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h"]

    public func validate() throws(PayloadError) {
        guard Self.intervals.contains(interval) else {
            throw PayloadError(path: "interval", detail: "\"\(interval)\" is not one of \(Self.intervals.sorted().joined(separator: ", "))")
        }
        try requireNonNegative(volume, "volume")
    }
}

extension IntradayBar: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        interval = try reader.required("interval")
        start = try reader.required("start")
        open = try reader.required("open")
        high = try reader.required("high")
        low = try reader.required("low")
        close = try reader.required("close")
        volume = try reader.required("volume")
    }
}

/// `trade` v1: one print from Finnhub's trade stream (subject = symbol); natural key
/// `(symbol, timestampMs)`. `size` is a decimal string because crypto venues trade fractions.
public struct Trade: EventPayload {
    public static let type = "trade"
    public static let version = 1

    public var price: DecimalString
    public var size: DecimalString
    public var timestampMs: Int64
    /// Exchange condition codes as sent (`["1", "12"]`), possibly empty.
    public var conditions: [String]

    public init(price: DecimalString, size: DecimalString, timestampMs: Int64, conditions: [String] = []) {
        self.price = price
        self.size = size
        self.timestampMs = timestampMs
        self.conditions = conditions
    }

    public func validate() throws(PayloadError) {
        try requireNonNegative(Int(timestampMs), "timestampMs")
    }
}

extension Trade: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        price = try reader.required("price")
        size = try reader.required("size")
        timestampMs = try reader.required("timestampMs")
        conditions = try reader.required("conditions")
    }
}

/// Which list of the day's movers a `market.mover` belongs to.
public enum MoverCategory: String, Codable, Sendable, CaseIterable {
    case gainer, loser
    case mostActive = "most_active"
}

/// `market.mover` v1: one entry of the top gainers / losers / most active list (subject = ticker).
public struct MarketMover: EventPayload {
    public static let type = "market.mover"
    public static let version = 1

    public var category: MoverCategory
    /// 1-based position within its category list.
    public var rank: Int
    public var price: DecimalString
    public var changeAmount: DecimalString
    /// Percent change without the `%` sign (`"9.1"`).
    public var changePercent: DecimalString
    public var volume: Int

    public init(category: MoverCategory, rank: Int, price: DecimalString, changeAmount: DecimalString, changePercent: DecimalString, volume: Int) {
        self.category = category
        self.rank = rank
        self.price = price
        self.changeAmount = changeAmount
        self.changePercent = changePercent
        self.volume = volume
    }

    public func validate() throws(PayloadError) {
        try requirePositive(rank, "rank")
        try requireNonNegative(volume, "volume")
    }
}

extension MarketMover: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        category = try reader.required("category")
        rank = try reader.required("rank")
        price = try reader.required("price")
        changeAmount = try reader.required("changeAmount")
        changePercent = try reader.required("changePercent")
        volume = try reader.required("volume")
    }
}

/// `corporate.split` v1: a split on `date` (subject = ticker), `numerator`:`denominator` new:old shares.
public struct StockSplit: EventPayload {
    public static let type = "corporate.split"
    public static let version = 1

    public var date: LocalDate
    public var numerator: DecimalString
    public var denominator: DecimalString

    public init(date: LocalDate, numerator: DecimalString, denominator: DecimalString) {
        self.date = date
        self.numerator = numerator
        self.denominator = denominator
    }
}

extension StockSplit: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        date = try reader.required("date")
        numerator = try reader.required("numerator")
        denominator = try reader.required("denominator")
    }
}

/// `corporate.dividend` v1: a cash dividend per share going ex on `date` (subject = ticker).
public struct CashDividend: EventPayload {
    public static let type = "corporate.dividend"
    public static let version = 1

    public var date: LocalDate
    public var amount: DecimalString
    public var currency: String?

    public init(date: LocalDate, amount: DecimalString, currency: String? = nil) {
        self.date = date
        self.amount = amount
        self.currency = currency
    }
}

extension CashDividend: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        date = try reader.required("date")
        amount = try reader.required("amount")
        currency = try reader.optional("currency")
    }
}

/// `macro.observation` v1: one FRED observation (subject = series id). `value` is the source's
/// text: a decimal, or FRED's missing marker `"."` kept as such.
public struct MacroObservation: EventPayload {
    public static let type = "macro.observation"
    public static let version = 1

    /// FRED's marker for a missing value.
    public static let missing = "."

    public var seriesId: String
    public var date: LocalDate
    public var value: String

    public init(seriesId: String, date: LocalDate, value: String) {
        self.seriesId = seriesId
        self.date = date
        self.value = value
    }

    /// The value, unless it is the missing marker.
    public var decimalValue: DecimalString? { DecimalString(value) }

    public func validate() throws(PayloadError) {
        try requireText(seriesId, "seriesId")
        guard value == Self.missing || DecimalString.isValid(value) else {
            throw PayloadError(path: "value", detail: "expected a decimal string or \".\", found \"\(value)\"")
        }
    }
}

extension MacroObservation: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        seriesId = try reader.required("seriesId")
        date = try reader.required("date")
        value = try reader.required("value")
    }
}

func requireNonNegative(_ value: Int, _ path: String) throws(PayloadError) {
    guard value >= 0 else { throw PayloadError(path: path, detail: "expected a non-negative integer, found \(value)") }
}

func requirePositive(_ value: Int, _ path: String) throws(PayloadError) {
    guard value >= 1 else { throw PayloadError(path: path, detail: "expected an integer ≥ 1, found \(value)") }
}

func requireText(_ value: String, _ path: String) throws(PayloadError) {
    guard !value.isEmpty else { throw PayloadError(path: path, detail: "must not be empty") }
}
