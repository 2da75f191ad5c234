/// A ticker an article mentions, with Alpha Vantage-style scores (decimal strings).
public struct TickerSentiment: Codable, Hashable, Sendable {
    public var ticker: String
    public var relevance: DecimalString
    public var sentimentScore: DecimalString?
    public var sentimentLabel: String?

    public init(ticker: String, relevance: DecimalString, sentimentScore: DecimalString? = nil, sentimentLabel: String? = nil) {
        self.ticker = ticker
        self.relevance = relevance
        self.sentimentScore = sentimentScore
        self.sentimentLabel = sentimentLabel
    }
}

extension TickerSentiment: JSONObjectDecodable {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        ticker = try reader.required("ticker")
        relevance = try reader.required("relevance")
        sentimentScore = try reader.optional("sentimentScore")
        sentimentLabel = try reader.optional("sentimentLabel")
    }
}

/// A topic an article covers, with its relevance.
public struct TopicRelevance: Codable, Hashable, Sendable {
    public var topic: String
    public var relevance: DecimalString

    public init(topic: String, relevance: DecimalString) {
        self.topic = topic
        self.relevance = relevance
    }
}

extension TopicRelevance: JSONObjectDecodable {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        topic = try reader.required("topic")
        relevance = try reader.required("relevance")
    }
}

/// `news.article` v1: a market or company news article (subject = the canonical URL, its dedup
/// key; `url` is that canonical URL too: lower-case scheme and host, no fragment, default port,
/// trailing slash or tracking parameter, as the ingest parsers' `NewsURL` makes it). Company
/// news carries the queried ticker in `tickers`.
public struct NewsArticle: EventPayload {
    public static let type = "news.article"
    public static let version = 1

    public var url: String
    public var title: String
    public var summary: String?
    /// The publisher (`Benzinga`).
    public var source: String
    public var publishedAt: Timestamp
    public var authors: [String]
    public var category: String?
    public var imageUrl: String?
    public var overallSentimentScore: DecimalString?
    public var overallSentimentLabel: String?
    public var topics: [TopicRelevance]
    public var tickers: [TickerSentiment]

    public init(url: String, title: String, summary: String? = nil, source: String, publishedAt: Timestamp, authors: [String] = [], category: String? = nil, imageUrl: String? = nil, overallSentimentScore: DecimalString? = nil, overallSentimentLabel: String? = nil, topics: [TopicRelevance] = [], tickers: [TickerSentiment] = []) {
        self.url = url
        self.title = title
        self.summary = summary
        self.source = source
        self.publishedAt = publishedAt
        self.authors = authors
        self.category = category
        self.imageUrl = imageUrl
        self.overallSentimentScore = overallSentimentScore
        self.overallSentimentLabel = overallSentimentLabel
        self.topics = topics
        self.tickers = tickers
    }

    public func validate() throws(PayloadError) {
        try requireText(url, "url")
    }
}

extension NewsArticle: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        url = try reader.required("url")
        title = try reader.required("title")
        summary = try reader.optional("summary")
        source = try reader.required("source")
        publishedAt = try reader.required("publishedAt")
        authors = try reader.required("authors")
        category = try reader.optional("category")
        imageUrl = try reader.optional("imageUrl")
        overallSentimentScore = try reader.optional("overallSentimentScore")
        overallSentimentLabel = try reader.optional("overallSentimentLabel")
        topics = try reader.required("topics")
        tickers = try reader.required("tickers")
    }
}

/// Where a social post or profile lives.
public enum SocialPlatform: String, Codable, Sendable, CaseIterable {
    case x, truthsocial
}

/// Engagement counters as the platform reported them at fetch time.
public struct PostMetrics: Codable, Hashable, Sendable {
    public var likes: Int?
    public var reposts: Int?
    public var replies: Int?
    public var quotes: Int?
    public var impressions: Int?
    public var bookmarks: Int?

    public init(likes: Int? = nil, reposts: Int? = nil, replies: Int? = nil, quotes: Int? = nil, impressions: Int? = nil, bookmarks: Int? = nil) {
        self.likes = likes
        self.reposts = reposts
        self.replies = replies
        self.quotes = quotes
        self.impressions = impressions
        self.bookmarks = bookmarks
    }
}

extension PostMetrics: JSONObjectDecodable {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        likes = try reader.optional("likes")
        reposts = try reader.optional("reposts")
        replies = try reader.optional("replies")
        quotes = try reader.optional("quotes")
        impressions = try reader.optional("impressions")
        bookmarks = try reader.optional("bookmarks")
    }
}

/// `social.post` v1: a post on X or Truth Social (subject = author handle); natural key
/// `(platform, postId)`. An edit or new metrics is a new event with the same natural key.
public struct SocialPost: EventPayload {
    public static let type = "social.post"
    public static let version = 1

    public var platform: SocialPlatform
    public var postId: String
    public var authorId: String
    public var authorHandle: String?
    public var text: String
    public var createdAt: Timestamp
    public var url: String?
    public var metrics: PostMetrics

    public init(platform: SocialPlatform, postId: String, authorId: String, authorHandle: String? = nil, text: String, createdAt: Timestamp, url: String? = nil, metrics: PostMetrics = PostMetrics()) {
        self.platform = platform
        self.postId = postId
        self.authorId = authorId
        self.authorHandle = authorHandle
        self.text = text
        self.createdAt = createdAt
        self.url = url
        self.metrics = metrics
    }

    public func validate() throws(PayloadError) {
        try requireText(postId, "postId")
    }
}

extension SocialPost: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        platform = try reader.required("platform")
        postId = try reader.required("postId")
        authorId = try reader.required("authorId")
        authorHandle = try reader.optional("authorHandle")
        text = try reader.required("text")
        createdAt = try reader.required("createdAt")
        url = try reader.optional("url")
        metrics = try reader.required("metrics")
    }
}

/// `social.profile` v1: an account on X or Truth Social (subject = handle).
public struct SocialProfile: EventPayload {
    public static let type = "social.profile"
    public static let version = 1

    public var platform: SocialPlatform
    public var userId: String
    public var username: String
    public var displayName: String?
    public var description: String?
    public var followers: Int?
    public var following: Int?
    public var posts: Int?
    public var verified: Bool?
    public var createdAt: Timestamp?

    public init(platform: SocialPlatform, userId: String, username: String, displayName: String? = nil, description: String? = nil, followers: Int? = nil, following: Int? = nil, posts: Int? = nil, verified: Bool? = nil, createdAt: Timestamp? = nil) {
        self.platform = platform
        self.userId = userId
        self.username = username
        self.displayName = displayName
        self.description = description
        self.followers = followers
        self.following = following
        self.posts = posts
        self.verified = verified
        self.createdAt = createdAt
    }

    public func validate() throws(PayloadError) {
        try requireText(userId, "userId")
        try requireText(username, "username")
    }
}

extension SocialProfile: DirectlyDecodablePayload {
    public init(reading reader: inout JSONObjectReader) throws(PayloadError) {
        platform = try reader.required("platform")
        userId = try reader.required("userId")
        username = try reader.required("username")
        displayName = try reader.optional("displayName")
        description = try reader.optional("description")
        followers = try reader.optional("followers")
        following = try reader.optional("following")
        posts = try reader.optional("posts")
        verified = try reader.optional("verified")
        createdAt = try reader.optional("createdAt")
    }
}
