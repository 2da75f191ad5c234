import Events

/// The S&P 500 constituents list as the widely mirrored Wikipedia-derived CSV
/// (`datasets/s-and-p-500-companies` `constituents.csv`):
///
/// ```
/// Symbol,Security,GICS Sector,GICS Sub-Industry,Headquarters Location,Date added,CIK,Founded
/// MMM,3M,Industrials,Industrial Conglomerates,"Saint Paul, Minnesota",1957-03-04,0000066740,1902
/// ```
///
/// → `index.constituent` per row (index `sp500`, subject = symbol as listed, e.g. `BRK.B`).
/// Only `Symbol` and `Security` (or the older `Name`) are required; `Sector` is accepted for
/// `GICS Sector`; other columns are optional and matched case-insensitively. A `Date added`
/// that is not a date (Wikipedia footnotes) is omitted with an issue; the row still counts.
/// The list states no date: `occurredAt` is the request's `asOf` at 00:00Z (required).
public struct SP500ConstituentsParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        try ResponseBody.refuseNonData(body, context)
        let occurredAt = try context.snapshotTime("the constituents list")
        let table: CSVTable
        do {
            table = try CSVTable(body)
        } catch {
            throw ParseError(.malformedCSV, context, location: "line \(error.line)", error.detail)
        }
        guard let symbolColumn = table.column("Symbol", "Ticker"), let nameColumn = table.column("Security", "Name", "Company") else {
            throw ParseError(.malformedCSV, context, location: "line 1",
                             "the header needs Symbol and Security columns (found: \(excerpt(table.header.joined(separator: ","), limit: 120)))")
        }
        let sector = table.column("GICS Sector", "Sector")
        let subIndustry = table.column("GICS Sub-Industry", "Sub-Industry")
        let headquarters = table.column("Headquarters Location", "Headquarters")
        let dateAdded = table.column("Date added", "Date first added")
        let cik = table.column("CIK")
        let founded = table.column("Founded")
        var collector = EventCollector(context, eventSource: "wikipedia")
        for record in table.records {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let location = "line \(record.line)"
                guard record.fields.count == table.header.count else {
                    throw FieldError(code: .invalidValue, path: location, detail: "expected \(table.header.count) fields, found \(record.fields.count)")
                }
                func field(_ column: Int?) -> String? {
                    guard let column else { return nil }
                    let value = record.fields[column].trimmingASCIIWhitespace()
                    return value.isEmpty ? nil : value
                }
                guard let symbol = field(symbolColumn) else { throw FieldError(code: .missingField, path: location + " Symbol", detail: "is empty") }
                guard let name = field(nameColumn) else { throw FieldError(code: .missingField, path: location + " Security", detail: "is empty") }
                var added: LocalDate? = nil
                if let text = field(dateAdded) {
                    do throws(FieldError) {
                        added = try CalendarDate.parse(String(text.prefix(10)), location: location + " Date added")
                    } catch {
                        c.issue(location + " Date added", "\(error.detail); the field is omitted")
                    }
                }
                let constituent = IndexConstituent(
                    index: "sp500", symbol: symbol, name: name, sector: field(sector), subIndustry: field(subIndustry),
                    headquarters: field(headquarters), dateAdded: added, cik: field(cik), founded: field(founded))
                try c.add(constituent, subject: symbol, occurredAt: occurredAt, path: location)
            }
        }
        return collector.result
    }
}
