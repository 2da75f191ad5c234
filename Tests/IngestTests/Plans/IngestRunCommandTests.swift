import Events
import Foundation
import Ingest
import Testing
import TickfoldTesting

/// Runs the built binary in `directory` with none of the developer's Tickfold settings or keys,
/// plus `extra`.
private func tickfold(_ arguments: [String], environment extra: [String: String], in directory: String) async throws -> TickfoldBinary.Result {
    try await TickfoldBinary.run(arguments, environment: extra, removing: { name in
        name.hasPrefix("TICKFOLD_") || name.hasSuffix("_API_KEYS") || name.hasPrefix("X_BEARER")
    }, directory: directory)
}

/// The TOTAL row's APPENDED, DUPLICATE and REJECTED columns of an `ingest run` table.
private func totals(_ stdout: String) -> (appended: Int, duplicates: Int, rejected: Int)? {
    guard let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("total") }) else { return nil }
    let cells = line.split(separator: " ", omittingEmptySubsequences: true).compactMap { Int($0) }
    guard cells.count == 7 else { return nil }
    return (cells[1], cells[2], cells[3])
}

@Suite("tickfold ingest run / ingest file (the built binary)", .onTestThreads, .serialized,
       .enabled(if: TickfoldBinary.path != nil, "no .build/debug/tickfold; run swift build first"))
struct IngestRunCommandTests {
    /// Keys planted in the environment; none may show up anywhere.
    static let planted: [String: String] = [
        "ALPHAVANTAGE_API_KEYS": "PLANTEDav9f3e1c7b2d", "FINNHUB_API_KEYS": "PLANTEDfh4a8c2e6d0b", "FRED_API_KEYS": "PLANTEDfr7d1b5f9a3c",
        "NEWSAPI_API_KEYS": "PLANTEDna2e6a0c4f8d", "X_BEARER_TOKEN_PRIMARY": "PLANTEDxb5c9e3a7d1f",
    ]

    @Test("plan all over the fixture server: events, one zstd-quarantined reject, nothing new the second time, no key anywhere")
    func runAllTwice() async throws {
        let directory = try TemporaryDirectory("ingest-run-cli")
        let server = FixtureServer(directory: Repository.fixtures, logger: LogCapture().logger())
        try server.start()
        defer { server.stop() }
        // Finnhub points at a closed port: its failure message carries the request URL, key masked.
        let environment = Self.planted.merging([
            "TICKFOLD_FIXTURES_URL": server.baseURL.absoluteString, "TICKFOLD_LOG_LEVEL": "trace",
            "TICKFOLD_ENDPOINT_FINNHUB": "http://127.0.0.1:\(try closedLocalPort())/finnhub",
        ]) { $1 }
        let arguments = ["ingest", "run", "--plan", "all", "--as-of", "2026-04-16", "--config", "\(Repository.fixtures)/tickfold.json",
                         "--log", directory.file("events")]

        let first = try await tickfold(arguments, environment: environment, in: directory.path)
        #expect(first.status == 0, "\(first.stderr)")
        let firstTotals = try #require(totals(first.stdout), "\(first.stdout)")
        #expect(firstTotals.appended > 100)
        #expect(firstTotals.rejected == 1)
        #expect(first.stdout.contains("yahoo_finance"))
        #expect(first.stdout.contains("finnhub") && first.stdout.contains("transport"), "\(first.stdout)")

        let second = try await tickfold(arguments, environment: environment, in: directory.path)
        #expect(second.status == 0, "\(second.stderr)")
        let secondTotals = try #require(totals(second.stdout))
        #expect(secondTotals.appended == 0, "\(second.stdout)")
        #expect(secondTotals.rejected == 1)

        let quarantined = try FileManager.default.contentsOfDirectory(atPath: directory.file("quarantine"))
        #expect(quarantined.count == 1)
        let name = try #require(quarantined.first)
        #expect(name.hasSuffix(".zst") && name.count == 64 + 4)
        let compressed = try #require(FileManager.default.contents(atPath: directory.file("quarantine/\(name)")))
        #expect(Array(compressed.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])

        let log = try EventLog(directory: directory.file("events"), options: .readOnly)
        defer { log.close() }
        let stored = try log.read(from: 1, limit: 1_000_000)
        #expect(stored.count == firstTotals.appended)
        let rejected = try stored.map { try Event.decode($0.canonicalJSON) }.filter { $0.type == IngestRejected.type }
        #expect(try rejected.map { try IngestRejected(json: $0.payload).bodySha256 + ".zst" } == [name])

        var everything = first.stdout + first.stderr + second.stdout + second.stderr
        everything += stored.map { String(decoding: $0.canonicalJSON, as: UTF8.self) }.joined()
        everything += String(decoding: compressed, as: UTF8.self)
        for file in try FileManager.default.subpathsOfDirectory(atPath: directory.file("ingest-state")) {
            everything += String(decoding: FileManager.default.contents(atPath: directory.file("ingest-state/\(file)")) ?? Data(), as: UTF8.self)
        }
        #expect(first.stderr.contains("token=***"), "the masked Finnhub URL should be in the failure report")
        for (name, key) in Self.planted {
            #expect(!everything.contains(key), "\(name) leaked")
        }
    }

    @Test("ingest file parses saved responses, appends, counts duplicates, quarantines a malformed one")
    func ingestFile() async throws {
        let directory = try TemporaryDirectory("ingest-file-cli")
        let chart = "\(Repository.fixtures)/yahoo_finance/v8/finance/chart/QQQ/GET@events=div%2Csplit&interval=1d&range=1mo.json"
        let broken = "\(Repository.fixtures)/yahoo_finance/v8/finance/chart/XLK/GET@events=div%2Csplit&interval=1d&range=1mo.json"
        let base = ["ingest", "file", "--source", "yahoo", "--endpoint", "chart", "--log", directory.file("events"), "--json"]

        let first = try await tickfold(base + [chart], environment: [:], in: directory.path)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains(#""appended":1"#), "\(first.stdout)")
        let again = try await tickfold(base + [chart, broken], environment: [:], in: directory.path)
        #expect(again.status == 1)
        #expect(again.stdout.contains(#""appended":0"#) && again.stdout.contains(#""duplicates":1"#), "\(again.stdout)")
        #expect(again.stderr.contains("malformed-json"), "\(again.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("quarantine")).count == 1)

        let unknown = try await tickfold(["ingest", "file", "--source", "yahoo", "--endpoint", "nope", "--log", directory.file("events"), chart],
                                   environment: [:], in: directory.path)
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no parser for --source yahoo --endpoint nope"))
    }

    @Test("ingest run without plans or with an unknown plan is a usage error naming what to do")
    func usage() async throws {
        let directory = try TemporaryDirectory("ingest-run-usage")
        let none = try await tickfold(["ingest", "run", "--plan", "etf-daily", "--log", directory.file("events")], environment: [:], in: directory.path)
        #expect(none.status == 2)
        #expect(none.stderr.contains("no ingest plans configured"), "\(none.stderr)")
        let unknown = try await tickfold(["ingest", "run", "--plan", "nope", "--config", "\(Repository.fixtures)/tickfold.json", "--log", directory.file("events")],
                                   environment: [:], in: directory.path)
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no plan named nope"), "\(unknown.stderr)")
        let keyless = try await tickfold(["ingest", "run", "--plan", "macro", "--as-of", "2026-04-16", "--config", "\(Repository.fixtures)/tickfold.json",
                                    "--log", directory.file("events")], environment: [:], in: directory.path)
        #expect(keyless.status == 1, "every due request failed: \(keyless.stdout)")
        #expect(keyless.stdout.contains("no key: set FRED_API_KEYS or FRED_API_KEYS_FILE"), "\(keyless.stdout)")
        let badDate = try await tickfold(["ingest", "run", "--plan", "macro", "--as-of", "2026-13-01", "--config", "\(Repository.fixtures)/tickfold.json",
                                    "--log", directory.file("events")], environment: [:], in: directory.path)
        #expect(badDate.status == 2)
        #expect(badDate.stderr.contains("--as-of 2026-13-01"), "\(badDate.stderr)")
    }

    @Test("a misspelt or malformed configuration file stops every command that reads it, before anything is opened")
    func badConfiguration() async throws {
        let directory = try TemporaryDirectory("config-errors")
        try #"{"log": "events", "pgg": "postgresql://127.0.0.1:1/x"}"#.write(toFile: directory.file("typo.json"), atomically: false, encoding: .utf8)
        try "{\n  \"log\": \"events\",\n  \"kafka\": \"h:1\"\n  \"redis\": \"redis://h\"\n}\n".write(toFile: directory.file("syntax.json"), atomically: false, encoding: .utf8)
        for arguments in [["log", "stats"], ["project", "status"], ["ingest", "run", "--plan", "all"], ["audit", "digest", "--target", "named"]] {
            let typo = try await tickfold(arguments + ["--config", directory.file("typo.json")], environment: [:], in: directory.path)
            #expect(typo.status == 2, "\(arguments): \(typo.stderr)")
            #expect(typo.stderr.contains(#"unknown key "pgg" (did you mean "pg"?)"#), "\(arguments): \(typo.stderr)")
            let syntax = try await tickfold(arguments + ["--config", directory.file("syntax.json")], environment: [:], in: directory.path)
            #expect(syntax.status == 2, "\(arguments): \(syntax.stderr)")
            #expect(syntax.stderr.contains("syntax.json:4:3: unexpected byte"), "\(arguments): \(syntax.stderr)")
        }
        try #"{"auditTargets": {"live": ["pg:tickfold"]}}"#.write(toFile: directory.file("targets.json"), atomically: false, encoding: .utf8)
        let targets = try await tickfold(["audit", "digest", "--target", "live", "--config", directory.file("targets.json")], environment: [:], in: directory.path)
        #expect(targets.status == 2, "\(targets.stderr)")
        #expect(targets.stderr.contains("targets.json: auditTargets.live: "), "\(targets.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("events")), "no log was created")
    }
}
