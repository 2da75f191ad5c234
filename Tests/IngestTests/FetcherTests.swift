import Foundation
import Testing
import TickfoldTesting
@testable import Ingest

@Suite("HTTP fetcher retries", .onTestThreads, .timeLimit(.minutes(5)))  // local servers: over a minute when the two cores are saturated
struct FetcherTests {
    @Test("500, 500, then 200: retried with jittered exponential backoff on the injected clock")
    func retriesServerErrors() async throws {
        let harness = try FixtureHarness()
        try harness.write("flaky/GET.json", #"{"ok": true}"#)
        try harness.write("flaky/GET.meta.json", #"{"responses": [{"status": 500, "body": "boom"}, {"status": 503}, {"status": 200}]}"#)
        let clock = ManualClock(testEpoch)
        let logs = LogCapture()
        let retry = RetryPolicy(maxAttempts: 4, baseDelay: 1, maxDelay: 30)
        let fetcher = HTTPFetcher(transport: URLSessionTransport(), retry: retry, clock: clock,
                                  random: SeededRandomUnitSource(seed: 7), logger: logs.logger())
        let response = try await fetcher.fetch(HTTPRequest(url: harness.server.baseURL.appendingPathComponent("flaky")))
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"ok": true}"#)
        let delays = clock.sleepDeadlines.map { $0.timeIntervalSince(testEpoch) }
        #expect(delays.count == 2)
        #expect(delays[0] >= 0.5 && delays[0] < 1)
        #expect(delays[1] - delays[0] >= 1 && delays[1] - delays[0] < 2)
        let expected = RetryPolicy(maxAttempts: 4, baseDelay: 1, maxDelay: 30)
        let replay = SeededRandomUnitSource(seed: 7)
        #expect(abs(delays[0] - expected.delay(afterAttempt: 1, unit: replay.nextUnit())) < 1e-6)
        #expect(logs.all.filter { $0.contains("retrying after HTTP status") }.count == 2)
    }

    @Test("a dropped connection is a transport failure and is retried")
    func retriesDisconnect() async throws {
        let harness = try FixtureHarness()
        try harness.write("drop/GET.txt", "fine")
        try harness.write("drop/GET.meta.json", #"{"responses": [{"fault": "disconnect"}, {"status": 200}]}"#)
        let fetcher = HTTPFetcher(transport: URLSessionTransport(), clock: ManualClock(testEpoch),
                                  random: SeededRandomUnitSource(seed: 1), logger: LogCapture().logger())
        let response = try await fetcher.fetch(HTTPRequest(url: harness.server.baseURL.appendingPathComponent("drop")))
        #expect(response.status == 200)
        #expect(response.body == Array("fine".utf8))
    }

    @Test("4xx other than 429 is never retried")
    func noRetryOnClientError() async throws {
        let harness = try FixtureHarness()
        try harness.write("forbidden/GET.json", #"{"error": "You don't have access to this resource."}"#)
        try harness.write("forbidden/GET.meta.json", #"{"status": 403}"#)
        let clock = ManualClock(testEpoch)
        let fetcher = HTTPFetcher(transport: URLSessionTransport(), clock: clock, random: SeededRandomUnitSource(seed: 1), logger: LogCapture().logger())
        let response = try await fetcher.fetch(HTTPRequest(url: harness.server.baseURL.appendingPathComponent("forbidden")))
        #expect(response.status == 403)
        #expect(clock.sleepDeadlines.isEmpty)
        #expect(harness.server.statistics.served == 1)
    }

    @Test("a short Retry-After on 429 is waited out and retried; the 5xx budget is bounded")
    func shortRetryAfterAndBoundedAttempts() async throws {
        let harness = try FixtureHarness()
        try harness.write("busy/GET.json", "{}")
        try harness.write("busy/GET.meta.json", #"{"responses": [{"status": 429, "headers": {"Retry-After": "2"}}, {"status": 200}]}"#)
        try harness.write("down/GET.meta.json", #"{"status": 502}"#)
        let clock = ManualClock(testEpoch)
        let fetcher = HTTPFetcher(transport: URLSessionTransport(), retry: RetryPolicy(maxAttempts: 3), clock: clock,
                                  random: SeededRandomUnitSource(seed: 3), logger: LogCapture().logger())
        let busy = try await fetcher.fetch(HTTPRequest(url: harness.server.baseURL.appendingPathComponent("busy")))
        #expect(busy.status == 200)
        #expect(clock.sleepDeadlines == [testEpoch + 2])
        let down = try await fetcher.fetch(HTTPRequest(url: harness.server.baseURL.appendingPathComponent("down")))
        #expect(down.status == 502)
        #expect(harness.server.statistics.served == 2 + 3)
    }

    @Test("connection refused: a transport error after the attempts, naming the request without its key")
    func connectionRefused() async throws {
        let harness = try FixtureHarness()
        let closed = harness.server.baseURL
        harness.server.stop()
        let clock = ManualClock(testEpoch)
        let fetcher = HTTPFetcher(transport: URLSessionTransport(), retry: RetryPolicy(maxAttempts: 3), clock: clock,
                                  random: SeededRandomUnitSource(seed: 3), logger: LogCapture().logger())
        let url = URL(string: "\(closed.absoluteString)/query?function=X&apikey=REFUSEDKEY9")!
        let error = await #expect(throws: FetchError.self) {
            _ = try await fetcher.fetch(HTTPRequest(url: url), source: "alpha_vantage")
        }
        #expect(error?.code == .transport)
        #expect(error?.attempts == 3)
        #expect(clock.sleepDeadlines.count == 2)
        let text = String(describing: error)
        #expect(text.contains("alpha_vantage") && text.contains("/query?function=X&apikey=***"))
        #expect(!text.contains("REFUSEDKEY9"))
    }
}
