/// `etf.holding` v1: one constituent of a fund on `asOf` (subject = fund ticker); natural key
/// `(fund, symbol or name, asOf)`. `weight` is percent of the fund (`"7.12"`).
public struct ETFHolding: EventPayload {
    public static let type = "etf.holding"
    public static let version = 1

    public var fund: String
    /// Absent for cash, futures and other rows without a ticker (Invesco sends those).
    public var symbol: String?
    public var name: String
    public var weight: DecimalString
    public var asOf: LocalDate
    /// 1-based position by weight within the fund.
    public var rank: Int
    public var shares: DecimalString?
    public var marketValue: DecimalString?

    public init(fund: String, symbol: String?, name: String, weight: DecimalString, asOf: LocalDate, rank: Int, shares: DecimalString? = nil, marketValue: DecimalString? = nil) {
        self.fund = fund
        self.symbol = symbol
        self.name = name
        self.weight = weight
        self.asOf = asOf
        self.rank = rank
        self.shares = shares
        self.marketValue = marketValue
    }

    public func validate() throws(PayloadError) {
        try requireText(fund, "fund")
        try requirePositive(rank, "rank")
    }
}

extension ETFHolding: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        fund = try reader.required("fund")
        symbol = try reader.optional("symbol")
        name = try reader.required("name")
        weight = try reader.required("weight")
        asOf = try reader.required("asOf")
        rank = try reader.required("rank")
        shares = try reader.optional("shares")
        marketValue = try reader.optional("marketValue")
    }
}

/// `etf.profile` v1: static fund metadata (subject = fund ticker), the `collected_meta_etf` row.
public struct ETFProfile: EventPayload {
    public static let type = "etf.profile"
    public static let version = 1

    public var name: String
    /// `benchmark`, `sector`, `thematic`, `country`, … as the plan classifies it.
    public var etfType: String
    public var sector: String?
    public var description: String?
    public var family: String?
    public var expenseRatio: DecimalString?
    public var totalAssets: DecimalString?
    public var inceptionDate: LocalDate?

    public init(name: String, etfType: String, sector: String? = nil, description: String? = nil, family: String? = nil, expenseRatio: DecimalString? = nil, totalAssets: DecimalString? = nil, inceptionDate: LocalDate? = nil) {
        self.name = name
        self.etfType = etfType
        self.sector = sector
        self.description = description
        self.family = family
        self.expenseRatio = expenseRatio
        self.totalAssets = totalAssets
        self.inceptionDate = inceptionDate
    }
}

extension ETFProfile: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        name = try reader.required("name")
        etfType = try reader.required("etfType")
        sector = try reader.optional("sector")
        description = try reader.optional("description")
        family = try reader.optional("family")
        expenseRatio = try reader.optional("expenseRatio")
        totalAssets = try reader.optional("totalAssets")
        inceptionDate = try reader.optional("inceptionDate")
    }
}

/// `index.constituent` v1: membership of a company in an index (subject = ticker).
public struct IndexConstituent: EventPayload {
    public static let type = "index.constituent"
    public static let version = 1

    /// `sp500`.
    public var index: String
    public var symbol: String
    public var name: String
    public var sector: String?
    public var subIndustry: String?
    public var headquarters: String?
    public var dateAdded: LocalDate?
    public var cik: String?
    public var founded: String?

    public init(index: String, symbol: String, name: String, sector: String? = nil, subIndustry: String? = nil, headquarters: String? = nil, dateAdded: LocalDate? = nil, cik: String? = nil, founded: String? = nil) {
        self.index = index
        self.symbol = symbol
        self.name = name
        self.sector = sector
        self.subIndustry = subIndustry
        self.headquarters = headquarters
        self.dateAdded = dateAdded
        self.cik = cik
        self.founded = founded
    }

    public func validate() throws(PayloadError) {
        try requireText(index, "index")
        try requireText(symbol, "symbol")
    }
}

extension IndexConstituent: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        index = try reader.required("index")
        symbol = try reader.required("symbol")
        name = try reader.required("name")
        sector = try reader.optional("sector")
        subIndustry = try reader.optional("subIndustry")
        headquarters = try reader.optional("headquarters")
        dateAdded = try reader.optional("dateAdded")
        cik = try reader.optional("cik")
        founded = try reader.optional("founded")
    }
}
