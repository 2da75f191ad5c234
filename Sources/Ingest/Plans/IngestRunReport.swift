/// What one `ingest run` did, per plan and source: what the CLI prints and tests check.
public struct IngestRunReport: Sendable, Codable, Equatable {
    /// Counts of one plan's requests to one source.
    public struct Row: Sendable, Codable, Equatable {
        public let plan: String
        public let source: String
        /// Requests sent (a stopped source's skipped requests are not counted).
        public var requests = 0
        /// Responses that parsed (with or without events).
        public var parsed = 0
        /// Events appended to the log (their `ingest.rejected` and `ingest.cursor` events included).
        public var appended = 0
        public var duplicates = 0
        /// Responses quarantined: malformed payloads and permanent HTTP errors.
        public var rejected = 0
        /// Requests not made or refused because the source is rate limited; retried next run.
        public var stopped = 0
        /// Requests that failed for now (transport, server errors after retries, missing keys).
        public var failed = 0
        /// Items of otherwise good responses that were refused one by one.
        public var issues = 0

        public init(plan: String, source: String) {
            self.plan = plan
            self.source = source
        }
    }

    public var asOf: String
    public var rows: [Row] = []
    /// Human notes: cursors, steps not scheduled today, errors.
    public var notes: [String] = []

    public init(asOf: String) { self.asOf = asOf }

    /// True when requests were due and none of them gave a usable response: the only case in
    /// which `ingest run` exits non-zero.
    public var everythingFailed: Bool {
        let attempted = rows.reduce(0) { $0 + $1.parsed + $1.rejected + $1.stopped + $1.failed }
        return attempted > 0 && rows.allSatisfy { $0.parsed == 0 }
    }

    /// The totals over `rows`.
    public var total: Row {
        rows.reduce(into: Row(plan: "total", source: "")) { sum, row in
            sum.requests += row.requests
            sum.parsed += row.parsed
            sum.appended += row.appended
            sum.duplicates += row.duplicates
            sum.rejected += row.rejected
            sum.stopped += row.stopped
            sum.failed += row.failed
            sum.issues += row.issues
        }
    }

    mutating func update(plan: String, source: String, _ change: (inout Row) -> Void) {
        if let index = rows.firstIndex(where: { $0.plan == plan && $0.source == source }) {
            change(&rows[index])
        } else {
            var row = Row(plan: plan, source: source)
            change(&row)
            rows.append(row)
        }
    }
}
