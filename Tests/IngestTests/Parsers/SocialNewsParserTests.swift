import Events
import Ingest
import Testing
import TickfoldTesting

@Suite("X, Truth Social, NewsAPI and S&P 500 list parsers", .onTestThreads)
struct SocialNewsParserTests {
    static let tweepy = "api_samples/x_twitter_api_v2/tweepy_cassettes/DERIVED_decoded_bodies/"

    @Test("X users/by/username: the profile, dated by asOf", .enabled(if: Samples.available, Samples.missingNote))
    func xUser() throws {
        let body = try Samples.bytes(Self.tweepy + "test_client_get_user.0.json")
        let context = parseContext("x_twitter", "users/by/username", asOf: "2021-04-13")
        let result = try parse(body, context)
        let profile = try #require(try payloads(result, SocialProfile.self).first)
        #expect(profile == SocialProfile(platform: .x, userId: "783214", username: "Twitter", displayName: "Twitter"))
        #expect(result.events.first?.subject == "Twitter" && result.events.first?.source == "x")
        try expectStableIDs(body, context)
        _ = expectParseError(.missingContext, body, parseContext("x_twitter", "users/by/username"))
        let notFound = utf8(#"{"errors":[{"value":"nobody_here_x","detail":"Could not find user with username: [nobody_here_x].","title":"Not Found Error","resource_type":"user","parameter":"username","resource_id":"nobody_here_x","type":"https://api.twitter.com/2/problems/resource-not-found"}]}"#)
        let error = expectParseError(.sourceError, notFound, context)
        #expect(error?.detail.contains("Could not find user") == true)
        _ = expectParseError(.sourceError, utf8(#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#), context)
    }

    @Test("X users/:id/tweets without created_at: the time comes from the snowflake id", .enabled(if: Samples.available, Samples.missingNote))
    func xUserTweets() throws {
        let body = try Samples.bytes(Self.tweepy + "test_client_get_users_tweets.0.json")
        let context = parseContext("x_twitter", "users/tweets", subject: "783214", parameters: ["username": "Twitter"])
        let result = try parse(body, context)
        let posts = try payloads(result, SocialPost.self)
        #expect(posts.count == 2)
        #expect(posts.first?.postId == "1577730467436138524" && posts.first?.authorId == "783214" && posts.first?.authorHandle == "Twitter")
        #expect(posts.first?.createdAt.millisecondsSinceEpoch == 1_664_995_230_908)
        #expect(posts.first?.url == "https://x.com/Twitter/status/1577730467436138524")
        #expect(result.events.first?.subject == "Twitter")
        let anonymous = try parse(body, parseContext("x_twitter", "users/tweets"))
        #expect(anonymous.events.isEmpty && anonymous.issues.map(\.location) == ["$.data[0].author_id", "$.data[1].author_id"])
        #expect(try parse(utf8(#"{"meta":{"result_count":0}}"#), context).events.isEmpty)
    }

    @Test("X search/recent: 100 tweets with authors, metrics and decoded entities", .enabled(if: Samples.available, Samples.missingNote))
    func xSearch() throws {
        let body = try Samples.bytes("api_samples/x_twitter_api_v2/Legion808_Real-Time_News-Based_Trading_System/Twitter_data.json")
        let context = parseContext("x_twitter", "tweets/search/recent")
        let result = try parse(body, context)
        let posts = try payloads(result, SocialPost.self)
        #expect(posts.count == 100 && result.issues.isEmpty)
        let second = posts[1]
        #expect(second.postId == "1885715595091685676" && second.authorId == "1706456989633486848")
        #expect(second.createdAt.rfc3339 == "2025-02-01T15:43:27.000Z")
        #expect(second.text.hasPrefix("5\u{FE0F}\u{20E3} Stay Updated & Watch Top Stocks"))
        #expect(second.metrics == PostMetrics(likes: 1, reposts: 0, replies: 1, quotes: 0, impressions: 182, bookmarks: 0))
        #expect(result.events[1].subject == "1706456989633486848")
        try expectStableIDs(body, context)
    }

    @Test("Truth Social (Mastodon) statuses: HTML content to text, account handle, metrics", .enabled(if: Samples.available, Samples.missingNote))
    func mastodonStatuses() throws {
        let folder = "api_samples/mastodon/halcy_Mastodon.py_cassettes/"
        let pinned = try Samples.cassetteBodies(folder + "test_account_pinned.yaml", uriContaining: "/statuses?pinned=1")
        let body = try #require(pinned.first)
        let context = parseContext("truth_social", "accounts/statuses", subject: "117020565966271181")
        let result = try parse(body, context)
        let post = try #require(try payloads(result, SocialPost.self).first)
        #expect(post.postId == "117020569296803689" && post.authorId == "117020565966271181" && post.authorHandle == "mastodonpy_test")
        #expect(post.text == "Toot!" && post.createdAt.rfc3339 == "2026-08-01T13:49:42.878Z")
        #expect(post.url == "http://localhost:3000/@mastodonpy_test/117020569296803689")
        #expect(post.metrics == PostMetrics(likes: 0, reposts: 0, replies: 0, quotes: 0))
        #expect(result.events.first?.source == "truthsocial" && result.events.first?.subject == "mastodonpy_test")
        try expectStableIDs(body, context)

        let tag = try Samples.cassetteBodies(folder + "test_hashtag_tl.yaml", uriContaining: "timelines/tag/hoot")
        let tagBody = try #require(tag.first)
        let hashtag = try #require(try payloads(parse(tagBody, context), SocialPost.self).first)
        #expect(hashtag.text == "#hoot (hashtag toot)")
        _ = expectParseError(.sourceError, utf8(#"{"error":"Record not found"}"#), context)
        let broken = try parse(utf8(#"[{"id":"1","created_at":"2026-01-01T00:00:00Z","content":"<p>a</p>","account":{"id":"9","acct":"x"}},{"id":"2","content":"<p>b</p>","account":{"id":"9","acct":"x"}}]"#), context)
        #expect(broken.events.count == 1 && broken.issues.map(\.location) == ["$[1].created_at"])
    }

    @Test("NewsAPI everything: 100 articles with publishers and UTC times", .enabled(if: Samples.available, Samples.missingNote))
    func newsAPI() throws {
        let body = try Samples.bytes("api_samples/newsapi/Legion808_Real-Time_News-Based_Trading_System/news_data.json")
        let context = parseContext("newsapi", "everything")
        let result = try parse(body, context)
        let articles = try payloads(result, NewsArticle.self)
        #expect(articles.count == 100 && result.issues.isEmpty && result.skipped == 0)
        let first = try #require(articles.first)
        #expect(first.source == "BusinessLine" && first.authors == ["Anupama Ghosh"])
        #expect(first.title == "FMCG, consumer durables lead market rally post-Budget 2025")
        #expect(first.publishedAt.rfc3339 == "2025-02-01T12:10:15.000Z")
        #expect(result.events.first?.subject == "https://www.thehindubusinessline.com/markets/stock-markets/fmcg-consumer-durables-lead-market-rally-post-budget-2025/article69168437.ece")
        try expectStableIDs(body, context)

        let removed = utf8(#"{"status":"ok","totalResults":2,"articles":[{"source":{"id":null,"name":"[Removed]"},"author":null,"title":"[Removed]","description":"[Removed]","url":"https://removed.com","urlToImage":null,"publishedAt":"1970-01-01T00:00:00Z","content":"[Removed]"},{"source":{"id":null,"name":"X"},"title":"T","url":"not a url","publishedAt":"2025-01-01T00:00:00Z"}]}"#)
        let filtered = try parse(removed, parseContext("newsapi", "top-headlines"))
        #expect(filtered.events.isEmpty && filtered.skipped == 1 && filtered.issues.map(\.location) == ["$.articles[1].url"])
        let error = expectParseError(.sourceError, utf8(#"{"status":"error","code":"apiKeyInvalid","message":"Your API key is invalid or incorrect."}"#), context)
        #expect(error?.detail.contains("apiKeyInvalid") == true)
    }

    @Test("S&P 500 constituents CSV: quoted headquarters, optional columns, a footnoted date omitted with an issue")
    func sp500() throws {
        let csv = utf8("""
        Symbol,Security,GICS Sector,GICS Sub-Industry,Headquarters Location,Date added,CIK,Founded
        MMM,3M,Industrials,Industrial Conglomerates,"Saint Paul, Minnesota",1957-03-04,0000066740,1902
        AOS,A. O. Smith,Industrials,Building Products,"Milwaukee, Wisconsin",2017-07-26,0000091142,1916
        BRK.B,Berkshire Hathaway,Financials,Multi-Sector Holdings,"Omaha, Nebraska",1976-08-09 (1957-03-04),0001067983,1839
        XXX,,Industrials,,,,,
        BAD,Short row

        """)
        let context = parseContext("wikipedia", "sp500-constituents", asOf: "2025-01-15")
        let result = try parse(csv, context)
        let constituents = try payloads(result, IndexConstituent.self)
        #expect(constituents.count == 3)
        #expect(constituents[0] == IndexConstituent(index: "sp500", symbol: "MMM", name: "3M", sector: "Industrials", subIndustry: "Industrial Conglomerates",
                                                    headquarters: "Saint Paul, Minnesota", dateAdded: day("1957-03-04"), cik: "0000066740", founded: "1902"))
        #expect(constituents[2].symbol == "BRK.B" && constituents[2].dateAdded == day("1976-08-09"))
        #expect(result.issues.map(\.location) == ["line 5 Security", "line 6"])
        #expect(result.events.first?.occurredAt.rfc3339 == "2025-01-15T00:00:00.000Z" && result.events.first?.source == "wikipedia")
        try expectStableIDs(csv, context)

        let older = try parse(utf8("Symbol,Name,Sector\nAAPL,Apple Inc.,Information Technology\n"), parseContext("sp500", "sp500-constituents", asOf: "2020-01-02"))
        #expect(try payloads(older, IndexConstituent.self).first?.sector == "Information Technology")
        let footnote = try parse(utf8("Symbol,Security,Date added\nX,X Corp,sometime\n"), context)
        #expect(footnote.events.count == 1 && footnote.issues.map(\.location) == ["line 2 Date added"])
        _ = expectParseError(.malformedCSV, utf8("Ticker Symbol;Company\nAAPL;Apple\n"), context)
        _ = expectParseError(.missingContext, csv, parseContext("wikipedia", "sp500-constituents"))
        _ = expectParseError(.htmlPage, utf8("<!DOCTYPE html><html><title>Rate limited</title></html>"), context)
    }
}
