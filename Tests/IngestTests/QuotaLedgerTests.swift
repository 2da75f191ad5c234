import Foundation
import Testing
import TickfoldTesting
@testable import Ingest

@Suite("Quota ledger", .onTestThreads, .timeLimit(.minutes(5)))
struct QuotaLedgerTests {
    @Test("counts survive a restart and the new instance refuses to overspend")
    func survivesRestart() async throws {
        let state = try TemporaryDirectory("tickfold-ledger")
        let key = APIKey("AVKEY-RESTART-1")
        let day = UTCDay(testEpoch)
        do {
            let ledger = try QuotaLedger(directory: state.path)
            for _ in 0..<24 { try ledger.record(source: "alpha_vantage", key: key.fingerprint, day: day) }
        }
        var attributes = stat()
        #expect(stat(state.path + "/quota-ledger.json", &attributes) == 0)
        #expect(attributes.st_mode & 0o777 == 0o600)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: state.path)
        #expect(leftovers == ["quota-ledger.json"])

        let harness = try FixtureHarness()
        try harness.write("alpha_vantage/query/GET@function=GLOBAL_QUOTE&symbol=IBM.json", AlphaVantageNotes.globalQuote)
        let restarted = try QuotaLedger(directory: state.path)
        #expect(restarted.spent(source: "alpha_vantage", key: key.fingerprint, day: day) == 24)
        let clock = ManualClock(testEpoch)
        let client = try SourceClient(descriptor: .alphaVantage, baseURL: harness.baseURL("alpha_vantage"), keys: [key], ledger: restarted,
                                      transport: URLSessionTransport(), clock: clock, random: SeededRandomUnitSource(seed: 1),
                                      logger: LogCapture().logger())
        let request = SourceRequest(path: "/query", query: [("function", "GLOBAL_QUOTE"), ("symbol", "IBM")])
        guard case .fetched = try await client.fetch(request) else {
            Issue.record("the 25th request was refused")
            return
        }
        guard case .stopped(let stop) = try await client.fetch(request) else {
            Issue.record("the 26th request went out")
            return
        }
        #expect(stop.until == day.end)
        #expect(harness.server.statistics.served == 1)

        let third = try QuotaLedger(directory: state.path)
        #expect(third.spent(source: "alpha_vantage", key: key.fingerprint, day: day) == 25)
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: third.path)), as: UTF8.self)
        #expect(!text.contains("AVKEY-RESTART-1"))
        #expect(text.contains(key.fingerprint.hex))
    }

    @Test("a stop recorded by one run is honoured by the next")
    func stopsPersist() async throws {
        let state = try TemporaryDirectory("tickfold-ledger")
        let harness = try FixtureHarness()
        try harness.write("yahoo_finance/v8/finance/chart/QQQ/GET.json", "{}")
        try harness.write("yahoo_finance/v8/finance/chart/QQQ/GET.meta.json", #"{"responses": [{"status": 429, "headers": {"Retry-After": "3600"}}, {"status": 200}]}"#)
        let clock = ManualClock(testEpoch)
        func client() throws -> SourceClient {
            try SourceClient(descriptor: .yahooFinance, baseURL: harness.baseURL("yahoo_finance"), ledger: try QuotaLedger(directory: state.path),
                             transport: URLSessionTransport(), clock: clock, random: SeededRandomUnitSource(seed: 1), logger: LogCapture().logger())
        }
        let request = SourceRequest(path: "/v8/finance/chart/QQQ")
        guard case .stopped = try await client().fetch(request) else {
            Issue.record("429 not a stop")
            return
        }
        clock.advance(by: 600)
        guard case .stopped(let stop) = try await client().fetch(request) else {
            Issue.record("a restarted client ignored the recorded stop")
            return
        }
        #expect(stop.until == testEpoch + 3600)
        #expect(harness.server.statistics.served == 1)
    }

    @Test("a corrupt ledger is an error naming the file, not a silent reset")
    func corruptLedger() throws {
        let state = try TemporaryDirectory("tickfold-ledger")
        try Data("{\"version\": 1, \"spent\": [".utf8).write(to: URL(fileURLWithPath: state.file("quota-ledger.json")))
        let error = #expect(throws: FetchError.self) { _ = try QuotaLedger(directory: state.path) }
        #expect(error?.code == .ledger)
        #expect(String(describing: error).contains("quota-ledger.json"))
    }

    @Test("pruning drops old days and expired stops")
    func pruning() throws {
        let state = try TemporaryDirectory("tickfold-ledger")
        let ledger = try QuotaLedger(directory: state.path)
        let key = APIKey("k").fingerprint
        let old = UTCDay(testEpoch - 10 * 86_400)
        try ledger.record(source: "s", key: key, day: old)
        try ledger.record(source: "s", key: key, day: UTCDay(testEpoch))
        try ledger.stop(source: "s", key: key, until: testEpoch + 10, reason: "r")
        try ledger.prune(now: testEpoch + 20)
        #expect(ledger.spent(source: "s", key: key, day: old) == 0)
        #expect(ledger.spent(source: "s", key: key, day: UTCDay(testEpoch)) == 1)
        #expect(ledger.stops(source: "s", now: testEpoch).isEmpty)
    }
}
