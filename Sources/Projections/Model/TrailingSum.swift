/// A running total kept beside a projected table: per subject, the sum of `value` over the
/// subject's rows whose `time` lies within `span` before its latest `time` (the "24 h volume
/// up to the last trade"). Summing a subject's window afresh for every batch costs the whole
/// window (for real trade streams, millions of rows a day); kept as state, a batch costs its
/// own rows plus the rows that leave the window.
///
/// The state table (in the migrations) has the columns `subject text PRIMARY KEY`,
/// `last_time bigint`, `total numeric`. The sink updates it in the transaction that merges
/// the table's rows, from the rows' effect under the merge's rule (a higher `seq` replaces):
/// with L and c = L − span the latest time and window start before the batch, L′ and c′ after,
///
///     total′ = total − Σ stored values with time in (c, c′] + Σ changes with time in (c′, L′]
///
/// where a change is the new value minus the replaced one. Numeric arithmetic is exact, so
/// the total equals a fresh sum of the window whatever order rows arrived in; readers print
/// it with `trim_scale`, since a running total keeps the scale of values that left the window.
/// A rebuild (bulk load, a middle replay's copied rows) recomputes the state from the table.
public struct TrailingSum: Sendable, Hashable {
    public let stateTable: String
    /// Indexes into the table's `TableSchema.columns`: the subject (text) and the time
    /// (bigint), which together are the table's key (so a row never changes its time), and
    /// the summed value (numeric).
    public let subjectColumn: Int
    public let timeColumn: Int
    public let valueColumn: Int
    /// The window's length in `time` units; rows with time > latest − span count.
    public let span: Int64

    public init(stateTable: String, subjectColumn: Int, timeColumn: Int, valueColumn: Int, span: Int64) {
        precondition(span > 0, "\(stateTable): a trailing window needs a positive span")
        self.stateTable = stateTable
        self.subjectColumn = subjectColumn
        self.timeColumn = timeColumn
        self.valueColumn = valueColumn
        self.span = span
    }
}
