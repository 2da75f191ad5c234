import Events

/// X API v2 `/2/users/by/username/{username}` (and `/2/users/{id}`) → one `social.profile`
/// (platform `x`, subject = username). A profile is a snapshot with no time of its own:
/// `occurredAt` is the request's `asOf` at 00:00Z (required).
public struct XUserParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        try XErrors.check(root, hasData: root.optionalMember("data") != nil, context)
        let occurredAt = try context.snapshotTime("an X user")
        var collector = EventCollector(context, eventSource: "x")
        do throws(FieldError) {
            let user = try root.member("data")
            let metrics = user.optionalMember("public_metrics")
            func count(_ key: String) throws(FieldError) -> Int? { try metrics?.optionalMember(key)?.count() }
            let username = try user.member("username").text()
            let profile = SocialProfile(
                platform: .x, userId: try user.member("id").text(), username: username,
                displayName: try user.optionalMember("name")?.optionalText(),
                description: try user.optionalMember("description")?.optionalText(),
                followers: try count("followers_count"), following: try count("following_count"), posts: try count("tweet_count"),
                verified: try user.optionalMember("verified")?.bool(),
                createdAt: try user.optionalMember("created_at")?.rfc3339())
            try collector.add(profile, subject: username, occurredAt: occurredAt, path: user.path)
        } catch {
            throw error.parseError(context)
        }
        return collector.result
    }
}

/// X API v2 tweet lists (`/2/users/{id}/tweets`, `/2/tweets/search/recent`, `/2/tweets/{id}`)
/// → `social.post` per tweet (platform `x`).
///
/// - `authorId` is `author_id`, else the context's subject (the `{id}` of `/users/{id}/tweets`).
/// - The handle comes from `includes.users` (request `expansions=author_id`), else the
///   `username` request parameter; the subject is the handle, else the author id.
/// - `createdAt`/`occurredAt` is `created_at`, else the time encoded in the tweet id (a
///   snowflake: milliseconds = (id >> 22) + 1288834974657) — exact, not invented.
/// - X escapes `&`, `<`, `>` in text; the entities are decoded.
/// - `errors` next to `data` (partial failures) become issues; `errors` alone is a source error.
public struct XTweetsParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        let data = root.optionalMember("data")
        try XErrors.check(root, hasData: data != nil, context)
        var collector = EventCollector(context, eventSource: "x")
        do throws(FieldError) {
            _ = try root.object()
            var handles: [String: String] = [:]
            for user in try root.optionalMember("includes")?.optionalMember("users")?.array() ?? [] {
                collector.each { (_: inout EventCollector) throws(FieldError) in
                    handles[try user.member("id").text()] = try user.member("username").text()
                }
            }
            for error in try root.optionalMember("errors")?.array() ?? [] {
                collector.issue(error.path, "X reported: " + XErrors.message(error))
            }
            guard let data else {
                let count = try root.optionalMember("meta")?.optionalMember("result_count")?.count()
                guard count == 0 else { throw FieldError(code: .missingField, path: "$.data", detail: "missing, and meta.result_count is not 0") }
                return collector.result
            }
            let tweets: [JSONNode]
            if case .object = data.value { tweets = [data] } else { tweets = try data.array() }
            for tweet in tweets {
                collector.each { (c: inout EventCollector) throws(FieldError) in
                    let idNode = try tweet.member("id")
                    let id = try idNode.text()
                    let authorId: String
                    if let stated = tweet.optionalMember("author_id") {
                        authorId = try stated.text()
                    } else if let subject = context.subject, !subject.isEmpty {
                        authorId = subject
                    } else {
                        throw FieldError(code: .missingField, path: tweet.path + ".author_id", detail: "missing, and the request context names no user")
                    }
                    let createdAt: Timestamp
                    if let stated = tweet.optionalMember("created_at") {
                        createdAt = try stated.rfc3339()
                    } else {
                        guard let snowflake = UInt64(id), snowflake >> 22 > 0 else { throw idNode.invalid("not a numeric tweet id, and created_at is missing") }
                        createdAt = Timestamp(millisecondsSinceEpoch: Int64(snowflake >> 22) + 1_288_834_974_657)
                    }
                    let handle = handles[authorId] ?? context.parameter("username")
                    let metrics = tweet.optionalMember("public_metrics")
                    func count(_ key: String) throws(FieldError) -> Int? { try metrics?.optionalMember(key)?.count() }
                    let post = SocialPost(
                        platform: .x, postId: id, authorId: authorId, authorHandle: handle,
                        text: HTMLText.decodingEntities(try tweet.member("text").string()), createdAt: createdAt,
                        url: handle.map { "https://x.com/\($0)/status/\(id)" },
                        metrics: PostMetrics(likes: try count("like_count"), reposts: try count("retweet_count"), replies: try count("reply_count"),
                                             quotes: try count("quote_count"), impressions: try count("impression_count"), bookmarks: try count("bookmark_count")))
                    try c.add(post, subject: handle ?? authorId, occurredAt: createdAt, path: tweet.path)
                }
            }
        } catch {
            throw error.parseError(context)
        }
        return collector.result
    }
}

/// X error bodies: `{"errors": [{"title", "detail"|"message"}]}` without `data`, or a problem
/// object `{"title": "Unauthorized", "status": 401, "detail": …}`.
enum XErrors {
    static func check(_ root: JSONNode, hasData: Bool, _ context: ParseContext) throws(ParseError) {
        guard !hasData else { return }
        if let errors = root.optionalMember("errors"), case .array(let list) = errors.value, let first = list.first {
            throw ParseError(.sourceError, context, location: "$.errors", "X reported an error: \(message(JSONNode(first, path: errors.path + "[0]")))")
        }
        if root.optionalMember("status") != nil, root.optionalMember("title") != nil {
            throw ParseError(.sourceError, context, location: "$", "X reported an error: \(message(root))")
        }
    }

    static func message(_ error: JSONNode) -> String {
        let parts = ["title", "detail", "message"].compactMap { error.optionalMember($0)?.value.stringValue }
        return excerpt(parts.isEmpty ? error.value.description : parts.joined(separator: ": "), limit: 200)
    }
}

/// Truth Social (Mastodon API) statuses — `/api/v1/accounts/{id}/statuses`, a timeline, or one
/// `/api/v1/statuses/{id}` — → `social.post` per status (platform `truthsocial`, subject =
/// `account.acct`). `text` is the HTML `content` stripped to plain text (`HTMLText`);
/// `occurredAt` is `created_at`. A reblog records the reblogged status (its own author and
/// id). Metrics: favourites → likes, reblogs → reposts, replies, quotes.
public struct TruthSocialStatusesParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        if case .object = root.value, let message = root.optionalMember("error") {
            throw ParseError(.sourceError, context, location: "$.error", "the server reported an error: \"\(excerpt(message.value.stringValue ?? message.value.description, limit: 200))\"")
        }
        var collector = EventCollector(context, eventSource: "truthsocial")
        let statuses: [JSONNode]
        do throws(FieldError) {
            if case .object = root.value { statuses = [root] } else { statuses = try root.array() }
        } catch {
            throw error.parseError(context)
        }
        for entry in statuses {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let status = entry.optionalMember("reblog") ?? entry
                let account = try status.member("account")
                let handle = try account.optionalMember("acct").or(account.member("username")).text()
                let createdAt = try status.member("created_at").rfc3339()
                let html = try (status.optionalMember("content")?.string()).or(status.member("text").string())
                func count(_ key: String) throws(FieldError) -> Int? { try status.optionalMember(key)?.count() }
                let post = SocialPost(
                    platform: .truthsocial, postId: try status.member("id").text(), authorId: try account.member("id").text(),
                    authorHandle: handle, text: HTMLText.plainText(html), createdAt: createdAt,
                    url: try status.optionalMember("url")?.optionalText(),
                    metrics: PostMetrics(likes: try count("favourites_count"), reposts: try count("reblogs_count"),
                                         replies: try count("replies_count"), quotes: try count("quotes_count")))
                try c.add(post, subject: handle, occurredAt: createdAt, path: status.path)
            }
        }
        return collector.result
    }
}

/// NewsAPI `/v2/everything` and `/v2/top-headlines` → `news.article` per article (subject =
/// canonical URL, `occurredAt` = `publishedAt`, publisher = `source.name`, summary =
/// `description`). Articles NewsAPI has withdrawn (`[Removed]`, `https://removed.com`) are
/// skipped and counted. `{"status": "error", "code", "message"}` is a source error.
public struct NewsAPIArticlesParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        if let status = root.optionalMember("status")?.value.stringValue, status != "ok" {
            let code = root.optionalMember("code")?.value.stringValue ?? "?"
            let message = root.optionalMember("message")?.value.stringValue ?? "no message"
            throw ParseError(.sourceError, context, location: "$.status", "NewsAPI reported \(status) \(excerpt(code)): \"\(excerpt(message, limit: 200))\"")
        }
        var collector = EventCollector(context, eventSource: "newsapi")
        let articles: [JSONNode]
        do throws(FieldError) {
            articles = try root.member("articles").array()
        } catch {
            throw error.parseError(context)
        }
        for article in articles {
            let url = article.optionalMember("url")?.value.stringValue
            let title = article.optionalMember("title")?.value.stringValue
            if url == "https://removed.com" || title == "[Removed]" {
                collector.result.skipped += 1
                continue
            }
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let canonical = try NewsURL.canonical(article.member("url"))
                let published = try article.member("publishedAt").rfc3339()
                var authors: [String] = []
                if let author = try article.optionalMember("author")?.optionalText() { authors.append(author) }
                let item = NewsArticle(
                    url: canonical, title: try article.member("title").text(),
                    summary: try article.optionalMember("description")?.optionalText(),
                    source: try article.member("source").member("name").text(), publishedAt: published, authors: authors,
                    imageUrl: try article.optionalMember("urlToImage")?.optionalText())
                try c.add(item, subject: canonical, occurredAt: published, path: article.path)
            }
        }
        return collector.result
    }
}
