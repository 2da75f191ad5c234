import Events
import Foundation
import Ingest
import Logging
import TickfoldTesting

/// The repository root of this checkout (for `fixtures/` and `tickfold.example.json`).
enum Repository {
    static let root: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    static var fixtures: String { "\(root)/fixtures" }

    /// The bundled fixtures' configuration.
    static func fixtureConfiguration() throws -> IngestConfiguration {
        try IngestConfiguration.load(fromFile: "\(fixtures)/tickfold.json")
    }

    /// The date the bundled fixtures were recorded for (a Thursday).
    static let fixtureDate = try! LocalDate("2026-04-16")

    /// Placeholder keys for every keyed source: the fixture server ignores them.
    static let fixtureKeys: [String: String] = [
        "ALPHAVANTAGE_API_KEYS": "demo-av", "FINNHUB_API_KEYS": "demo-fh", "FRED_API_KEYS": "demo-fred",
        "NEWSAPI_API_KEYS": "demo-news", "X_BEARER_TOKEN_PRIMARY": "demo-x",
    ]
}

/// Quarantined bodies stored as they are: the library tests read them back directly (the CLI
/// stores zstd, tested through the binary).
struct StoredAsIs: BodyCompressor {
    var fileExtension: String { ".body" }
    func compress(_ bytes: [UInt8]) throws -> [UInt8] { bytes }
}

/// A log, quarantine and ledger in one temporary directory, and runners over them.
final class PlanRunHarness: @unchecked Sendable {
    // @unchecked Sendable: the log is Sendable; the rest is immutable after init.
    let directory: TemporaryDirectory
    let log: EventLog
    let logs = LogCapture()
    let ledger: QuotaLedger

    init() throws {
        directory = try TemporaryDirectory("ingest-plans")
        log = try EventLog(directory: directory.file("events"))
        ledger = try QuotaLedger(directory: directory.file("state"))
    }

    deinit { log.close() }

    var quarantine: Quarantine { Quarantine(directory: directory.file("quarantine"), compressor: StoredAsIs()) }

    func runner(_ configuration: IngestConfiguration, server: FixtureServer, keys: [String: String] = Repository.fixtureKeys,
                clock: any WallClock = ManualClock(testEpoch)) throws -> IngestRunner {
        let endpoints = try SourceEndpoints.resolve(environment: ["TICKFOLD_FIXTURES_URL": server.baseURL.absoluteString])
        return IngestRunner(configuration: configuration, endpoints: endpoints, secrets: SecretSource(environment: keys),
                            transport: URLSessionTransport(), clock: clock, ledger: ledger, log: log, quarantine: quarantine,
                            logger: logs.logger("ingest-run"))
    }

    /// Every event in the log, in seq order.
    func events() throws -> [Event] {
        try log.read(from: 1, limit: 1_000_000).map { try Event.decode($0.canonicalJSON) }
    }
}
