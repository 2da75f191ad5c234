import Foundation
import Testing
import TickfoldTesting
@testable import Ingest

@Suite("Rate limits, key rotation, detection", .onTestThreads, .timeLimit(.minutes(5)))  // local servers: over a minute when the two cores are saturated
struct RateLimitTests {
    private func permit(_ decision: RateLimiter.Decision) throws -> RateLimiter.Permit {
        guard case .proceed(let permit) = decision else { throw FetchError(code: .transport, source: "test", request: "", detail: "stopped: \(decision)") }
        return permit
    }

    @Test("yfinance: 5 s between tickers, back-to-back requests get distinct slots")
    func yahooSpacing() throws {
        var limiter = RateLimiter(source: "yahoo_finance", policy: .yahooFinance, keys: [])
        let slots = try (0..<4).map { _ in try permit(limiter.reserve(now: testEpoch) { _, _ in 0 }).at.timeIntervalSince(testEpoch) }
        #expect(slots == [0, 5, 10, 15])
        let later = try permit(limiter.reserve(now: testEpoch + 100) { _, _ in 0 })
        #expect(later.at == testEpoch + 100)
        #expect(later.key == .anonymous)
    }

    @Test("Alpha Vantage: 5 a minute per key, then 25 a day stops the source until UTC midnight")
    func alphaVantageBucketAndQuota() throws {
        let key = APIKey("AVKEY-1").fingerprint
        var limiter = RateLimiter(source: "alpha_vantage", policy: .alphaVantage, keys: [key])
        var spent = 0
        var slots: [TimeInterval] = []
        for _ in 0..<6 {
            slots.append(try permit(limiter.reserve(now: testEpoch) { _, _ in spent }).at.timeIntervalSince(testEpoch))
            spent += 1
        }
        #expect(slots[0..<5].allSatisfy { $0 == 0 })
        #expect(abs(slots[5] - 12) < 1e-6)
        var now = testEpoch + 12
        while spent < 25 {
            let slot = try permit(limiter.reserve(now: now) { _, _ in spent })
            now = slot.at
            spent += 1
        }
        guard case .stopped(let until, let reason) = limiter.reserve(now: now, spent: { _, _ in spent }) else {
            Issue.record("the 26th request of the day was allowed")
            return
        }
        #expect(until == UTCDay(testEpoch).end)
        #expect(reason.contains("daily quota of 25"))
        let tomorrow = try permit(limiter.reserve(now: UTCDay(testEpoch).end + 1) { _, day in day == UTCDay(testEpoch) ? 25 : 0 })
        #expect(tomorrow.key == key)
    }

    @Test("through the client: yfinance tickers 5 s apart; a daily quota holds without a ledger too")
    func clientSpacingAndQuota() async throws {
        let harness = try FixtureHarness()
        for ticker in ["SPY", "QQQ", "IWM"] { try harness.write("yahoo_finance/v8/finance/chart/\(ticker)/GET.json", "{}") }
        try harness.write("alpha_vantage/query/GET@function=GLOBAL_QUOTE&symbol=IBM.json", AlphaVantageNotes.globalQuote)
        let clock = ManualClock(testEpoch)
        let yahoo = try SourceClient(descriptor: .yahooFinance, baseURL: harness.baseURL("yahoo_finance"), transport: URLSessionTransport(),
                                     clock: clock, random: SeededRandomUnitSource(seed: 1), logger: LogCapture().logger())
        for ticker in ["SPY", "QQQ", "IWM"] {
            guard case .fetched = try await yahoo.fetch(SourceRequest(path: "/v8/finance/chart/\(ticker)")) else {
                Issue.record("\(ticker) not fetched")
                return
            }
        }
        #expect(clock.sleepDeadlines.map { $0.timeIntervalSince(testEpoch) } == [0, 5, 10])

        var policy = RateLimitPolicy.alphaVantage
        policy.dailyQuotaPerKey = 2
        let av = try SourceClient(descriptor: .alphaVantage, baseURL: harness.baseURL("alpha_vantage"), keys: [APIKey("AV-Q")], policy: policy,
                                  transport: URLSessionTransport(), clock: clock, random: SeededRandomUnitSource(seed: 1), logger: LogCapture().logger())
        let request = SourceRequest(path: "/query", query: [("function", "GLOBAL_QUOTE"), ("symbol", "IBM")])
        var outcomes: [Bool] = []
        for _ in 0..<3 {
            if case .fetched = try await av.fetch(request) { outcomes.append(true) } else { outcomes.append(false) }
        }
        #expect(outcomes == [true, true, false])
        #expect(harness.server.statistics.served == 5)
    }

    @Test("a source that needs a key refuses to start without one")
    func missingKey() {
        let error = #expect(throws: FetchError.self) {
            _ = try SourceClient(descriptor: .alphaVantage, transport: URLSessionTransport(), logger: LogCapture().logger())
        }
        #expect(error?.code == .missingCredentials)
        #expect(String(describing: error).contains("ALPHAVANTAGE_API_KEYS"))
    }

    @Test("a permit further away than maxWait is reported as a stop instead of a long sleep")
    func maxWait() {
        var policy = RateLimitPolicy.alphaVantage
        policy.maxWait = 5
        var limiter = RateLimiter(source: "alpha_vantage", policy: policy, keys: [APIKey("k").fingerprint])
        for _ in 0..<5 { _ = limiter.reserve(now: testEpoch) { _, _ in 0 } }
        guard case .stopped(let until, _) = limiter.reserve(now: testEpoch, spent: { _, _ in 0 }) else {
            Issue.record("expected a stop")
            return
        }
        #expect(abs(until.timeIntervalSince(testEpoch) - 12) < 1e-6)
    }

    @Test("the key ring rotates, and skips a key whose daily quota is spent or that is blocked")
    func keyRing() throws {
        let a = APIKey("KEY-A").fingerprint, b = APIKey("KEY-B").fingerprint, c = APIKey("KEY-C").fingerprint
        var limiter = RateLimiter(source: "alpha_vantage", policy: .alphaVantage, keys: [a, b, c])
        let order = try (0..<3).map { _ in try permit(limiter.reserve(now: testEpoch) { _, _ in 0 }).key }
        #expect(order == [a, b, c])
        limiter.block(b, until: testEpoch + 3600, reason: "HTTP 429")
        let spentA: (KeyFingerprint, UTCDay) -> Int = { key, _ in key == a ? 25 : 0 }
        #expect(try permit(limiter.reserve(now: testEpoch, spent: spentA)).key == c)
        #expect(limiter.blockedUntil(b, now: testEpoch) == testEpoch + 3600)
    }

    @Test("detection: 429 with Retry-After seconds or HTTP date, X reset headers, Alpha Vantage notes")
    func detection() throws {
        let seconds = RateLimitDetector.signal(in: HTTPResponse(status: 429, headers: ["Retry-After": "120"]), now: testEpoch, bodyNotes: false)
        #expect(seconds?.until == testEpoch + 120)
        #expect(seconds?.kind == .refused)
        let date = RateLimitDetector.signal(in: HTTPResponse(status: 429, headers: ["Retry-After": "Sun, 23 Nov 2025 13:00:00 GMT"]), now: testEpoch, bodyNotes: false)
        #expect(date?.until == Date(timeIntervalSince1970: 1_763_902_800))
        let xReset = RateLimitDetector.signal(in: HTTPResponse(status: 200, headers: ["x-rate-limit-remaining": "0", "x-rate-limit-reset": "1763901000"]), now: testEpoch, bodyNotes: false)
        #expect(xReset == RateLimitSignal(kind: .servedLast, until: Date(timeIntervalSince1970: 1_763_901_000), dailyQuotaSpent: false, reason: "rate-limit remaining 0"))
        #expect(RateLimitDetector.signal(in: HTTPResponse(status: 200, headers: ["x-rate-limit-remaining": "14", "x-rate-limit-reset": "1763901000"]), now: testEpoch, bodyNotes: false) == nil)

        let daily = RateLimitDetector.signal(in: HTTPResponse(status: 200, body: Array(AlphaVantageNotes.daily.utf8)), now: testEpoch, bodyNotes: true)
        #expect(daily?.dailyQuotaSpent == true)
        #expect(daily?.until == UTCDay(testEpoch).end)
        let burst = RateLimitDetector.signal(in: HTTPResponse(status: 200, body: Array(AlphaVantageNotes.burst.utf8)), now: testEpoch, bodyNotes: true)
        #expect(burst?.dailyQuotaSpent == false)
        #expect(burst?.until == testEpoch + RateLimitDetector.defaultPause)
        let minute = RateLimitDetector.signal(in: HTTPResponse(status: 200, body: Array(AlphaVantageNotes.perMinute.utf8)), now: testEpoch, bodyNotes: true)
        #expect(minute?.dailyQuotaSpent == false)
        #expect(RateLimitDetector.signal(in: HTTPResponse(status: 200, body: Array(AlphaVantageNotes.daily.utf8)), now: testEpoch, bodyNotes: false) == nil)

        // A real intraday response: its "Meta Data" has "1. Information", which is not a note.
        let intraday = #"{"Meta Data": {"1. Information": "Intraday (1min) prices and volumes", "2. Symbol": "MSFT"}, "Time Series (1min)": {}}"#
        #expect(RateLimitDetector.signal(in: HTTPResponse(status: 200, body: Array(intraday.utf8)), now: testEpoch, bodyNotes: true) == nil)
        let demo = #"{"Information": "The **demo** API key is for demo purposes only. Please claim your free API key at (https://www.alphavantage.co/support/#api-key) to explore our full API offerings."}"#
        #expect(RateLimitDetector.signal(in: HTTPResponse(status: 200, body: Array(demo.utf8)), now: testEpoch, bodyNotes: true) == nil)
    }

    @Test("429 with Retry-After stops the source until then; it resumes once the clock passes it")
    func stopAndResume() async throws {
        let harness = try FixtureHarness()
        try harness.write("yahoo_finance/v8/finance/chart/SPY/GET@interval=1d.json", #"{"chart": {}}"#)
        try harness.write("yahoo_finance/v8/finance/chart/SPY/GET@interval=1d.meta.json",
                          #"{"responses": [{"status": 429, "headers": {"Retry-After": "120"}, "body": "Too Many Requests"}, {"status": 200}]}"#)
        let clock = ManualClock(testEpoch)
        let client = try SourceClient(descriptor: .yahooFinance, baseURL: harness.baseURL("yahoo_finance"), transport: URLSessionTransport(),
                                      clock: clock, random: SeededRandomUnitSource(seed: 1), logger: LogCapture().logger())
        let request = SourceRequest(path: "/v8/finance/chart/SPY", query: [("interval", "1d")])
        guard case .stopped(let stop) = try await client.fetch(request) else {
            Issue.record("a 429 was not reported as a stop")
            return
        }
        #expect(stop.until == testEpoch + 120)
        #expect(stop.source == "yahoo_finance")
        #expect(harness.server.statistics.served == 1)
        clock.advance(by: 60)
        guard case .stopped(let again) = try await client.fetch(request) else {
            Issue.record("the source was called before Retry-After ran out")
            return
        }
        #expect(again.until == testEpoch + 120)
        #expect(harness.server.statistics.served == 1)
        clock.advance(by: 61)
        guard case .fetched(let response, _) = try await client.fetch(request) else {
            Issue.record("the source did not resume")
            return
        }
        #expect(response.body == Array(#"{"chart": {}}"#.utf8))
    }

    @Test("Alpha Vantage's daily Information note rotates to the next key, and stops when all are spent")
    func alphaVantageRotation() async throws {
        let harness = try FixtureHarness()
        try harness.write("alpha_vantage/query/GET@function=GLOBAL_QUOTE&symbol=IBM.json", AlphaVantageNotes.globalQuote)
        try harness.write("alpha_vantage/query/GET@function=GLOBAL_QUOTE&symbol=IBM.meta.json",
                          "{\"responses\": [{\"body\": \(String(reflecting: AlphaVantageNotes.daily))}, {}, {\"body\": \(String(reflecting: AlphaVantageNotes.daily))}]}")
        let state = try TemporaryDirectory("tickfold-ledger")
        let ledger = try QuotaLedger(directory: state.path)
        let keyA = APIKey("AVKEY-A-0001"), keyB = APIKey("AVKEY-B-0002")
        let clock = ManualClock(testEpoch)
        let client = try SourceClient(descriptor: .alphaVantage, baseURL: harness.baseURL("alpha_vantage"), keys: [keyA, keyB],
                                      ledger: ledger, transport: URLSessionTransport(), clock: clock,
                                      random: SeededRandomUnitSource(seed: 1), logger: LogCapture().logger())
        let request = SourceRequest(path: "/query", query: [("function", "GLOBAL_QUOTE"), ("symbol", "IBM")])
        guard case .fetched(let response, let key) = try await client.fetch(request) else {
            Issue.record("rotation to the second key did not happen")
            return
        }
        #expect(key == keyB.fingerprint)
        #expect(response.body == Array(AlphaVantageNotes.globalQuote.utf8))
        #expect(ledger.spent(source: "alpha_vantage", key: keyA.fingerprint, day: UTCDay(testEpoch)) == 25)
        #expect(ledger.spent(source: "alpha_vantage", key: keyB.fingerprint, day: UTCDay(testEpoch)) == 1)
        guard case .stopped(let stop) = try await client.fetch(request) else {
            Issue.record("expected every key spent")
            return
        }
        #expect(stop.until == UTCDay(testEpoch).end)
        #expect(harness.server.statistics.served == 3)
    }

    @Test("X: remaining 0 serves the response, then stops the key until the reset time")
    func xRemainingZero() async throws {
        let harness = try FixtureHarness()
        try harness.write("x_twitter/2/tweets/search/recent/GET@query=spy.json", #"{"data": []}"#)
        try harness.write("x_twitter/2/tweets/search/recent/GET@query=spy.meta.json",
                          #"{"headers": {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1763900900"}}"#)
        let clock = ManualClock(testEpoch)
        let client = try SourceClient(descriptor: .xTwitter, baseURL: harness.baseURL("x_twitter"), keys: [APIKey("BEARER-XYZ-77")],
                                      policy: .unlimited, transport: URLSessionTransport(), clock: clock,
                                      random: SeededRandomUnitSource(seed: 1), logger: LogCapture().logger())
        let request = SourceRequest(path: "/2/tweets/search/recent", query: [("query", "spy")])
        guard case .fetched = try await client.fetch(request) else {
            Issue.record("the last allowed response was not served")
            return
        }
        guard case .stopped(let stop) = try await client.fetch(request) else {
            Issue.record("no stop after remaining 0")
            return
        }
        #expect(stop.until == Date(timeIntervalSince1970: 1_763_900_900))
    }
}
