import Events
import Foundation
import Ingest
import Testing
import TickfoldTesting

@Suite("Progressive collection: the cursor is an event and no symbol is ever skipped", .onTestThreads, .serialized)
struct ProgressiveCursorTests {
    static let symbols = ["AAA", "BBB", "CCC", "DDD", "EEE"]

    /// OVERVIEW fixtures for the symbols: BBB answers a rate-limit note the first time, CCC
    /// has no fixture (404, a permanent error), the others the real IBM body renamed.
    static func makeFixtures(_ fixtures: FixtureHarness) throws {
        let ibm = try String(contentsOfFile: "\(Repository.fixtures)/alpha_vantage/query/GET@function=OVERVIEW&symbol=IBM.json", encoding: .utf8)
        for symbol in symbols where symbol != "CCC" {
            try fixtures.write("alpha_vantage/query/GET@function=OVERVIEW&symbol=\(symbol).json",
                               ibm.replacingOccurrences(of: "\"Symbol\":\"IBM\"", with: "\"Symbol\":\"\(symbol)\""))
        }
        try fixtures.write("alpha_vantage/query/GET@function=OVERVIEW&symbol=BBB.meta.json",
                           #"{"responses": [{"body": \#(jsonString(AlphaVantageNotes.perMinute))}, {}]}"#)
    }

    static func configuration(batch: Int) -> IngestConfiguration {
        IngestConfiguration(
            lists: ["universe": symbols.map(PlanItem.init(symbol:))],
            sources: ["alpha_vantage": SourceSettings(limits: RateLimitPolicy(maxWait: 0, bodyNotes: true), retry: RetryPolicy(maxAttempts: 1))],
            plans: ["stocks": IngestPlan(steps: [
                PlanStep(name: "overview", source: "alpha_vantage", endpoint: "OVERVIEW", path: "/query",
                         query: ["function": "OVERVIEW", "symbol": "{symbol}"], each: .named("universe"),
                         progressive: PlanStep.Progressive(batch: batch)),
            ])])
    }

    static func cursors(_ harness: PlanRunHarness) throws -> [IngestCursor] {
        try harness.events().filter { $0.type == IngestCursor.type }.map { try IngestCursor(json: $0.payload) }
    }

    static func overviewSubjects(_ harness: PlanRunHarness) throws -> [String] {
        try harness.events().filter { $0.type == CompanyOverview.type }.map(\.subject)
    }

    @Test("a rate-limited symbol is retried next run, a permanent error is recorded and passed, every symbol is collected once")
    func resumesExactly() async throws {
        let fixtures = try FixtureHarness()
        try Self.makeFixtures(fixtures)
        let harness = try PlanRunHarness()
        let clock = ManualClock(testEpoch)
        let day = Repository.fixtureDate

        // Run 1: AAA collected, BBB answers the per-minute note: the source stops there.
        let first = try await harness.runner(Self.configuration(batch: 20), server: fixtures.server, clock: clock).run(plan: "stocks", asOf: day)
        #expect(try Self.overviewSubjects(harness) == ["AAA"])
        #expect(first.total.stopped == 1)
        #expect(try Self.cursors(harness).map(\.position) == [1])
        #expect(try Self.cursors(harness).last?.lastKey == "AAA")
        #expect(!first.everythingFailed)

        // Run 2, past the stop (a new runner: only the log and the ledger carry over). BBB
        // first, CCC quarantined and passed, then DDD and EEE: the cycle completes.
        clock.advance(by: 3600)
        let second = try await harness.runner(Self.configuration(batch: 20), server: fixtures.server, clock: clock).run(plan: "stocks", asOf: day)
        #expect(try Self.overviewSubjects(harness) == ["AAA", "BBB", "DDD", "EEE"])
        #expect(second.total.rejected == 1)
        let rejected = try harness.events().filter { $0.type == IngestRejected.type }.map { try IngestRejected(json: $0.payload) }
        #expect(rejected.map(\.request) == ["alpha_vantage GET /query?function=OVERVIEW&symbol=CCC"])
        #expect(rejected.first?.httpStatus == 404)
        #expect(try Self.cursors(harness).map(\.position) == [1, 2, 3, 4, 5])
        #expect(try Self.cursors(harness).map { $0.lastKey ?? "" } == Self.symbols)

        // Run 3, same day: the cycle is complete, nothing is fetched or appended.
        let count = try harness.log.count()
        let third = try await harness.runner(Self.configuration(batch: 20), server: fixtures.server, clock: clock).run(plan: "stocks", asOf: day)
        #expect(third.total.requests == 0)
        #expect(try harness.log.count() == count)
        #expect(third.notes.contains { $0.contains("all 5 items collected") }, "\(third.notes)")
    }

    @Test("batches advance from the recorded cursor; the next day after a complete cycle starts over")
    func batchesAndCycles() async throws {
        let fixtures = try FixtureHarness()
        try Self.makeFixtures(fixtures)
        try fixtures.write("alpha_vantage/query/GET@function=OVERVIEW&symbol=BBB.meta.json", "{}")
        try fixtures.write("alpha_vantage/query/GET@function=OVERVIEW&symbol=CCC.json",
                           #"{"Symbol":"CCC","Name":"C","Exchange":"NYSE","Currency":"USD","Country":"USA","Sector":"TECHNOLOGY","LatestQuarter":"2021-03-31","MarketCapitalization":"1000"}"#)
        let harness = try PlanRunHarness()
        let clock = ManualClock(testEpoch)
        let day = Repository.fixtureDate
        var seen: [[String]] = []
        for _ in 0..<3 {
            let before = try Self.overviewSubjects(harness).count
            _ = try await harness.runner(Self.configuration(batch: 2), server: fixtures.server, clock: clock).run(plan: "stocks", asOf: day)
            seen.append(Array(try Self.overviewSubjects(harness).dropFirst(before)))
        }
        #expect(seen == [["AAA", "BBB"], ["CCC", "DDD"], ["EEE"]])
        #expect(try Self.cursors(harness).map(\.position) == [1, 2, 3, 4, 5])

        // The next day a new cycle starts at the first symbol (its data are duplicates).
        let next = LocalDate(daysSinceEpoch: day.daysSinceEpoch + 1)
        let report = try await harness.runner(Self.configuration(batch: 2), server: fixtures.server, clock: clock).run(plan: "stocks", asOf: next)
        #expect(report.rows.first { $0.source == "alpha_vantage" }?.requests == 2)
        #expect(try Self.cursors(harness).map(\.position) == [1, 2, 3, 4, 5, 1, 2])
    }

    @Test("the cursor follows its last key when the list changes between runs")
    func listChanges() throws {
        var ledger = CursorLedger()
        let day = Repository.fixtureDate
        ledger.record(IngestCursor(source: "s", plan: "p.x", position: 2, total: 4, lastKey: "B"), subject: "s/p.x", day: day, seq: 1)
        #expect(ledger.start(subject: "s/p.x", keys: ["A", "B", "C", "D"], day: day) == 2)
        #expect(ledger.start(subject: "s/p.x", keys: ["Z", "A", "B", "C", "D"], day: day) == 3)
        #expect(ledger.start(subject: "other", keys: ["A"], day: day) == 0)
        ledger.record(IngestCursor(source: "s", plan: "p.x", position: 4, total: 4, lastKey: "D"), subject: "s/p.x", day: day, seq: 2)
        #expect(ledger.start(subject: "s/p.x", keys: ["A", "B", "C", "D"], day: day) == nil)
        #expect(ledger.start(subject: "s/p.x", keys: ["A", "B", "C", "D"], day: LocalDate(daysSinceEpoch: day.daysSinceEpoch + 1)) == 0)
    }
}

private func jsonString(_ text: String) -> String {
    String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
}
