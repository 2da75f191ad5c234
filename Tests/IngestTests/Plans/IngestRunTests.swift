import Events
import Foundation
import Ingest
import Testing
import TickfoldTesting

@Suite("ingest run: every plan against the bundled fixtures through the fixture server", .onTestThreads, .serialized)
struct IngestRunTests {
    /// Event types each plan must produce from the bundled fixtures.
    static let expectedTypes: [String: Set<String>] = [
        "etf-daily": [DailyBar.type],
        "holdings": [ETFHolding.type, CompanyOverview.type],
        "stocks": [DailyBar.type, StockSplit.type, CashDividend.type, CompanyOverview.type, IngestCursor.type],
        "news": [NewsArticle.type],
        "social": [SocialProfile.type, SocialPost.type],
        "crypto": [CryptoMarket.type, CryptoListing.type, CryptoTicker.type],
        "macro": [MacroObservation.type],
        "earnings": [EarningsCalendarEntry.type],
    ]

    @Test("each plan appends its events; a second run over the same responses appends nothing new",
          arguments: IngestConfiguration.standardPlanNames)
    func planRunsTwice(plan: String) async throws {
        let harness = try PlanRunHarness()
        let server = FixtureServer(directory: Repository.fixtures, logger: harness.logs.logger("fixtures"))
        try server.start()
        defer { server.stop() }
        let configuration = try Repository.fixtureConfiguration()

        let first = try await harness.runner(configuration, server: server).run(plan: plan, asOf: Repository.fixtureDate)
        #expect(first.total.appended > 0, "\(first)")
        #expect(first.total.failed == 0, "\(first.notes)")
        #expect(first.total.stopped == 0, "\(first.notes)")
        #expect(first.total.issues == 0 || plan == "news", "\(first)")
        #expect(!first.everythingFailed)
        let types = Set(try harness.events().map(\.type))
        #expect(types.isSuperset(of: Self.expectedTypes[plan]!), "\(types)")
        #expect(types.contains(IngestRejected.type) == (plan == "etf-daily"), "\(types)")

        let count = try harness.log.count()
        let second = try await harness.runner(configuration, server: server).run(plan: plan, asOf: Repository.fixtureDate)
        #expect(second.total.appended == 0, "\(second)")
        #expect(try harness.log.count() == count)
        #expect(second.total.rejected == first.total.rejected)
    }

    @Test("plan all runs the eight plans in order; a malformed body is quarantined by hash and the rest goes on")
    func allPlansAndQuarantine() async throws {
        let harness = try PlanRunHarness()
        let server = FixtureServer(directory: Repository.fixtures, logger: harness.logs.logger("fixtures"))
        try server.start()
        defer { server.stop() }
        let report = try await harness.runner(try Repository.fixtureConfiguration(), server: server).run(plan: "all", asOf: Repository.fixtureDate)
        var plans: [String] = []
        for row in report.rows where !plans.contains(row.plan) { plans.append(row.plan) }
        #expect(plans == IngestConfiguration.standardPlanNames)
        #expect(report.total.rejected == 1)
        #expect(!report.everythingFailed)

        let rejected = try harness.events().filter { $0.type == IngestRejected.type }
        #expect(rejected.count == 1)
        let payload = try IngestRejected(json: try #require(rejected.first).payload)
        #expect(payload.source == "yahoo_finance")
        #expect(payload.request == "yahoo_finance GET /v8/finance/chart/XLK?events=div%2Csplit&interval=1d&range=1mo")
        #expect(payload.error.contains("malformed-json"), "\(payload.error)")
        let keptPath = harness.quarantine.path(forSHA256: payload.bodySha256)
        let kept = try #require(FileManager.default.contents(atPath: keptPath))
        let mode = try FileManager.default.attributesOfItem(atPath: keptPath)[.posixPermissions] as? Int
        #expect(mode == 0o600, "quarantined body mode \(String(mode ?? 0, radix: 8))")
        let directoryMode = try FileManager.default.attributesOfItem(atPath: harness.quarantine.directory)[.posixPermissions] as? Int
        #expect(directoryMode == 0o700, "quarantine directory mode \(String(directoryMode ?? 0, radix: 8))")
        let served = try #require(FileManager.default.contents(
            atPath: "\(Repository.fixtures)/yahoo_finance/v8/finance/chart/XLK/GET@events=div%2Csplit&interval=1d&range=1mo.json"))
        #expect(kept == served)
        #expect(Quarantine.sha256([UInt8](kept)) == payload.bodySha256)
        #expect(rejected.first?.provenance?.request == payload.request)
        // The QQQ chart in the same step still became bars.
        #expect(try harness.events().contains { $0.type == DailyBar.type && $0.subject == "QQQ" })
    }

    @Test("everything failing (the server gone) is reported as such, with the failures counted")
    func everythingFailed() async throws {
        let harness = try PlanRunHarness()
        var configuration = try Repository.fixtureConfiguration()
        configuration.sources["yahoo_finance"] = SourceSettings(limits: .unlimited, retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.01))
        let endpoints = try SourceEndpoints.resolve(environment: ["TICKFOLD_FIXTURES_URL": "http://127.0.0.1:\(try closedLocalPort())"])
        let runner = IngestRunner(configuration: configuration, endpoints: endpoints, secrets: SecretSource(environment: [:]),
                                  transport: URLSessionTransport(), clock: SystemWallClock(), ledger: harness.ledger, log: harness.log,
                                  quarantine: harness.quarantine, logger: harness.logs.logger())
        let report = try await runner.run(plan: "etf-daily", asOf: Repository.fixtureDate)
        #expect(report.everythingFailed)
        #expect(report.total.failed == 2)
        #expect(report.total.appended == 0)
        #expect(report.notes.contains { $0.contains("transport") && $0.contains("127.0.0.1") }, "\(report.notes)")
    }

    @Test("a keyed source without its key variable fails that step by name, without a key in sight")
    func missingKeys() async throws {
        let harness = try PlanRunHarness()
        let server = FixtureServer(directory: Repository.fixtures, logger: harness.logs.logger("fixtures"))
        try server.start()
        defer { server.stop() }
        let report = try await harness.runner(try Repository.fixtureConfiguration(), server: server, keys: [:]).run(plan: "macro", asOf: Repository.fixtureDate)
        #expect(report.everythingFailed)
        #expect(report.total.failed == 3)
        #expect(report.notes.contains { $0.contains("FRED_API_KEYS") }, "\(report.notes)")
    }
}
