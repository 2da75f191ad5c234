import Events
@testable import Ingest
import Testing
import TickfoldTesting

@Suite("News canonical URL: the dedup key of news.article", .onTestThreads)
struct NewsURLTests {
    @Test("one spelling per article", arguments: [
        // Scheme and host lower-cased; path and query keep their case.
        ("HTTPS://WWW.Example.COM/News/Story", "https://www.example.com/News/Story"),
        ("  https://example.com/a  ", "https://example.com/a"),
        // Fragments go.
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a?id=1#top", "https://example.com/a?id=1"),
        // Trailing slashes go, the root's too.
        ("https://www.fool.com/investing/2025/01/31/is-carnival-an-undervalued-growth-stock/", "https://www.fool.com/investing/2025/01/31/is-carnival-an-undervalued-growth-stock"),
        ("https://example.com/a//", "https://example.com/a"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com", "https://example.com"),
        ("https://example.com/?id=7", "https://example.com?id=7"),
        ("https://example.com/a/?id=7", "https://example.com/a?id=7"),
        // Tracking parameters go; the others stay in their order and spelling.
        ("https://finnhub.io/api/news?id=bc6475", "https://finnhub.io/api/news?id=bc6475"),
        ("https://example.com/a?utm_source=x&utm_medium=rss", "https://example.com/a"),
        ("https://example.com/a?utm_source=x&id=3&UTM_Campaign=y&page=2", "https://example.com/a?id=3&page=2"),
        ("https://example.com/a?b=2&a=1&fbclid=XYZ", "https://example.com/a?b=2&a=1"),
        ("https://example.com/a?gclid=1&mc_cid=2&mc_eid=3&msclkid=4&_hsenc=5&mkt_tok=6", "https://example.com/a"),
        ("https://example.com/a?utm_source", "https://example.com/a"),
        ("https://example.com/a?", "https://example.com/a"),
        ("https://example.com/a?&&id=1&&", "https://example.com/a?id=1"),
        ("https://example.com/a?ref=home&source=rss", "https://example.com/a?ref=home&source=rss"),
        ("https://example.com/a?x=utm_source", "https://example.com/a?x=utm_source"),
        ("https://example.com/a?q=A%20B&utm_term=c", "https://example.com/a?q=A%20B"),
        // Default ports go, others stay.
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com:8443/a/", "https://example.com:8443/a"),
        ("HTTP://Example.com:80", "http://example.com"),
        // User info keeps its case; only the host is lower-cased.
        ("https://Reader@Example.com/a", "https://Reader@example.com/a"),
    ])
    func canonical(_ input: String, _ expected: String) throws {
        #expect(try NewsURL.canonical(input) == expected)
    }

    @Test("spellings of one article share one key; different articles do not")
    func sameAndDifferent() throws {
        let same = [
            "https://www.Example.com/story/?utm_source=twitter#x",
            "https://www.example.com:443/story",
            "HTTPS://WWW.EXAMPLE.COM/story/?fbclid=abc",
        ]
        #expect(try Set(same.map { try NewsURL.canonical($0) }) == ["https://www.example.com/story"])
        #expect(try NewsURL.canonical("https://finnhub.io/api/news?id=1") != NewsURL.canonical("https://finnhub.io/api/news?id=2"))
        #expect(try NewsURL.canonical("https://example.com/Story") != NewsURL.canonical("https://example.com/story"))
        #expect(try NewsURL.canonical("http://example.com/a") != NewsURL.canonical("https://example.com/a"))
    }

    @Test("what is not an http(s) URL with a host is refused with the reason", arguments: [
        ("example.com/a", "expected an absolute URL"),
        ("ftp://example.com/a", "expected an http(s) URL"),
        ("https:///a", "has no host"),
        ("https://?utm_source=x", "has no host"),
        ("https://:443/a", "has no host"),
    ])
    func refused(_ input: String, _ reason: String) {
        #expect {
            try NewsURL.canonical(input)
        } throws: { error in
            (error as? NewsURL.Rejection)?.detail.contains(reason) == true
        }
    }

    @Test("parsers key news by the canonical URL: subject and payload url")
    func parsersUseIt() throws {
        let body = utf8(#"[{"category":"company","datetime":1738368000,"headline":"H","id":1,"image":"","related":"AAPL","source":"S","summary":"","url":"https://Example.com/story/?utm_source=finnhub&id=9#top"}]"#)
        let result = try parse(body, parseContext("finnhub", "company-news", subject: "AAPL"))
        let article = try #require(try payloads(result, NewsArticle.self).first)
        #expect(article.url == "https://example.com/story?id=9")
        #expect(result.events.first?.subject == "https://example.com/story?id=9")
    }
}
