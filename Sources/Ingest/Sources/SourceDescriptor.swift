import Foundation

/// Where a source expects its credential on a request.
public enum CredentialPlacement: Sendable, Equatable {
    /// The source needs no key.
    case none
    /// A query parameter, e.g. Alpha Vantage's `apikey`.
    case query(String)
    /// A header, e.g. NewsAPI's `X-Api-Key`.
    case header(String)
    /// `Authorization: Bearer <token>` (X).
    case bearer
}

/// What ingest knows about one source before any configuration: its identifier (also the
/// first path segment in fixture directories), real host, credential placement, key
/// variable and default limits.
public struct SourceDescriptor: Sendable {
    public let id: String
    public let defaultBaseURL: URL
    public let credential: CredentialPlacement
    /// The environment variable holding its keys (`NAME` or `NAME_FILE`, see `SecretSource`).
    public let keyVariable: String?
    public let defaultPolicy: RateLimitPolicy

    public init(id: String, defaultBaseURL: URL, credential: CredentialPlacement, keyVariable: String?, defaultPolicy: RateLimitPolicy) {
        self.id = id
        self.defaultBaseURL = defaultBaseURL
        self.credential = credential
        self.keyVariable = keyVariable
        self.defaultPolicy = defaultPolicy
    }

    public static let yahooFinance = SourceDescriptor(
        id: "yahoo_finance", defaultBaseURL: URL(string: "https://query1.finance.yahoo.com")!,
        credential: .none, keyVariable: nil, defaultPolicy: .yahooFinance)
    public static let alphaVantage = SourceDescriptor(
        id: "alpha_vantage", defaultBaseURL: URL(string: "https://www.alphavantage.co")!,
        credential: .query("apikey"), keyVariable: "ALPHAVANTAGE_API_KEYS", defaultPolicy: .alphaVantage)
    public static let finnhub = SourceDescriptor(
        id: "finnhub", defaultBaseURL: URL(string: "https://finnhub.io/api/v1")!,
        credential: .query("token"), keyVariable: "FINNHUB_API_KEYS",
        defaultPolicy: RateLimitPolicy(keyBucket: .perInterval(60, seconds: 60)))
    public static let fred = SourceDescriptor(
        id: "fred", defaultBaseURL: URL(string: "https://api.stlouisfed.org")!,
        credential: .query("api_key"), keyVariable: "FRED_API_KEYS",
        defaultPolicy: RateLimitPolicy(keyBucket: .perInterval(120, seconds: 60)))
    public static let coingecko = SourceDescriptor(
        id: "coingecko", defaultBaseURL: URL(string: "https://api.coingecko.com/api/v3")!,
        credential: .none, keyVariable: nil,
        defaultPolicy: RateLimitPolicy(sourceBucket: .perInterval(10, seconds: 60)))
    public static let bithumb = SourceDescriptor(
        id: "bithumb", defaultBaseURL: URL(string: "https://api.bithumb.com")!,
        credential: .none, keyVariable: nil, defaultPolicy: RateLimitPolicy(minimumSpacing: 1))
    public static let xTwitter = SourceDescriptor(
        id: "x_twitter", defaultBaseURL: URL(string: "https://api.twitter.com")!,
        credential: .bearer, keyVariable: "X_BEARER_TOKENS", defaultPolicy: RateLimitPolicy(minimumSpacing: 1))
    public static let newsAPI = SourceDescriptor(
        id: "newsapi", defaultBaseURL: URL(string: "https://newsapi.org")!,
        credential: .header("X-Api-Key"), keyVariable: "NEWSAPI_API_KEYS",
        defaultPolicy: RateLimitPolicy(dailyQuotaPerKey: 100))
    public static let marketaux = SourceDescriptor(
        id: "marketaux", defaultBaseURL: URL(string: "https://api.marketaux.com")!,
        credential: .query("api_token"), keyVariable: "MARKETAUX_API_KEYS",
        defaultPolicy: RateLimitPolicy(dailyQuotaPerKey: 100))
    public static let truthSocial = SourceDescriptor(
        id: "truth_social", defaultBaseURL: URL(string: "https://truthsocial.com")!,
        credential: .none, keyVariable: nil, defaultPolicy: RateLimitPolicy(minimumSpacing: 2))

    /// Every source ingest knows.
    public static let all: [SourceDescriptor] = [
        .yahooFinance, .alphaVantage, .finnhub, .fred, .coingecko, .bithumb, .xTwitter, .newsAPI, .marketaux, .truthSocial,
    ]
}
