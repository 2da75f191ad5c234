import Events
import Ingest
import Testing
import TickfoldTesting

@Suite("Daily bar CSV importer: real-world layouts", .onTestThreads)
struct DailyBarCSVImporterTests {
    let importer = try! DailyBarCSVImporter()

    func run(_ text: String, file: String = "SPY.csv", subject: String? = nil) throws(CSVImportError) -> DailyBarCSVImport {
        try importer.importFile(bytes: Array(text.utf8), file: file, subject: subject)
    }

    /// The invariant every import keeps: each non-blank data row is in exactly one bucket.
    func expectBalanced(_ result: DailyBarCSVImport, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(
            result.rowsRead == result.bars.count + result.repeatedRows + result.dividendRows + result.splitRows
                + result.noDataRows + result.rejections.count, sourceLocation: sourceLocation)
        #expect(result.events.count == result.bars.count, sourceLocation: sourceLocation)
    }

    @Test("Yahoo v8 layout: prices kept exactly as written")
    func lowercaseLayout() throws {
        let result = try run("""
            date,open,high,low,close,volume
            2025-02-19,97.2699966430664,97.5,97.2699966430664,97.4499969482422,5604800
            2025-02-20,97.54000091552734,97.66999816894533,97.5,97.5999984741211,27958700

            """, file: "data/AGG.csv")
        #expect(result.subject == "AGG")
        #expect(result.rejections.isEmpty)
        #expect(result.bars.map(\.bar) == [
            DailyBar(date: try LocalDate("2025-02-19"), open: "97.2699966430664", high: "97.5", low: "97.2699966430664", close: "97.4499969482422", volume: 5_604_800),
            DailyBar(date: try LocalDate("2025-02-20"), open: "97.54000091552734", high: "97.66999816894533", low: "97.5", close: "97.5999984741211", volume: 27_958_700),
        ])
        #expect(result.bars.map(\.line) == [2, 3])
        expectBalanced(result)
    }

    @Test("yfinance column order gives the same bars as the usual order")
    func yfinanceOrder() throws {
        let usual = try run("Date,Open,High,Low,Close,Volume\n2025-01-02,428.3399963378906,428.9599914550781,421.5899963378906,423.79998779296875,4231500\n", file: "DIA.csv")
        let yfinance = try run("Date,Close,High,Low,Open,Volume\n2025-01-02,423.79998779296875,428.9599914550781,421.5899963378906,428.3399963378906,4231500\n", file: "DIA.csv")
        #expect(usual.bars.map(\.bar) == yfinance.bars.map(\.bar))
        #expect(usual.events.map(\.id) == yfinance.events.map(\.id))
        #expect(yfinance.bars.first?.bar.open == "428.3399963378906")
    }

    @Test("Adj Close is read when present and omitted when absent")
    func adjClose() throws {
        let with = try run("Date,Open,High,Low,Close,Adj Close,Volume\n2025-02-28,236.9499969482422,242.08999633789062,230.1999969482422,241.83999633789062,240.79052734375,56833400\n", file: "AAPL.csv")
        #expect(with.bars.first?.bar.adjClose == "240.79052734375")
        #expect(with.bars.first?.bar.close == "241.83999633789062")
        for header in ["AdjClose", "adj_close", "adjusted_close", "Adj. Close**"] {
            let other = try run("Date,Open,High,Low,Close,\(header),Volume\n2025-02-28,236.9499969482422,242.08999633789062,230.1999969482422,241.83999633789062,240.79052734375,56833400\n", file: "AAPL.csv")
            #expect(other.events.map(\.id) == with.events.map(\.id), "\(header)")
        }
        let without = try run("Date,Open,High,Low,Close,Volume\n2025-02-28,1,2,1,2,5\n")
        #expect(without.bars.first?.bar.adjClose == nil)
        let empty = try run("Date,Open,High,Low,Close,Adj Close,Volume\n2025-02-28,1,2,1,2,null,5\n")
        #expect(empty.bars.first?.bar.adjClose == nil)
        #expect(empty.rejections.isEmpty)
    }

    @Test("a BOM, quoted and space-padded headers, and CRLF line ends")
    func bomAndHeaderSpaces() throws {
        let text = "\u{FEFF}\"Date \", Open ,High  ,Low,Close ,Adj Close ,  Volume \r\n2025-02-28,1.5,2.5,1.25,2,2,100\r\n"
        let result = try run(text)
        #expect(result.rejections.isEmpty)
        #expect(result.bars.map(\.bar) == [DailyBar(date: try LocalDate("2025-02-28"), open: "1.5", high: "2.5", low: "1.25", close: "2", adjClose: "2", volume: 100)])
    }

    @Test("M/D/YYYY and D-Mon-YY dates")
    func dateSpellings() throws {
        let us = try run("Date,Open,High,Low,Close,Volume\n2/27/2026,10,11,9,10.5,100\n3/2/2026,10,11,9,10.5,100\n")
        let named = try run("Date,Open,High,Low,Close,Volume\n27-Feb-26,10,11,9,10.5,100\n02-Mar-26,10,11,9,10.5,100\n")
        let iso = try run("Date,Open,High,Low,Close,Volume\n2026-02-27,10,11,9,10.5,100\n2026-03-02,10,11,9,10.5,100\n")
        #expect(us.rejections.isEmpty && named.rejections.isEmpty)
        #expect(us.events.map(\.id) == iso.events.map(\.id))
        #expect(named.events.map(\.id) == iso.events.map(\.id))
    }

    @Test("investing.com-style quoted numbers with thousands separators")
    func quotedThousands() throws {
        let result = try run("""
            "Date","Open","High","Low","Close","Volume"
            "02/27/2026","1,234.50","1,240.00","1,230.25","1,238.75","1,234,567"
            """)
        #expect(result.rejections.isEmpty)
        let bar = try #require(result.bars.first?.bar)
        #expect(bar == DailyBar(date: try LocalDate("2026-02-27"), open: "1234.50", high: "1240.00", low: "1230.25", close: "1238.75", volume: 1_234_567))
    }

    @Test("Nasdaq export: Close/Last, dollar signs, newest first")
    func nasdaq() throws {
        let result = try run("""
            Date,Close/Last,Volume,Open,High,Low
            02/27/2026,$264.18,72239400,$272.81,$272.81,$262.89
            02/26/2026,$272.95,32345100,$274.95,$276.11,$270.80
            """, file: "AAPL.csv")
        #expect(result.rejections.isEmpty)
        #expect(result.bars.map(\.bar.date.description) == ["2026-02-26", "2026-02-27"])
        #expect(result.bars.last?.bar.close == "264.18")
        #expect(result.bars.first?.bar.low == "270.80")
    }

    @Test("Yahoo website table: Close* and Adj Close** headers, quoted Mon D, YYYY dates, grouped volumes, newest first")
    func yahooWebsite() throws {
        let result = try run("""
            Date,Open,High,Low,Close*,Adj Close**,Volume
            "Feb 27, 2026",272.81,272.81,262.89,264.18,264.18,"72,239,400"
            "Feb 26, 2026",274.95,276.11,270.80,272.95,272.95,"32,345,100"
            "Feb 9, 2024",0.24 Dividend
            """, file: "AAPL.csv")
        #expect(result.rejections.isEmpty)
        #expect(result.dividendRows == 1)
        #expect(result.bars.map(\.bar) == [
            DailyBar(date: try LocalDate("2026-02-26"), open: "274.95", high: "276.11", low: "270.80", close: "272.95", adjClose: "272.95", volume: 32_345_100),
            DailyBar(date: try LocalDate("2026-02-27"), open: "272.81", high: "272.81", low: "262.89", close: "264.18", adjClose: "264.18", volume: 72_239_400),
        ])
    }

    @Test("Yahoo dividend and split rows are skipped and counted")
    func corporateActions() throws {
        let result = try run("""
            Date,Open,High,Low,Close,Adj Close,Volume
            2024-02-08,188.14,189.2,187.35,188.32,187.1,40962000
            2024-02-09,0.24 Dividend
            2024-02-09,188.65,189.99,188,188.85,188.85,45155200
            2020-08-31,4:1 Stock Split
            """, file: "AAPL.csv")
        #expect(result.dividendRows == 1)
        #expect(result.splitRows == 1)
        #expect(result.rejections.isEmpty)
        #expect(result.bars.count == 2)
        #expect(result.bars.first?.bar.low == "187.35")
        expectBalanced(result)
    }

    @Test("newest-first files give identical events to oldest-first ones")
    func newestFirst() throws {
        let rows = [
            "2025-02-28,236.9499969482422,242.08999633789062,230.1999969482422,241.83999633789062,240.79052734375,56833400",
            "2025-03-03,241.7899932861328,244.02999877929688,236.11000061035156,238.02999877929688,236.9970703125,47184000",
            "2025-03-04,237.7100067138672,240.07000732421875,234.67999267578125,235.92999267578125,234.90977478027344,53798100",
        ]
        let header = "Date,Open,High,Low,Close,Adj Close,Volume\n"
        let oldest = try run(header + rows.joined(separator: "\n"), file: "AAPL.csv")
        let newest = try run(header + rows.reversed().joined(separator: "\n"), file: "AAPL.csv")
        #expect(oldest.events.map(\.id) == newest.events.map(\.id))
        #expect(newest.bars.map(\.bar.date.description) == ["2025-02-28", "2025-03-03", "2025-03-04"])
        #expect(newest.bars.map(\.line) == [4, 3, 2])
    }

    @Test("blank rows, comma-only rows and null rows are skipped, not rejected")
    func blanksAndNulls() throws {
        let result = try run("Date,Open,High,Low,Close,Adj Close,Volume\n\n2025-02-28,1,2,1,2,2,5\n2025-03-01,null,null,null,null,null,null\n,,,,,,\n\n  \n")
        #expect(result.rejections.isEmpty)
        #expect(result.bars.count == 1)
        #expect(result.noDataRows == 1)
        #expect(result.blankRows == 4)
        #expect(result.rowsRead == 2)
        expectBalanced(result)
    }

    @Test("each rejected row is reported as FILE:LINE: reason, and the rest still imports")
    func rejections() throws {
        let result = try run("""
            Date,Open,High,Low,Close,Volume
            2025-03-03,10,9,11,10,100
            2025-03-04,-1,11,9,10,100
            2025-03-05,10,11,9,10,100
            27/3/2025,10,11,9,10,100
            2025-03-07,10,11,9
            2025-03-10,10,11,"9,5",10,100
            2025-03-11,10,11,9,10,45.6M
            2025-03-12,10,11,,10,100
            2025-03-13,10,11,9,10,
            2025-03-14,"10"x,11,9,10,100
            2025-03-17,10,11,9,10,100,7
            2025-03-18,10,11,9,10,100,
            2025-03-19,10,11,9,"10,100
            """, file: "in/SPY.csv")
        #expect(result.rejections.map(\.description) == [
            "in/SPY.csv:2: high 9 is below low 11",
            "in/SPY.csv:3: Open -1 is negative",
            "in/SPY.csv:5: date \"27/3/2025\" looks like D/M/YYYY; only US M/D/YYYY is read",
            "in/SPY.csv:6: expected 6 fields like the header, found 4",
            "in/SPY.csv:7: Low \"9,5\" has misplaced thousands separators (expected groups of three like 1,234.50)",
            "in/SPY.csv:8: volume \"45.6M\" is abbreviated (rounded by the exporter); export full volumes",
            "in/SPY.csv:9: Low is missing",
            "in/SPY.csv:10: volume is missing",
            "in/SPY.csv:11: unexpected text after a closing quote (a quote inside a quoted field must be doubled)",
            "in/SPY.csv:12: expected 6 fields like the header, found 7",
            "in/SPY.csv:14: quoted field opened on line 14 is never closed",
        ])
        #expect(result.bars.map(\.bar.date.description) == ["2025-03-05", "2025-03-18"])
        expectBalanced(result)
    }

    @Test("a date repeated with the same values is one bar; with different values every copy is rejected")
    func repeatedDates() throws {
        let conflicting = try run("Date,Open,High,Low,Close,Volume\n2025-03-03,10,11,9,10,100\n2025-03-04,10,11,9,10,100\n2025-03-03,10.0,11,9,10,100\n")
        #expect(conflicting.rejections.map(\.line) == [2, 4])
        #expect(conflicting.rejections.first?.reason == "date 2025-03-03 appears with different values on lines 2, 4")
        #expect(conflicting.bars.map(\.bar.date.description) == ["2025-03-04"])
        let identical = try run("Date,Open,High,Low,Close,Volume\n2025-03-03,10,11,9,10,100\n2025-03-03,10,11,9,10,100\n")
        #expect(identical.rejections.isEmpty)
        #expect(identical.repeatedRows == 1)
        #expect(identical.bars.map(\.line) == [2])
        expectBalanced(conflicting)
        expectBalanced(identical)
    }

    @Test("files that are not daily bars fail as a whole with the reason")
    func wrongFiles() throws {
        #expect(throws: CSVImportError.self) { try run("indicator,value,date,series\n2Y,3.43,2026-02-17,DGS2\n") }
        do throws(CSVImportError) {
            _ = try run("indicator,value,date,series\n2Y,3.43,2026-02-17,DGS2\n")
        } catch {
            #expect(error.code == .columns)
            #expect(error.description.hasPrefix("SPY.csv: not a daily bar file: no Open, High, Low, Close, Volume column"))
        }
        #expect(throws: CSVImportError(code: .noHeader, file: "SPY.csv", detail: "no header row (the file is empty)")) { try run("\n\n") }
        #expect(throws: CSVImportError.self) { try run("Date,Close,Price,Open,High,Low,Volume\n") }
        #expect(throws: CSVImportError(code: .encoding, file: "SPY.csv", detail: "the file is UTF-16 text; save it as UTF-8 CSV")) {
            try importer.importFile(bytes: [0xFF, 0xFE, 0x44, 0x00], file: "SPY.csv")
        }
    }

    @Test("the ticker comes from the file name, or --subject", arguments: [
        ("SPY.csv", "SPY"), ("data/ohlcv/BRK-B.csv", "BRK-B"), ("spy.CSV", "SPY"), ("^GSPC.csv", "^GSPC"), ("BRK.B.csv", "BRK.B"),
        ("EURUSD=X.txt", "EURUSD=X"), ("QQQ", "QQQ"),
    ])
    func subjects(file: String, subject: String) {
        #expect(DailyBarCSVImporter.subject(fromFileName: file) == subject)
    }

    @Test("file names that name no ticker fail clearly unless --subject is given", arguments: [
        "HistoricalData_1708.csv", "macro_cache.csv", "my prices.csv", ".csv", "-X.csv", "AVERYLONGNAMEOFAFILETHATISNOTATICKER.csv",
    ])
    func noSubject(file: String) throws {
        #expect(DailyBarCSVImporter.subject(fromFileName: file) == nil)
        let text = "Date,Open,High,Low,Close,Volume\n2025-03-03,10,11,9,10,100\n"
        do throws(CSVImportError) {
            _ = try run(text, file: file)
            Issue.record("\(file) was accepted")
        } catch {
            #expect(error.code == .subject)
            #expect(error.description.contains("pass --subject"))
        }
        #expect(try run(text, file: file, subject: "MSFT").events.first?.subject == "MSFT")
    }

    @Test("envelope: bar.daily v2, source, ticker, the date at midnight UTC, provenance names the file")
    func envelope() throws {
        let text = "Date,Open,High,Low,Close,Volume\n2025-03-03,10,11,9,10,100\n"
        let observed = Timestamp(millisecondsSinceEpoch: 1_760_000_000_123)
        let result = try importer.importFile(bytes: Array(text.utf8), file: "x/SPY.csv", observedAt: observed)
        let event = try #require(result.events.first)
        #expect(event.type == "bar.daily")
        #expect(event.version == 2)
        #expect(event.source == "csv")
        #expect(event.subject == "SPY")
        #expect(event.occurredAt.rfc3339 == "2025-03-03T00:00:00.000Z")
        #expect(event.observedAt == observed)
        #expect(result.fileSHA256.count == 64)
        #expect(event.provenance?.request == "file:SPY.csv:\(result.fileSHA256)")
        #expect(try DailyBar(json: event.payload) == result.bars[0].bar)
    }

    @Test("ids depend on the source but not on when, or under which file name, a file was read")
    func identity() throws {
        let text = Array("Date,Open,High,Low,Close,Volume\n2025-03-03,10,11,9,10,100\n".utf8)
        let first = try importer.importFile(bytes: text, file: "SPY.csv", observedAt: Timestamp(millisecondsSinceEpoch: 1))
        let again = try importer.importFile(bytes: text, file: "elsewhere/spy.csv", observedAt: Timestamp(millisecondsSinceEpoch: 2))
        let yahoo = try DailyBarCSVImporter(source: "yahoo").importFile(bytes: text, file: "SPY.csv")
        #expect(first.events.map(\.id) == again.events.map(\.id))
        #expect(first.events.map(\.id) != yahoo.events.map(\.id))
        #expect(yahoo.events.first?.source == "yahoo")
    }

    @Test("source names are checked", arguments: ["", "Yahoo", "9x", "a b", "yahoo!"])
    func badSources(source: String) {
        #expect(throws: CSVImportError.self) { try DailyBarCSVImporter(source: source) }
    }
}
