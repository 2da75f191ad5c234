import Events

/// A data row the importer refused, reported as `FILE:LINE: reason`.
public struct CSVRowRejection: Sendable, Equatable, CustomStringConvertible {
    /// The file as the caller named it (the path given on the command line).
    public let file: String
    /// The 1-based physical line the row starts on.
    public let line: Int
    public let reason: String

    public init(file: String, line: Int, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String { "\(file):\(line): \(reason)" }
}

/// Why a whole file could not be imported (as opposed to single rows).
public struct CSVImportError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        /// No header row (empty or blank file).
        public static let noHeader = Code(name: "no header")
        /// A required column is absent or named twice.
        public static let columns = Code(name: "unusable columns")
        /// The bytes are not UTF-8 text (UTF-16 exports, binary files).
        public static let encoding = Code(name: "unsupported encoding")
        /// No subject was given and none can be derived from the file name.
        public static let subject = Code(name: "no subject")
        /// The importer was configured wrongly (an invalid source name).
        public static let configuration = Code(name: "bad configuration")
        /// An accepted row could not be turned into an event.
        public static let event = Code(name: "event not buildable")
    }

    public let code: Code
    /// The file as the caller named it.
    public let file: String
    public let detail: String

    public init(code: Code, file: String, detail: String) {
        self.code = code
        self.file = file
        self.detail = detail
    }

    public var description: String { file.isEmpty ? detail : "\(file): \(detail)" }
}

/// What importing one daily-bar CSV produced and skipped.
///
/// Every non-blank data row lands in exactly one bucket:
/// `rowsRead == bars.count + repeatedRows + dividendRows + splitRows + noDataRows + rejections.count`.
public struct DailyBarCSVImport: Sendable {
    /// The file as the caller named it.
    public let file: String
    /// The ticker the events are about.
    public let subject: String
    /// Lowercase hex SHA-256 of the file's bytes, recorded in provenance.
    public let fileSHA256: String
    /// The accepted bars, ascending by date, each with the line it came from.
    public let bars: [DailyBarRow]
    /// One `bar.daily` v2 event per accepted bar, in the same order.
    public let events: [Event]
    /// Data rows read (the header and blank rows excluded).
    public let rowsRead: Int
    /// Rows repeating an earlier row of the file exactly (same date, same values): one event.
    public let repeatedRows: Int
    /// Yahoo corporate-action rows such as `2024-02-09,0.24 Dividend`.
    public let dividendRows: Int
    /// Yahoo corporate-action rows such as `2020-08-31,4:1 Stock Split`.
    public let splitRows: Int
    /// Rows whose prices are all missing (`null`, empty, `-`): days without trading.
    public let noDataRows: Int
    /// Blank rows (empty lines, `,,,,,`), ignored wherever they are.
    public let blankRows: Int
    /// Rows refused, in file order.
    public let rejections: [CSVRowRejection]
}

/// An accepted bar and the line it came from.
public struct DailyBarRow: Sendable, Equatable {
    public let line: Int
    public let bar: DailyBar
}
