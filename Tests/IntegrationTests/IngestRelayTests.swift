import Events
import Foundation
import Kafka
import Testing
import TickfoldTesting

/// `tickfold fixtures serve fixtures/ --port 0` as a child process; SIGTERM on `stop()`.
private final class FixtureServerProcess {
    let process = Process()
    let url: String

    init(directory: String) throws {
        process.executableURL = URL(fileURLWithPath: try #require(TickfoldBinary.path))
        process.arguments = ["fixtures", "serve", directory, "--port", "0"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        let deadline = ContinuousClock.now + .seconds(20)
        while !text.contains("\n"), ContinuousClock.now < deadline {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let range = text.range(of: "http://127.0.0.1:") else {
            process.terminate()
            throw POSIXError(.ECONNREFUSED)
        }
        url = String(text[range.lowerBound...].prefix { !$0.isWhitespace })
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

@Suite("Ingest → log → Kafka: every plan over the bundled fixtures, relayed", .onTestThreads, .serialized,
       .enabled(if: TickfoldBinary.path != nil && TestServices.hasKafka, "needs the built binary and TICKFOLD_KAFKA"))
struct IngestRelayTests {
    @Test("ingest run --plan all twice, relay --once: every appended event reaches Kafka, the reject and the cursor included")
    func ingestThenRelay() async throws {
        let root = URL(fileURLWithPath: try #require(TickfoldBinary.path)).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let directory = try TemporaryDirectory("ingest-relay")
        let server = try FixtureServerProcess(directory: "\(root)/fixtures")
        defer { server.stop() }
        let prefix = TestServices.uniqueName("ingest")
        let environment = [
            "TICKFOLD_FIXTURES_URL": server.url, "TICKFOLD_TOPIC_PREFIX": prefix, "TICKFOLD_LOG": directory.file("log"),
            "ALPHAVANTAGE_API_KEYS": "k", "FINNHUB_API_KEYS": "k", "FRED_API_KEYS": "k", "NEWSAPI_API_KEYS": "k", "X_BEARER_TOKEN_PRIMARY": "k",
        ]
        let run = ["ingest", "run", "--plan", "all", "--as-of", "2026-04-16", "--config", "\(root)/fixtures/tickfold.json", "--json"]
        let first = try await TickfoldBinary.run(run, environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        let second = try await TickfoldBinary.run(run, environment: environment)
        #expect(second.status == 0, "\(second.stderr)")
        struct Report: Decodable {
            struct Row: Decodable { let source: String; let appended: Int; let duplicates: Int; let rejected: Int }
            let rows: [Row]
        }
        let firstReport = try JSONDecoder().decode(Report.self, from: Data(first.stdout.utf8))
        let secondReport = try JSONDecoder().decode(Report.self, from: Data(second.stdout.utf8))
        let appended = firstReport.rows.reduce(0) { $0 + $1.appended }
        #expect(appended > 100)
        #expect(secondReport.rows.allSatisfy { $0.appended == 0 })
        #expect(secondReport.rows.reduce(0) { $0 + $1.duplicates } == appended - 2,
                "every event again, but the completed progressive step (one overview, one cursor) is not re-run the same day")
        #expect(firstReport.rows.filter { $0.rejected > 0 }.map(\.source) == ["yahoo_finance"])

        let relay = try await TickfoldBinary.run(["relay", "--once", "--kafka", try #require(TestServices.kafka)], environment: environment)
        #expect(relay.status == 0, "\(relay.stderr)")
        #expect(relay.stdout.contains("relayed \(appended) events"), "\(relay.stdout)")

        let ingestEvents = try RelayFixtures.readEvents("\(prefix).ingest", partitions: 6)
        let types = ingestEvents.compactMap { message -> String? in
            if case .event(let event) = message.outcome { return event.type } else { return nil }
        }.sorted()
        #expect(types == [IngestCursor.type, IngestRejected.type], "\(types)")
    }
}
