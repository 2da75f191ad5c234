/// `stage.decision` v1: what a stage decided at a watermark (source `tickfold`, subject = stage
/// name), so a replay reads the decision instead of re-deciding.
public struct StageDecision: EventPayload {
    public static let type = "stage.decision"
    public static let version = 1

    /// `benchmark_bars`, `sector_bars`, `trending_etfs`, `trending_holdings`, `allocation`, …
    public var stage: String
    /// The market date the decision is for.
    public var asOf: LocalDate
    /// The log `seq` up to which projected state was read.
    public var watermark: Int64
    /// What was decided (`trending`, `collect`, `allocate`, …).
    public var decision: String
    /// The decision's details, stage-specific; numbers that matter are decimal strings.
    public var details: JSONValue

    public init(stage: String, asOf: LocalDate, watermark: Int64, decision: String, details: JSONValue = .object(JSONObject())) {
        self.stage = stage
        self.asOf = asOf
        self.watermark = watermark
        self.decision = decision
        self.details = details
    }

    public func validate() throws(PayloadError) {
        try requireText(stage, "stage")
        try requireNonNegative(Int(watermark), "watermark")
        guard case .object = details else { throw PayloadError(path: "details", detail: "expected an object, found \(details.kindDescription)") }
    }
}

/// `ingest.cursor` v1: how far a progressive collection got (subject = `source/plan`), so a
/// restart — or a replay — resumes exactly there.
public struct IngestCursor: EventPayload {
    public static let type = "ingest.cursor"
    public static let version = 1

    public var source: String
    public var plan: String
    /// Index of the next key to fetch in the plan's key list.
    public var position: Int
    public var total: Int?
    /// The last key fetched, for humans.
    public var lastKey: String?

    public init(source: String, plan: String, position: Int, total: Int? = nil, lastKey: String? = nil) {
        self.source = source
        self.plan = plan
        self.position = position
        self.total = total
        self.lastKey = lastKey
    }

    public func validate() throws(PayloadError) {
        try requireText(source, "source")
        try requireText(plan, "plan")
        try requireNonNegative(position, "position")
    }
}

/// `ingest.rejected` v1: a response that could not be parsed, kept for inspection (subject =
/// source). The body itself lives in the quarantine under its hash.
public struct IngestRejected: EventPayload {
    public static let type = "ingest.rejected"
    public static let version = 1

    public var source: String
    /// Fingerprint of the request (no secrets).
    public var request: String
    public var error: String
    /// Lowercase hex SHA-256 of the response body.
    public var bodySha256: String
    public var bodySize: Int?
    public var httpStatus: Int?

    public init(source: String, request: String, error: String, bodySha256: String, bodySize: Int? = nil, httpStatus: Int? = nil) {
        self.source = source
        self.request = request
        self.error = error
        self.bodySha256 = bodySha256
        self.bodySize = bodySize
        self.httpStatus = httpStatus
    }

    public func validate() throws(PayloadError) {
        try requireText(source, "source")
        guard bodySha256.utf8.count == 64, bodySha256.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw PayloadError(path: "bodySha256", detail: "expected 64 lowercase hex digits")
        }
    }
}
