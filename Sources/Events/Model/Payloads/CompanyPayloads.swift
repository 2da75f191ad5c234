/// `company.overview` v1: Alpha Vantage OVERVIEW essentials (subject = ticker). Numbers stay
/// decimal strings; fields the source reports as `None` are omitted.
public struct CompanyOverview: EventPayload {
    public static let type = "company.overview"
    public static let version = 1

    public var name: String
    public var assetType: String?
    public var exchange: String?
    public var currency: String?
    public var country: String?
    public var sector: String?
    public var industry: String?
    public var description: String?
    public var marketCap: DecimalString?
    public var sharesOutstanding: DecimalString?
    public var peRatio: DecimalString?
    public var eps: DecimalString?
    public var dividendYield: DecimalString?
    public var beta: DecimalString?
    public var week52High: DecimalString?
    public var week52Low: DecimalString?
    public var latestQuarter: LocalDate?

    public init(name: String, assetType: String? = nil, exchange: String? = nil, currency: String? = nil, country: String? = nil, sector: String? = nil, industry: String? = nil, description: String? = nil, marketCap: DecimalString? = nil, sharesOutstanding: DecimalString? = nil, peRatio: DecimalString? = nil, eps: DecimalString? = nil, dividendYield: DecimalString? = nil, beta: DecimalString? = nil, week52High: DecimalString? = nil, week52Low: DecimalString? = nil, latestQuarter: LocalDate? = nil) {
        self.name = name
        self.assetType = assetType
        self.exchange = exchange
        self.currency = currency
        self.country = country
        self.sector = sector
        self.industry = industry
        self.description = description
        self.marketCap = marketCap
        self.sharesOutstanding = sharesOutstanding
        self.peRatio = peRatio
        self.eps = eps
        self.dividendYield = dividendYield
        self.beta = beta
        self.week52High = week52High
        self.week52Low = week52Low
        self.latestQuarter = latestQuarter
    }
}

extension CompanyOverview: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        name = try reader.required("name")
        assetType = try reader.optional("assetType")
        exchange = try reader.optional("exchange")
        currency = try reader.optional("currency")
        country = try reader.optional("country")
        sector = try reader.optional("sector")
        industry = try reader.optional("industry")
        description = try reader.optional("description")
        marketCap = try reader.optional("marketCap")
        sharesOutstanding = try reader.optional("sharesOutstanding")
        peRatio = try reader.optional("peRatio")
        eps = try reader.optional("eps")
        dividendYield = try reader.optional("dividendYield")
        beta = try reader.optional("beta")
        week52High = try reader.optional("week52High")
        week52Low = try reader.optional("week52Low")
        latestQuarter = try reader.optional("latestQuarter")
    }
}

/// Whether a financial statement covers a fiscal year or a quarter.
public enum ReportPeriod: String, Codable, Sendable, CaseIterable {
    case annual, quarterly
}

/// `company.balance_sheet` v1: one Alpha Vantage BALANCE_SHEET report (subject = ticker);
/// natural key `(ticker, period, fiscalDateEnding)`.
public struct BalanceSheet: EventPayload {
    public static let type = "company.balance_sheet"
    public static let version = 1

    public var period: ReportPeriod
    public var fiscalDateEnding: LocalDate
    public var reportedCurrency: String
    public var totalAssets: DecimalString?
    public var totalCurrentAssets: DecimalString?
    public var cashAndEquivalents: DecimalString?
    public var totalLiabilities: DecimalString?
    public var totalCurrentLiabilities: DecimalString?
    public var shortTermDebt: DecimalString?
    public var longTermDebt: DecimalString?
    public var totalShareholderEquity: DecimalString?
    public var retainedEarnings: DecimalString?
    public var sharesOutstanding: DecimalString?

    public init(period: ReportPeriod, fiscalDateEnding: LocalDate, reportedCurrency: String, totalAssets: DecimalString? = nil, totalCurrentAssets: DecimalString? = nil, cashAndEquivalents: DecimalString? = nil, totalLiabilities: DecimalString? = nil, totalCurrentLiabilities: DecimalString? = nil, shortTermDebt: DecimalString? = nil, longTermDebt: DecimalString? = nil, totalShareholderEquity: DecimalString? = nil, retainedEarnings: DecimalString? = nil, sharesOutstanding: DecimalString? = nil) {
        self.period = period
        self.fiscalDateEnding = fiscalDateEnding
        self.reportedCurrency = reportedCurrency
        self.totalAssets = totalAssets
        self.totalCurrentAssets = totalCurrentAssets
        self.cashAndEquivalents = cashAndEquivalents
        self.totalLiabilities = totalLiabilities
        self.totalCurrentLiabilities = totalCurrentLiabilities
        self.shortTermDebt = shortTermDebt
        self.longTermDebt = longTermDebt
        self.totalShareholderEquity = totalShareholderEquity
        self.retainedEarnings = retainedEarnings
        self.sharesOutstanding = sharesOutstanding
    }
}

extension BalanceSheet: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        period = try reader.required("period")
        fiscalDateEnding = try reader.required("fiscalDateEnding")
        reportedCurrency = try reader.required("reportedCurrency")
        totalAssets = try reader.optional("totalAssets")
        totalCurrentAssets = try reader.optional("totalCurrentAssets")
        cashAndEquivalents = try reader.optional("cashAndEquivalents")
        totalLiabilities = try reader.optional("totalLiabilities")
        totalCurrentLiabilities = try reader.optional("totalCurrentLiabilities")
        shortTermDebt = try reader.optional("shortTermDebt")
        longTermDebt = try reader.optional("longTermDebt")
        totalShareholderEquity = try reader.optional("totalShareholderEquity")
        retainedEarnings = try reader.optional("retainedEarnings")
        sharesOutstanding = try reader.optional("sharesOutstanding")
    }
}

/// `earnings.calendar` v1: a scheduled earnings report (subject = ticker); natural key
/// `(ticker, reportDate)`.
public struct EarningsCalendarEntry: EventPayload {
    public static let type = "earnings.calendar"
    public static let version = 1

    public var name: String
    public var reportDate: LocalDate
    public var fiscalDateEnding: LocalDate
    /// Consensus EPS estimate, when the source has one.
    public var estimate: DecimalString?
    public var currency: String

    public init(name: String, reportDate: LocalDate, fiscalDateEnding: LocalDate, estimate: DecimalString? = nil, currency: String) {
        self.name = name
        self.reportDate = reportDate
        self.fiscalDateEnding = fiscalDateEnding
        self.estimate = estimate
        self.currency = currency
    }
}

extension EarningsCalendarEntry: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        name = try reader.required("name")
        reportDate = try reader.required("reportDate")
        fiscalDateEnding = try reader.required("fiscalDateEnding")
        estimate = try reader.optional("estimate")
        currency = try reader.required("currency")
    }
}
