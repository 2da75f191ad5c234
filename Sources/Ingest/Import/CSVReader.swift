/// One CSV record: its fields, unquoted, and the 1-based line it starts on.
public struct CSVRecord: Sendable, Equatable {
    /// The physical line (counting every line break, including those inside quoted fields)
    /// where the record begins, so reports can say `FILE:LINE`.
    public let line: Int
    public let fields: [String]

    public init(line: Int, fields: [String]) {
        self.line = line
        self.fields = fields
    }

    /// True when every field is empty or whitespace: blank lines and the `,,,,,` rows
    /// spreadsheets leave at the end of an export.
    public var isBlank: Bool {
        fields.allSatisfy { field in field.utf8.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") } }
    }
}

/// A record that breaks CSV syntax; the reader has already moved past it.
public struct CSVSyntaxError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The line the broken record starts on.
    public let line: Int
    public let detail: String

    public init(line: Int, detail: String) {
        self.line = line
        self.detail = detail
    }

    public var description: String { "line \(line): \(detail)" }
}

/// A hand-written RFC 4180 reader over raw bytes: quoted fields (with delimiters, line breaks
/// and `""` escapes inside), CRLF, LF or lone-CR line ends, and a leading UTF-8 byte order mark.
///
/// It is lenient where real exports are sloppy and strict where guessing would corrupt data:
/// a quote inside an unquoted field is kept literally, but text after a closing quote or an
/// unterminated quote is an error for that record. Fields are not trimmed (RFC 4180 says spaces
/// are data); callers decide. A final line break does not produce an extra empty record.
public struct CSVReader: Sendable {
    private let bytes: [UInt8]
    private let delimiter: UInt8
    private var index: Int
    private var line = 1
    private var field: [UInt8] = []

    /// Reads `bytes`, skipping a UTF-8 byte order mark.
    public init(bytes: [UInt8], delimiter: UInt8 = UInt8(ascii: ",")) {
        self.bytes = bytes
        self.delimiter = delimiter
        index = bytes.starts(with: CSVReader.utf8BOM) ? CSVReader.utf8BOM.count : 0
    }

    static let utf8BOM: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// True when the bytes start with a UTF-16 byte order mark (spreadsheets' "Unicode text"),
    /// which this reader does not decode.
    public static func startsWithUTF16BOM(_ bytes: [UInt8]) -> Bool {
        bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF])
    }

    /// The next record, nil at the end of input. A thrown `CSVSyntaxError` concerns one record
    /// only: the reader has skipped past it (to the end of its line, or of the input for an
    /// unterminated quote), so calling `next()` again continues with the following record.
    public mutating func next() throws(CSVSyntaxError) -> CSVRecord? {
        guard index < bytes.count else { return nil }
        let startLine = line
        var fields: [String] = []
        while true {
            let fieldLine = line
            field.removeAll(keepingCapacity: true)
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                index += 1
                try readQuoted(recordLine: startLine, fieldLine: fieldLine)
            } else {
                while index < bytes.count {
                    let b = bytes[index]
                    if b == delimiter || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") { break }
                    field.append(b)
                    index += 1
                }
            }
            fields.append(try decodedField(recordLine: startLine, fieldNumber: fields.count + 1))
            if index >= bytes.count { return CSVRecord(line: startLine, fields: fields) }
            let b = bytes[index]
            if b == delimiter {
                index += 1
                continue
            }
            consumeLineBreak()
            return CSVRecord(line: startLine, fields: fields)
        }
    }

    /// Reads a quoted field's content after its opening quote, through the closing quote.
    private mutating func readQuoted(recordLine: Int, fieldLine: Int) throws(CSVSyntaxError) {
        while index < bytes.count {
            let b = bytes[index]
            index += 1
            switch b {
            case UInt8(ascii: "\""):
                if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                    field.append(b)
                    index += 1
                    continue
                }
                guard index < bytes.count else { return }
                let after = bytes[index]
                if after == delimiter || after == UInt8(ascii: "\n") || after == UInt8(ascii: "\r") { return }
                skipRestOfLine()
                throw CSVSyntaxError(line: recordLine, detail: "unexpected text after a closing quote (a quote inside a quoted field must be doubled)")
            case UInt8(ascii: "\n"):
                line += 1
                field.append(b)
            case UInt8(ascii: "\r"):
                if index >= bytes.count || bytes[index] != UInt8(ascii: "\n") { line += 1 }
                field.append(b)
            default:
                field.append(b)
            }
        }
        throw CSVSyntaxError(line: recordLine, detail: "quoted field opened on line \(fieldLine) is never closed")
    }

    private mutating func decodedField(recordLine: Int, fieldNumber: Int) throws(CSVSyntaxError) -> String {
        guard let text = String(validating: field, as: UTF8.self) else {
            skipRestOfLine()
            throw CSVSyntaxError(line: recordLine, detail: "field \(fieldNumber) is not valid UTF-8")
        }
        return text
    }

    /// Consumes one line break (CRLF, LF or CR) at `index`.
    private mutating func consumeLineBreak() {
        if bytes[index] == UInt8(ascii: "\r") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "\n") { index += 1 }
        } else {
            index += 1
        }
        line += 1
    }

    /// Moves past the current physical line, ignoring quotes (resynchronisation after an error).
    private mutating func skipRestOfLine() {
        while index < bytes.count, bytes[index] != UInt8(ascii: "\n"), bytes[index] != UInt8(ascii: "\r") { index += 1 }
        if index < bytes.count { consumeLineBreak() }
    }
}
