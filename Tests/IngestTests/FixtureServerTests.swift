import Foundation
import Testing
@testable import Ingest
import TickfoldTesting

@Suite("Fixture transport", .onTestThreads, .timeLimit(.minutes(5)))  // local servers: over a minute when the two cores are saturated
struct FixtureServerTests {
    @Test("keys are canonical: query order and credential parameters do not matter")
    func canonicalKey() throws {
        let a = try #require(FixtureKey(method: "get", path: "/alpha_vantage/query", query: "symbol=IBM&function=GLOBAL_QUOTE&apikey=SECRET"))
        let b = try #require(FixtureKey(method: "GET", path: "/alpha_vantage//query/", query: "function=GLOBAL_QUOTE&token=x&symbol=IBM"))
        #expect(a == b)
        #expect(a.stem == "GET@function=GLOBAL_QUOTE&symbol=IBM")
        #expect(a.directory == "alpha_vantage/query")
        #expect(FixtureKey(method: "GET", path: "/a/../../etc", query: "") == nil)
        #expect(FixtureKey(method: "GET", path: "/a/%2E%2E/etc", query: "") == nil)
        let long = try #require(FixtureKey(method: "GET", path: "/x", query: "q=" + String(repeating: "z", count: 400)))
        #expect(long.stem.hasPrefix("GET@sha256-") && long.stem.utf8.count < 40)
    }

    @Test("serves a recorded response whatever the query order and API key")
    func servesMatch() async throws {
        let harness = try FixtureHarness()
        try harness.write("alpha_vantage/query/GET@function=GLOBAL_QUOTE&symbol=IBM.json", AlphaVantageNotes.globalQuote)
        let transport = URLSessionTransport()
        let url = try #require(URL(string: "\(harness.server.baseURL.absoluteString)/alpha_vantage/query?symbol=IBM&apikey=ABC&function=GLOBAL_QUOTE"))
        let response = try await transport.send(HTTPRequest(url: url))
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"] == "application/json")
        #expect(String(decoding: response.body, as: UTF8.self) == AlphaVantageNotes.globalQuote)
    }

    @Test("an unmatched request gets 404 naming the request and the closest fixtures, never the key")
    func notFoundWithCandidates() async throws {
        let harness = try FixtureHarness()
        try harness.write("alpha_vantage/query/GET@function=GLOBAL_QUOTE&symbol=IBM.json", "{}")
        try harness.write("alpha_vantage/query/GET@function=OVERVIEW&symbol=IBM.json", "{}")
        try harness.write("alpha_vantage/query/GET@function=GLOBAL_QUOTE&symbol=MSFT.json", "{}")
        let transport = URLSessionTransport()
        let url = try #require(URL(string: "\(harness.server.baseURL.absoluteString)/alpha_vantage/query?function=GLOBAL_QUOTE&symbol=AAPL&apikey=PLANTED123"))
        let response = try await transport.send(HTTPRequest(url: url))
        #expect(response.status == 404)
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(!text.contains("PLANTED123"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let request = try #require(object["request"] as? [String: Any])
        #expect(request["query"] as? String == "function=GLOBAL_QUOTE&symbol=AAPL")
        let candidates = try #require(object["candidates"] as? [String])
        #expect(candidates.count == 3)
        #expect(candidates.first?.contains("function=GLOBAL_QUOTE") == true)
        #expect(candidates.last == "alpha_vantage/query/GET@function=OVERVIEW&symbol=IBM.json")

        let deeper = try #require(URL(string: "\(harness.server.baseURL.absoluteString)/alpha_vantage/nothing/here"))
        let missing = try await transport.send(HTTPRequest(url: deeper))
        let fallback = try #require(try JSONSerialization.jsonObject(with: Data(missing.body)) as? [String: Any])
        #expect(fallback["candidates"] as? [String] == ["alpha_vantage/query"])
        #expect(harness.server.statistics.missed == 2)
    }

    @Test("binary bodies, meta status and headers, and many concurrent keep-alive requests")
    func binaryAndConcurrent() async throws {
        let harness = try FixtureHarness()
        let bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try harness.write("blob/GET.bin", bytes)
        try harness.write("limited/GET.json", #"{"error": "slow down"}"#)
        try harness.write("limited/GET.meta.json", #"{"status": 429, "headers": {"Retry-After": "7"}}"#)
        let transport = URLSessionTransport()
        let base = harness.server.baseURL.absoluteString
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<24 {
                group.addTask {
                    let response = try await transport.send(HTTPRequest(url: URL(string: "\(base)/blob")!))
                    #expect(response.status == 200)
                    #expect(response.body == bytes)
                }
            }
            try await group.waitForAll()
        }
        let limited = try await transport.send(HTTPRequest(url: URL(string: "\(base)/limited")!))
        #expect(limited.status == 429)
        #expect(limited.headers["Retry-After"] == "7")
        #expect(harness.server.statistics.served == 25)
    }

    @Test("record mode fetches what is missing from upstream, stores it without credentials, then replays it")
    func recordMode() async throws {
        let upstream = try FixtureHarness()
        try upstream.write("query/GET@function=GLOBAL_QUOTE&symbol=IBM.json", AlphaVantageNotes.globalQuote)
        let recorder = try FixtureHarness(upstreams: [FixtureServer.Upstream(prefix: "alpha_vantage", baseURL: upstream.server.baseURL)])
        let transport = URLSessionTransport()
        let url = URL(string: "\(recorder.server.baseURL.absoluteString)/alpha_vantage/query?function=GLOBAL_QUOTE&symbol=IBM&apikey=RECKEY42")!
        let first = try await transport.send(HTTPRequest(url: url))
        #expect(first.status == 200)
        #expect(recorder.server.statistics.recorded == 1)
        let files = recorder.files()
        #expect(files.map(\.path) == ["alpha_vantage/query/GET@function=GLOBAL_QUOTE&symbol=IBM.json"])
        upstream.server.stop()
        let second = try await transport.send(HTTPRequest(url: url))
        #expect(second.body == first.body)
        #expect(recorder.server.statistics.served == 1)
    }

    @Test("the upstream base URL syntax of --record")
    func upstreamArgument() throws {
        let prefixed = try #require(FixtureServer.Upstream(argument: "alpha_vantage=https://www.alphavantage.co"))
        #expect(prefixed.prefix == "alpha_vantage")
        #expect(prefixed.baseURL.host == "www.alphavantage.co")
        let whole = try #require(FixtureServer.Upstream(argument: "https://query1.finance.yahoo.com"))
        #expect(whole.prefix == nil)
        #expect(FixtureServer.Upstream(argument: "ftp://x") == nil)
        #expect(FixtureServer.Upstream(argument: "nonsense") == nil)
    }
}
