import Events
import Foundation
import Ingest
import Testing
import TickfoldTesting

/// The real daily-bar files under `shared/data/ohlcv_daily/`, found by walking up from this
/// source file (the repository, or a worktree of it, sits next to `shared/`).
enum SharedOHLCV {
    static let directory: String? = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            url = url.deletingLastPathComponent()
            let candidate = url.appendingPathComponent("shared/data/ohlcv_daily").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }()

    /// Every CSV under the directory, sorted, as paths.
    static func files() throws -> [String] {
        guard let directory else { return [] }
        let names = try FileManager.default.subpathsOfDirectory(atPath: directory)
        return names.filter { $0.hasSuffix(".csv") }.sorted().map { "\(directory)/\($0)" }
    }

    /// The data rows of a file as the test reads them independently: lines after the header
    /// that are not empty, split on commas (these files quote nothing).
    static func rows(_ path: String) throws -> (header: [String], rows: [(line: Int, fields: [String])]) {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = lines[0].split(separator: ",").map { $0.lowercased() }
        var rows: [(Int, [String])] = []
        for (index, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            rows.append((index + 1, line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
        }
        return (header, rows)
    }

    static let skipMessage: Comment = "shared/data/ohlcv_daily is not next to this checkout"
}

@Suite("Daily bar CSV importer: the real files in shared/data/ohlcv_daily", .onTestThreads)
struct DailyBarCSVSharedDataTests {
    let importer = try! DailyBarCSVImporter()

    /// Rows per folder and date range, from shared/data/README.md and the files themselves.
    static let expected: [String: (files: Int, rows: Int, first: String, last: String)] = [
        "rajeshmpatel_sector_money_flow": (31, 251, "2025-02-19", "2026-02-18"),
        "kittycapital_etf_seasonality_to_2026-02-18": (3, 282, "2025-01-02", "2026-02-18"),
        "danyoko_sp500_yahoo_2025-02_2026-02": (20, 251, "2025-02-28", "2026-02-27"),
    ]

    @Test("every price file imports with zero rejected rows, the expected counts, and every value exactly as written",
          .enabled(if: SharedOHLCV.directory != nil, SharedOHLCV.skipMessage))
    func everyFile() throws {
        var filesPerFolder: [String: Int] = [:]
        var total = 0
        for path in try SharedOHLCV.files() {
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent
            if path.hasSuffix("/macro_cache.csv") { continue }
            let expected = try #require(Self.expected[folder], "unexpected folder \(folder)")
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            let result = try importer.importFile(bytes: bytes, file: path)
            #expect(result.rejections.isEmpty, "\(result.rejections.map(\.description))")
            #expect(result.rowsRead == expected.rows, "\(path)")
            #expect(result.bars.count == expected.rows, "\(path)")
            #expect(result.bars.first?.bar.date.description == expected.first, "\(path)")
            #expect(result.bars.last?.bar.date.description == expected.last, "\(path)")
            #expect(result.subject == URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
            #expect(Set(result.events.map(\.id)).count == expected.rows)

            let (header, rows) = try SharedOHLCV.rows(path)
            #expect(rows.count == expected.rows)
            let byLine = Dictionary(uniqueKeysWithValues: result.bars.map { ($0.line, $0.bar) })
            for (line, fields) in rows {
                let bar = try #require(byLine[line], "\(path):\(line) not imported")
                var written: [String: String] = [:]
                for (name, value) in zip(header, fields) { written[name] = value }
                #expect(written["date"] == bar.date.description)
                #expect(written["open"] == bar.open.text)
                #expect(written["high"] == bar.high.text)
                #expect(written["low"] == bar.low.text)
                #expect(written["close"] == bar.close.text)
                #expect(written["adj close"] == bar.adjClose?.text)
                #expect(written["volume"] == String(bar.volume))
            }
            filesPerFolder[folder, default: 0] += 1
            total += result.bars.count
        }
        for (folder, expected) in Self.expected { #expect(filesPerFolder[folder] == expected.files, "\(folder)") }
        #expect(total == 31 * 251 + 3 * 282 + 20 * 251)
    }

    @Test("macro_cache.csv (FRED values next to the bars) is refused as a whole: it is not a bar file",
          .enabled(if: SharedOHLCV.directory != nil, SharedOHLCV.skipMessage))
    func macroCache() throws {
        let path = "\(SharedOHLCV.directory!)/rajeshmpatel_sector_money_flow/macro_cache.csv"
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(throws: CSVImportError.self) { try importer.importFile(bytes: bytes, file: path, subject: "MACRO") }
    }

    @Test("importing the real files twice appends nothing the second time; a newest-first copy gives the same ids",
          .enabled(if: SharedOHLCV.directory != nil, SharedOHLCV.skipMessage))
    func reimport() throws {
        let directory = try TemporaryDirectory("csvimport-log")
        let log = try EventLog(directory: directory.file("events"))
        defer { log.close() }
        let paths = try SharedOHLCV.files().filter { $0.contains("kittycapital") || $0.hasSuffix("/AAPL.csv") }
        #expect(paths.count == 4)
        var expectedCount = 0
        for path in paths {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            let result = try importer.importFile(bytes: bytes, file: path, observedAt: Timestamp(millisecondsSinceEpoch: 1))
            let first = try log.appendBlocking(try records(result.events))
            #expect(first.allSatisfy { if case .appended = $0 { true } else { false } })
            expectedCount += result.events.count

            let again = try importer.importFile(bytes: bytes, file: path, observedAt: Timestamp(millisecondsSinceEpoch: 2))
            let second = try log.appendBlocking(try records(again.events))
            #expect(second.allSatisfy { if case .duplicate = $0 { true } else { false } })
            #expect(second.map(\.seq) == first.map(\.seq))

            let text = try String(contentsOfFile: path, encoding: .utf8)
            var lines = text.split(separator: "\n").map(String.init)
            let header = lines.removeFirst()
            let reversed = Array(([header] + lines.reversed()).joined(separator: "\n").utf8)
            let newestFirst = try importer.importFile(bytes: reversed, file: path)
            #expect(newestFirst.events.map(\.id) == result.events.map(\.id))
        }
        #expect(try log.count() == expectedCount)
    }
}

@Suite("Daily bar CSV importer: into the event log", .onTestThreads)
struct DailyBarCSVLogTests {
    @Test("accepted rows append once; the stored bytes are the event's canonical JSON; re-import is all duplicates")
    func appendAndReimport() throws {
        let directory = try TemporaryDirectory("csvimport-log")
        let log = try EventLog(directory: directory.file("events"))
        defer { log.close() }
        let importer = try DailyBarCSVImporter()
        let csv = Array("Date,Open,High,Low,Close,Volume\n2025-03-04,10,11,9,10.5,100\n2025-03-03,10,11,9,10,100\n".utf8)
        let first = try importer.importFile(bytes: csv, file: "SPY.csv", observedAt: Timestamp(millisecondsSinceEpoch: 1000))
        let outcomes = try log.appendBlocking(try records(first.events))
        #expect(outcomes == [.appended(1), .appended(2)])
        let stored = try log.read(from: 1, limit: 10)
        #expect(stored.map(\.canonicalJSON) == (try first.events.map { try $0.canonicalBytes() }))
        let decoded = try Event.decode(stored[0].canonicalJSON)
        #expect(try DailyBar(json: decoded.payload).date == LocalDate("2025-03-03"))

        let again = try importer.importFile(bytes: csv, file: "copy/SPY.csv", observedAt: Timestamp(millisecondsSinceEpoch: 2000))
        #expect(try log.appendBlocking(try records(again.events)) == [.duplicate(1), .duplicate(2)])
        #expect(try log.count() == 2)
    }
}

private func records(_ events: [Event]) throws -> [LogRecord] {
    try events.map(EventLog.record(for:))
}
