/// A CSV document (RFC 4180: comma separated, `"` quoting with `""` escapes, CRLF or LF line
/// ends, quoted fields may span lines) split into records, each with the line it starts on.
struct CSVTable {
    struct Record {
        /// 1-based line number where the record starts.
        let line: Int
        let fields: [String]
    }

    /// Why the text is not CSV.
    struct Malformed: Error {
        let line: Int
        let detail: String
    }

    let header: [String]
    let records: [Record]

    /// Parses `bytes`; blank lines are skipped. The first record is the header.
    init(_ bytes: [UInt8]) throws(Malformed) {
        var records: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var recordLine = 1
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var inQuotes = false
        var fieldWasQuoted = false

        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
        }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) { records.append(Record(line: recordLine, fields: fields)) }
            fields.removeAll(keepingCapacity: true)
        }

        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(b)
                        i += 2
                        continue
                    }
                    inQuotes = false
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
                i += 1
                continue
            }
            switch b {
            case UInt8(ascii: ","):
                endField()
            case UInt8(ascii: "\""):
                guard field.isEmpty, !fieldWasQuoted else {
                    throw Malformed(line: line, detail: "a quote inside an unquoted field")
                }
                inQuotes = true
                fieldWasQuoted = true
            case UInt8(ascii: "\r"):
                break
            case UInt8(ascii: "\n"):
                endRecord()
                line += 1
                recordLine = line
            default:
                guard !fieldWasQuoted else { throw Malformed(line: line, detail: "text after a closing quote") }
                field.append(b)
            }
            i += 1
        }
        guard !inQuotes else { throw Malformed(line: recordLine, detail: "a quoted field is not closed before the end of the body (truncated?)") }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { endRecord() }
        guard let first = records.first else { throw Malformed(line: 1, detail: "no header line") }
        header = first.fields.map { $0.trimmingASCIIWhitespace() }
        self.records = Array(records.dropFirst())
    }

    /// The index of the first header column named any of `names` (case-insensitive).
    func column(_ names: String...) -> Int? {
        let wanted = Set(names.map { $0.lowercased() })
        return header.firstIndex { wanted.contains($0.lowercased()) }
    }
}
