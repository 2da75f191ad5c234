import ArgumentParser
import Events
import Foundation
import Ingest

/// `tickfold ingest …`: bring market data into the event log.
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Bring market data into the event log.",
        subcommands: [Run.self, File.self, CSV.self]
    )

    /// `tickfold ingest csv --type bar.daily [--subject T] [--source S] [--log PATH] [--dry-run] [--json] FILE…`.
    struct CSV: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "csv",
            abstract: "Import daily price CSV files into the event log (backfills).",
            discussion: """
            Reads Yahoo, yfinance, Nasdaq, investing.com and spreadsheet exports: columns by header \
            name in any order, optional Adj Close, ISO, M/D/YYYY or D-Mon-YY dates (two-digit years \
            00-68 are 20xx), quoted numbers with thousands separators, newest-first files. Dividend \
            and split rows, rows without prices and blank rows are skipped and counted. The ticker \
            is the file name without .csv (SPY.csv -> SPY) unless --subject is given. Each file's \
            accepted rows are appended in one all-or-nothing batch; rows already in the log count \
            as duplicates, so re-importing is harmless. Rejected rows are printed on stderr as \
            FILE:LINE: reason. Exit status: 0 all rows accepted, 1 some rows rejected (the others \
            are still appended), 2 usage, file or log error.
            """
        )

        @Option(name: .long, help: ArgumentHelp("Event type to write (supported: \(DailyBarCSVImporter.supportedTypes.joined(separator: ", "))).", valueName: "type"))
        var type: String

        @Option(name: .long, help: "Ticker for every file (default: derived from each file name).")
        var subject: String?

        @Option(name: .long, help: "Event source name; part of the event id (default \(DailyBarCSVImporter.defaultSource); use yahoo when the files come from Yahoo).")
        var source: String = DailyBarCSVImporter.defaultSource

        @Flag(name: .long, help: "Parse and report without appending (the log, if present, is only read to count duplicates).")
        var dryRun = false

        @Flag(name: .long, help: "Print one JSON object instead of a table.")
        var json = false

        @OptionGroup(title: "Connection")
        var connection: ConnectionOptions

        @Argument(help: "CSV files to import.")
        var files: [String]

        func run() throws {
            guard DailyBarCSVImporter.supportedTypes.contains(type) else {
                throw usageError("--type \(type) is not supported; supported types: \(DailyBarCSVImporter.supportedTypes.joined(separator: ", "))")
            }
            if let subject, subject.isEmpty || subject.utf8.count > 512 || subject.contains(where: \.isWhitespace) {
                throw usageError("--subject \"\(subject)\" must be a non-empty ticker without spaces")
            }
            let importer: DailyBarCSVImporter
            do throws(CSVImportError) { importer = try DailyBarCSVImporter(source: source) } catch { throw usageError("--source: \(error.detail)") }
            let logPath: String
            do { logPath = try connection.logPath().value } catch { throw usageError("\(error)") }
            let observedAt = Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))

            var target = LogTarget(path: logPath, dryRun: dryRun)
            var reports: [FileReport] = []
            var status: Int32 = 0
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    printError("\(file): cannot read the file")
                    reports.append(FileReport(file: file, error: "cannot read the file"))
                    status = 2
                    continue
                }
                let result: DailyBarCSVImport
                do throws(CSVImportError) {
                    result = try importer.importFile(bytes: [UInt8](data), file: file, subject: subject, observedAt: observedAt)
                } catch {
                    printError("\(error)")
                    reports.append(FileReport(file: file, error: error.detail))
                    status = 2
                    continue
                }
                for rejection in result.rejections { printError(rejection.description) }
                if !result.rejections.isEmpty { status = max(status, 1) }
                do {
                    let counts = try target.store(result.events)
                    reports.append(FileReport(result, appended: counts.new, duplicates: counts.duplicates))
                } catch {
                    printError("error: event log \(logPath): \(error)")
                    reports.append(FileReport(file: file, error: "event log \(logPath): \(error)"))
                    status = 2
                    break
                }
            }
            target.close()
            if json { try printJSON(JSONReport(type: type, source: source, dryRun: dryRun, files: reports)) } else { printTable(reports) }
            if status != 0 { throw ExitCode(status) }
        }

        private func printTable(_ reports: [FileReport]) {
            let newHeader = dryRun ? "NEW" : "APPENDED"
            var rows = [["FILE", "SUBJECT", "ROWS", newHeader, "DUPLICATE", "DIVIDEND", "SPLIT", "NO DATA", "REJECTED", "FIRST", "LAST"]]
            var total = FileReport(file: "total", error: nil)
            for report in reports where report.error == nil {
                rows.append(report.tableRow)
                total.add(report)
            }
            if reports.count > 1 { rows.append(total.tableRow) }
            let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max()! }
            for row in rows {
                let cells = row.enumerated().map { column, cell in
                    column < 2 || column > 8 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                        : String(repeating: " ", count: widths[column] - cell.count) + cell
                }
                print(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            }
        }
    }
}

/// The event log, opened on first use: as the writer, or read-only for `--dry-run`.
private struct LogTarget {
    let path: String
    let dryRun: Bool
    private var log: EventLog?
    private var opened = false

    init(path: String, dryRun: Bool) {
        self.path = path
        self.dryRun = dryRun
    }

    /// Appends `events` as one batch (or, dry, looks them up); returns how many were new and
    /// how many the log already held.
    mutating func store(_ events: [Event]) throws -> (new: Int, duplicates: Int) {
        guard !events.isEmpty else { return (0, 0) }
        let log = try open()
        if dryRun {
            guard let log else { return (events.count, 0) }
            let present = try events.filter { try log.seq(of: $0.id) != nil }.count
            return (events.count - present, present)
        }
        let records = try events.map(EventLog.record(for:))
        let outcomes = try log!.appendBlocking(records)
        let appended = outcomes.filter { if case .appended = $0 { return true } else { return false } }.count
        return (appended, outcomes.count - appended)
    }

    private mutating func open() throws -> EventLog? {
        if !opened {
            opened = true
            if !dryRun {
                log = try EventLog(directory: path)
            } else if FileManager.default.fileExists(atPath: path) {
                log = try EventLog(directory: path, options: .readOnly)
            }
        }
        return log
    }

    func close() { log?.close() }
}

/// One file's line in the table or the JSON report.
private struct FileReport: Encodable {
    let file: String
    var subject: String?
    var rowsRead = 0
    var appended = 0
    var duplicates = 0
    var dividendRows = 0
    var splitRows = 0
    var noDataRows = 0
    var repeatedRows = 0
    var blankRows = 0
    var rejected = 0
    var rejections: [Rejection] = []
    var firstDate: String?
    var lastDate: String?
    var error: String?

    struct Rejection: Encodable {
        let line: Int
        let reason: String
    }

    init(file: String, error: String?) {
        self.file = file
        self.error = error
    }

    init(_ result: DailyBarCSVImport, appended: Int, duplicates: Int) {
        file = result.file
        subject = result.subject
        rowsRead = result.rowsRead
        self.appended = appended
        self.duplicates = duplicates
        dividendRows = result.dividendRows
        splitRows = result.splitRows
        noDataRows = result.noDataRows
        repeatedRows = result.repeatedRows
        blankRows = result.blankRows
        rejected = result.rejections.count
        rejections = result.rejections.map { Rejection(line: $0.line, reason: $0.reason) }
        firstDate = result.bars.first?.bar.date.description
        lastDate = result.bars.last?.bar.date.description
    }

    mutating func add(_ other: FileReport) {
        rowsRead += other.rowsRead
        appended += other.appended
        duplicates += other.duplicates
        dividendRows += other.dividendRows
        splitRows += other.splitRows
        noDataRows += other.noDataRows
        rejected += other.rejected
        if let date = other.firstDate, firstDate.map({ date < $0 }) ?? true { firstDate = date }
        if let date = other.lastDate, lastDate.map({ date > $0 }) ?? true { lastDate = date }
    }

    var tableRow: [String] {
        [file, subject ?? "", "\(rowsRead)", "\(appended)", "\(duplicates)", "\(dividendRows)", "\(splitRows)", "\(noDataRows)",
         "\(rejected)", firstDate ?? "-", lastDate ?? "-"]
    }
}

private struct JSONReport: Encodable {
    let type: String
    let source: String
    let dryRun: Bool
    let files: [FileReport]
}

/// Reports a usage problem and yields exit status 2.
private func usageError(_ message: String) -> ExitCode {
    printError("error: \(message)")
    return ExitCode(2)
}
