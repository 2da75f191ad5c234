import Foundation
import Testing
import TickfoldTesting

@Suite("tickfold ingest csv (the built binary)", .onTestThreads, .enabled(if: TickfoldBinary.path != nil, "no .build/debug/tickfold; run swift build first"))
struct IngestCSVCommandTests {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory("csvimport-cli")
        try "Date,Open,High,Low,Close,Adj Close,Volume\n2024-02-12,10,11,9,10.5,10.5,100\n2024-02-09,0.24 Dividend\n2024-02-09,10,11,9,10,9.8,200\n\n"
            .write(toFile: directory.file("SPY.csv"), atomically: false, encoding: .utf8)
        try "date,open,high,low,close,volume\n2024-02-09,10,11,9,10,100\n2024-02-12,10,9,11,10,100\n2024-02-13,10,11,9,10,100\n"
            .write(toFile: directory.file("QQQ.csv"), atomically: false, encoding: .utf8)
    }

    @Test("imports files, reports rejected rows as FILE:LINE on stderr, exits 1; a second run finds only duplicates")
    func importAndReimport() async throws {
        let log = directory.file("events")
        let spy = directory.file("SPY.csv")
        let qqq = directory.file("QQQ.csv")
        let first = try await TickfoldBinary.run(["ingest", "csv", "--type", "bar.daily", "--log", log, spy, qqq], removing: { $0 == "TICKFOLD_LOG" || $0 == "TICKFOLD_CONFIG" }, directory: directory.path)
        #expect(first.status == 1, "\(first.stderr)")
        #expect(first.stderr == "\(qqq):3: high 9 is below low 11\n")
        let lines = first.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(lines.count == 4)
        #expect(lines.first?.first == "FILE")
        #expect(lines[1] == [spy, "SPY", "3", "2", "0", "1", "0", "0", "0", "2024-02-09", "2024-02-12"])
        #expect(lines[2] == [qqq, "QQQ", "3", "2", "0", "0", "0", "0", "1", "2024-02-09", "2024-02-13"])
        #expect(lines[3] == ["total", "6", "4", "0", "1", "0", "0", "1", "2024-02-09", "2024-02-13"])

        let second = try await TickfoldBinary.run(["ingest", "csv", "--type", "bar.daily", "--log", log, "--json", spy], removing: { $0 == "TICKFOLD_LOG" || $0 == "TICKFOLD_CONFIG" }, directory: directory.path)
        #expect(second.status == 0, "\(second.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any])
        let files = try #require(object["files"] as? [[String: Any]])
        #expect(files.count == 1)
        #expect(files[0]["appended"] as? Int == 0)
        #expect(files[0]["duplicates"] as? Int == 2)
        #expect(files[0]["dividendRows"] as? Int == 1)
        #expect(files[0]["subject"] as? String == "SPY")
        #expect(object["source"] as? String == "csv")
    }

    @Test("--dry-run reads and reports without creating the log")
    func dryRun() async throws {
        let log = directory.file("never")
        let run = try await TickfoldBinary.run(["ingest", "csv", "--type", "bar.daily", "--log", log, "--dry-run", "--json", directory.file("SPY.csv")], removing: { $0 == "TICKFOLD_LOG" || $0 == "TICKFOLD_CONFIG" }, directory: directory.path)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: log))
        #expect(run.stdout.contains("\"appended\":2"))
        #expect(run.stdout.contains("\"dryRun\":true"))
    }

    @Test("usage and file errors exit 2 with a clear message", arguments: [
        (["--type", "bar.intraday", "SPY.csv"], "--type bar.intraday is not supported; supported types: bar.daily"),
        (["--type", "bar.daily", "missing.csv"], "missing.csv: cannot read the file"),
        (["--type", "bar.daily", "--source", "Yahoo!", "SPY.csv"], "--source: source \"Yahoo!\" must be a lowercase name"),
        (["--type", "bar.daily", "prices_2024.csv"], "cannot derive a ticker from the file name \"prices_2024.csv\""),
    ])
    func failures(arguments: [String], message: String) async throws {
        try "Date,Open,High,Low,Close,Volume\n2024-02-09,10,11,9,10,100\n".write(toFile: directory.file("prices_2024.csv"), atomically: false, encoding: .utf8)
        let run = try await TickfoldBinary.run(["ingest", "csv", "--log", directory.file("events")] + arguments, removing: { $0 == "TICKFOLD_LOG" || $0 == "TICKFOLD_CONFIG" }, directory: directory.path)
        #expect(run.status == 2)
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }
}
