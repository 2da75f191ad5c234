import CLibPQ

/// The rows and status of one executed statement, in libpq's text format.
///
/// `@unchecked Sendable`: a `PGresult` is never modified after libpq creates it and libpq
/// documents it as safe to read from any thread; this class only reads it and frees it once.
public final class PostgresResult: @unchecked Sendable {
    private let result: OpaquePointer

    /// Number of rows returned (0 for statements that return none).
    public let rowCount: Int
    /// Column names, in order.
    public let columns: [String]

    init(_ result: OpaquePointer) {
        self.result = result
        rowCount = Int(PQntuples(result))
        columns = (0..<PQnfields(result)).map { String(cString: PQfname(result, $0)) }
    }

    deinit { PQclear(result) }

    /// The command tag the server sent, e.g. `INSERT 0 3`, `COPY 100`, `COMMIT`.
    public var commandTag: String { String(cString: PQcmdStatus(result)) }

    /// Rows inserted, updated, deleted, copied, ... by the statement (`PQcmdTuples`); 0 when
    /// the statement does not report a count.
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(result))) ?? 0 }

    /// The text value at `row`, `column`; `nil` for SQL NULL.
    public func value(_ row: Int, _ column: Int) -> String? {
        precondition(row >= 0 && row < rowCount, "row \(row) out of range 0..<\(rowCount)")
        precondition(column >= 0 && column < columns.count, "column \(column) out of range 0..<\(columns.count)")
        if PQgetisnull(result, Int32(row), Int32(column)) == 1 { return nil }
        return String(cString: PQgetvalue(result, Int32(row), Int32(column)))
    }

    /// The text value at `row` in the column called `name`; `nil` for SQL NULL.
    public func value(_ row: Int, _ name: String) -> String? {
        guard let column = columns.firstIndex(of: name) else {
            preconditionFailure("no column \(name) in \(columns)")
        }
        return value(row, column)
    }

    /// All rows as arrays of text values, for small results and tests.
    public var rows: [[String?]] {
        (0..<rowCount).map { row in (0..<columns.count).map { value(row, $0) } }
    }
}
