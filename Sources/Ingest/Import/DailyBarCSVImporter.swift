import Crypto
import Events

/// Turns a daily price CSV, as people download them (Yahoo, yfinance, Nasdaq, investing.com,
/// Alpha Vantage, spreadsheets), into `bar.daily` v2 events for backfills.
///
/// Reading rules:
/// - Columns are found by header name, in any order, case-insensitively, ignoring spaces,
///   punctuation and a BOM: `Date`/`timestamp`, `Open`, `High`, `Low`, `Close`
///   (`Close/Last`, `Price`), `Adj Close` (`AdjClose`, `adj_close`, `adjusted_close`),
///   `Volume` (`Vol.`). `Adj Close` is optional; other columns are ignored.
/// - Numbers and dates follow `CSVFieldParsing`: prices become decimal strings exactly as
///   written, volumes whole numbers, dates `LocalDate`.
/// - Skipped and counted, never rejected: blank rows, Yahoo dividend and split rows
///   (`2024-02-09,0.24 Dividend`), rows whose four prices are all missing (`null`).
/// - Rejected with a reason: a syntax error, a wrong field count, an unreadable date or number,
///   a missing price or volume, a negative price, high below low, and a date that appears twice
///   with different values (every such row: which one is right cannot be known). A date
///   repeated with identical values is one bar.
/// - The bars are sorted by date, so a newest-first file gives the same events in the same
///   order as an oldest-first one.
///
/// Events: `bar.daily` v2, `source` as configured (default `csv`: the file's true origin is
/// unknown to the importer; pass `yahoo` when it is known), `subject` the ticker,
/// `occurredAt` the bar's date at 00:00:00.000Z (a CSV carries no session time; the date is
/// the natural key), `observedAt` as the caller passes it (the importer reads no clock), and
/// provenance `file:<basename>:<sha256 of the bytes>`. None of the last three is in the id,
/// so re-importing a file (even renamed, or re-sorted) yields the same ids.
public struct DailyBarCSVImporter: Sendable {
    /// The event types this importer writes, for CLI help and errors.
    public static let supportedTypes = [DailyBar.type]
    /// The default `source` of imported events.
    public static let defaultSource = "csv"

    public let source: String

    /// An importer labelling events with `source`: lowercase letters, digits, `_` and `-`,
    /// starting with a letter (as `yahoo`, `alphavantage`).
    public init(source: String = DailyBarCSVImporter.defaultSource) throws(CSVImportError) {
        let valid = source.utf8.count <= 64 && source.utf8.first.map { $0 &- UInt8(ascii: "a") < 26 } == true
            && source.utf8.allSatisfy { $0 &- UInt8(ascii: "a") < 26 || $0 &- UInt8(ascii: "0") < 10 || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
        guard valid else {
            throw CSVImportError(code: .configuration, file: "", detail: "source \"\(source)\" must be a lowercase name like yahoo or csv")
        }
        self.source = source
    }

    /// The ticker a file name stands for: the base name without a `.csv`/`.txt` extension,
    /// uppercased (`data/spy.csv` → `SPY`, `BRK-B.csv` → `BRK-B`, `^GSPC.csv` → `^GSPC`).
    /// Nil unless that is 1–20 characters of letters, digits, `.`, `-`, `=`, `^` starting with a
    /// letter, digit or `^`: names like `HistoricalData_1708.csv` or `macro_cache.csv` say no
    /// ticker, and guessing one would file bars under the wrong subject.
    public static func subject(fromFileName path: String) -> String? {
        let base = baseName(path)
        var stem = Substring(base)
        if let dot = stem.lastIndex(of: "."), ["csv", "txt"].contains(stem[stem.index(after: dot)...].lowercased()) {
            stem = stem[..<dot]
        }
        guard let first = stem.utf8.first, stem.utf8.count <= 20,
              isTickerByte(first) && first != UInt8(ascii: ".") && first != UInt8(ascii: "-") && first != UInt8(ascii: "="),
              stem.utf8.allSatisfy(isTickerByte)
        else { return nil }
        return stem.uppercased()
    }

    private static func isTickerByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "="), UInt8(ascii: "^"):
            return true
        default:
            return false
        }
    }

    static func baseName(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
    }

    /// Reads one file's bytes. `file` is how reports name it (the path given by the user);
    /// `subject` overrides the ticker derived from the file name; `observedAt` is stamped on
    /// every event as provenance. Rows are rejected individually; the whole file fails only
    /// when it has no usable header, is not UTF-8, or has no subject.
    public func importFile(bytes: [UInt8], file: String, subject: String? = nil, observedAt: Timestamp? = nil) throws(CSVImportError) -> DailyBarCSVImport {
        guard let subject = subject ?? Self.subject(fromFileName: file) else {
            throw CSVImportError(
                code: .subject, file: file,
                detail: "cannot derive a ticker from the file name \"\(Self.baseName(file))\" (expected TICKER.csv); pass --subject")
        }
        guard !CSVReader.startsWithUTF16BOM(bytes) else {
            throw CSVImportError(code: .encoding, file: file, detail: "the file is UTF-16 text; save it as UTF-8 CSV")
        }
        var reader = CSVReader(bytes: bytes)
        let header = try readHeader(&reader, file: file)
        var rows = RowCollector(file: file, header: header)
        while true {
            let record: CSVRecord
            do throws(CSVSyntaxError) {
                guard let next = try reader.next() else { break }
                record = next
            } catch {
                rows.reject(line: error.line, error.detail)
                continue
            }
            rows.add(record)
        }
        let accepted = rows.finish()
        let fileSHA256 = SHA256.hash(data: bytes).map { byte in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
        }.joined()
        let provenance = Provenance(request: "file:\(Self.baseName(file)):\(fileSHA256)")
        var events: [Event] = []
        events.reserveCapacity(accepted.count)
        for row in accepted {
            do {
                events.append(try Event.make(
                    row.bar, source: source, subject: subject,
                    occurredAt: Timestamp(millisecondsSinceEpoch: row.bar.date.daysSinceEpoch * 86_400_000),
                    observedAt: observedAt, provenance: provenance))
            } catch {
                throw CSVImportError(code: .event, file: file, detail: "line \(row.line): \(error)")
            }
        }
        return DailyBarCSVImport(
            file: file, subject: subject, fileSHA256: fileSHA256, bars: accepted, events: events,
            rowsRead: rows.rowsRead, repeatedRows: rows.repeatedRows, dividendRows: rows.dividendRows, splitRows: rows.splitRows,
            noDataRows: rows.noDataRows, blankRows: rows.blankRows, rejections: rows.rejections)
    }

    private func readHeader(_ reader: inout CSVReader, file: String) throws(CSVImportError) -> ColumnMap {
        while true {
            let record: CSVRecord?
            do throws(CSVSyntaxError) { record = try reader.next() } catch {
                throw CSVImportError(code: .noHeader, file: file, detail: "header \(error)")
            }
            guard let record else { throw CSVImportError(code: .noHeader, file: file, detail: "no header row (the file is empty)") }
            if record.isBlank { continue }
            return try ColumnMap(header: record, file: file)
        }
    }
}

/// The positions of the columns the importer reads.
struct ColumnMap {
    enum Column: Int, CaseIterable {
        case date, open, high, low, close, adjClose, volume

        var name: String {
            switch self {
            case .date: return "Date"
            case .open: return "Open"
            case .high: return "High"
            case .low: return "Low"
            case .close: return "Close"
            case .adjClose: return "Adj Close"
            case .volume: return "Volume"
            }
        }

        /// The column a header name means, compared on its lowercase letters only.
        init?(header: String) {
            let key = String(decoding: header.lowercased().utf8.filter { $0 &- UInt8(ascii: "a") < 26 }, as: UTF8.self)
            switch key {
            case "date", "timestamp": self = .date
            case "open": self = .open
            case "high": self = .high
            case "low": self = .low
            case "close", "closelast", "price": self = .close
            case "adjclose", "adjustedclose": self = .adjClose
            case "volume", "vol": self = .volume
            default: return nil
            }
        }
    }

    /// Field index of each column; -1 when absent (only `adjClose` may be).
    private(set) var index = [Int](repeating: -1, count: Column.allCases.count)
    /// Fields in the header row; data rows may not carry non-empty fields beyond it.
    let fieldCount: Int
    /// Fields a data row needs to reach every mapped column.
    var requiredFieldCount: Int { (index.max() ?? -1) + 1 }

    init(header: CSVRecord, file: String) throws(CSVImportError) {
        fieldCount = header.fields.count
        for (position, name) in header.fields.enumerated() {
            guard let column = Column(header: name) else { continue }
            guard index[column.rawValue] < 0 else {
                throw CSVImportError(
                    code: .columns, file: file,
                    detail: "line \(header.line): columns \(index[column.rawValue] + 1) and \(position + 1) both read as \(column.name)")
            }
            index[column.rawValue] = position
        }
        let missing = Column.allCases.filter { $0 != .adjClose && index[$0.rawValue] < 0 }
        guard missing.isEmpty else {
            let found = header.fields.map { "\"\($0)\"" }.joined(separator: ", ")
            throw CSVImportError(
                code: .columns, file: file,
                detail: "not a daily bar file: no \(missing.map(\.name).joined(separator: ", ")) column (header line \(header.line) has \(found))")
        }
    }

    subscript(column: Column) -> Int? {
        let position = index[column.rawValue]
        return position >= 0 ? position : nil
    }
}

/// Sorts the data rows of one file into buckets and keeps the accepted bars.
private struct RowCollector {
    let file: String
    let header: ColumnMap
    var rowsRead = 0
    var repeatedRows = 0
    var dividendRows = 0
    var splitRows = 0
    var noDataRows = 0
    var blankRows = 0
    var rejections: [CSVRowRejection] = []
    private var rows: [DailyBarRow] = []

    init(file: String, header: ColumnMap) {
        self.file = file
        self.header = header
    }

    mutating func reject(line: Int, _ reason: String) {
        rowsRead += 1
        rejections.append(CSVRowRejection(file: file, line: line, reason: reason))
    }

    mutating func add(_ record: CSVRecord) {
        if record.isBlank {
            blankRows += 1
            return
        }
        rowsRead += 1
        switch parse(record) {
        case .success(let bar?):
            rows.append(DailyBarRow(line: record.line, bar: bar))
        case .success(nil):
            noDataRows += 1
        case .failure(let error):
            // Only a row that is not a bar can be a corporate action (`2024-02-09,0.24 Dividend`).
            let lowered = record.fields.map { $0.lowercased() }
            if lowered.contains(where: { $0.contains("dividend") }) {
                dividendRows += 1
            } else if lowered.contains(where: { $0.contains("split") }) {
                splitRows += 1
            } else {
                rejections.append(CSVRowRejection(file: file, line: record.line, reason: error.reason))
            }
        }
    }

    /// The bar in `record`; nil when the row has no prices at all.
    private func parse(_ record: CSVRecord) -> Result<DailyBar?, CSVFieldError> {
        let fields = record.fields
        if fields.count < header.requiredFieldCount || fields.dropFirst(header.fieldCount).contains(where: { !$0.isEmpty }) {
            return .failure(CSVFieldError("expected \(header.fieldCount) fields like the header, found \(fields.count)"))
        }
        func field(_ column: ColumnMap.Column) -> Substring? {
            header[column].map { Substring(fields[$0]).trimmingSpaces }
        }
        let date: LocalDate
        switch CSVFieldParsing.date(field(.date)!) {
        case .success(let value): date = value
        case .failure(let error): return .failure(error)
        }
        let priceColumns: [ColumnMap.Column] = [.open, .high, .low, .close]
        let priceTexts = priceColumns.map { field($0)! }
        if priceTexts.allSatisfy(CSVFieldParsing.isMissing) { return .success(nil) }
        var prices: [String] = []
        for (column, text) in zip(priceColumns, priceTexts) {
            switch price(text, column) {
            case .success(let value): prices.append(value)
            case .failure(let error): return .failure(error)
            }
        }
        var adjClose: DecimalString?
        if let text = field(.adjClose), !CSVFieldParsing.isMissing(text) {
            switch price(text, .adjClose) {
            case .success(let value): adjClose = DecimalString(value)
            case .failure(let error): return .failure(error)
            }
        }
        let volumeText = field(.volume)!
        guard !CSVFieldParsing.isMissing(volumeText) else { return .failure(CSVFieldError("volume is missing")) }
        let volume: Int
        switch CSVFieldParsing.volume(volumeText) {
        case .success(let value): volume = value
        case .failure(let error): return .failure(error)
        }
        if CSVFieldParsing.isLess(prices[1], than: prices[2]) {
            return .failure(CSVFieldError("high \(prices[1]) is below low \(prices[2])"))
        }
        // `price` returned valid plain decimals, so these initializers cannot fail.
        return .success(DailyBar(
            date: date, open: DecimalString(prices[0])!, high: DecimalString(prices[1])!, low: DecimalString(prices[2])!,
            close: DecimalString(prices[3])!, adjClose: adjClose, volume: volume))
    }

    private func price(_ text: Substring, _ column: ColumnMap.Column) -> Result<String, CSVFieldError> {
        guard !CSVFieldParsing.isMissing(text) else { return .failure(CSVFieldError("\(column.name) is missing")) }
        switch CSVFieldParsing.decimal(text) {
        case .success(let value):
            guard !value.hasPrefix("-") else { return .failure(CSVFieldError("\(column.name) \(value) is negative")) }
            return .success(value)
        case .failure(let error):
            return .failure(CSVFieldError("\(column.name) \(error.reason)"))
        }
    }

    /// The accepted bars by date; settles repeated dates (identical: one bar; different: all
    /// rejected) and orders the rejections by line.
    mutating func finish() -> [DailyBarRow] {
        var byDate: [LocalDate: [DailyBarRow]] = [:]
        for row in rows { byDate[row.bar.date, default: []].append(row) }
        var accepted: [DailyBarRow] = []
        accepted.reserveCapacity(byDate.count)
        for (date, group) in byDate {
            let first = group.min { $0.line < $1.line }!
            if group.allSatisfy({ $0.bar == first.bar }) {
                accepted.append(first)
                repeatedRows += group.count - 1
            } else {
                let lines = group.map(\.line).sorted()
                for row in group {
                    rejections.append(CSVRowRejection(
                        file: file, line: row.line,
                        reason: "date \(date) appears with different values on lines \(lines.map(String.init).joined(separator: ", "))"))
                }
            }
        }
        accepted.sort { $0.bar.date < $1.bar.date }
        rejections.sort { $0.line < $1.line }
        return accepted
    }
}
