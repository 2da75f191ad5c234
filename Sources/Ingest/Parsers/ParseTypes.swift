import Events

/// What a parser knows about the request whose response it reads. Everything an event takes
/// from outside the body comes from here, never from the clock, so the same response parsed
/// twice yields the same event ids.
public struct ParseContext: Sendable {
    /// The source id as in `SourceDescriptor` (`yahoo_finance`), for error messages.
    public var source: String
    /// The endpoint name as in `EndpointCatalog` (`chart`, `NEWS_SENTIMENT`).
    public var endpoint: String
    /// What the request was about when the body does not say: ticker, FRED series id, fund,
    /// user id or handle, coin id, market.
    public var subject: String?
    /// The market date the request was for. Only snapshot data that states no time of its own
    /// (holdings, listings, profiles, constituents) takes its `occurredAt` from it.
    public var asOf: LocalDate?
    /// The request's query parameters (`interval`, `vs_currency`, `maturity` …). Credential
    /// parameters are dropped on the way in.
    public private(set) var parameters: [String: String]
    /// The request fingerprint recorded as provenance (no secrets), excluded from event ids.
    public var requestFingerprint: String
    /// When the response was fetched; becomes `observedAt`, excluded from event ids.
    public var observedAt: Timestamp?

    /// A context; credential parameters in `parameters` are dropped.
    public init(source: String, endpoint: String, subject: String? = nil, asOf: LocalDate? = nil,
                parameters: [String: String] = [:], requestFingerprint: String, observedAt: Timestamp? = nil) {
        self.source = source
        self.endpoint = endpoint
        self.subject = subject
        self.asOf = asOf
        self.parameters = parameters.filter { !Redactor.isCredentialParameter($0.key) }
        self.requestFingerprint = requestFingerprint
        self.observedAt = observedAt
    }

    /// A parameter value, trimmed; nil when absent or blank.
    public func parameter(_ name: String) -> String? {
        guard let value = parameters[name]?.trimmingASCIIWhitespace(), !value.isEmpty else { return nil }
        return value
    }
}

/// One item of an otherwise good response that could not become an event (or lost an optional
/// field); the other items still became events.
public struct ParseIssue: Sendable, Equatable, CustomStringConvertible {
    /// JSON path (`$.feed[3].time_published`) or CSV position (`line 12`).
    public let location: String
    public let detail: String

    public init(location: String, detail: String) {
        self.location = location
        self.detail = detail
    }

    public var description: String { "\(location): \(detail)" }
}

/// The events one response body yielded, and what was left out.
public struct ParseResult: Sendable {
    /// The events, in the order the body lists their data.
    public var events: [Event]
    /// Items refused one by one (the rest of the payload was fine).
    public var issues: [ParseIssue]
    /// Items the source itself marked empty and that were skipped on purpose, not invented:
    /// Yahoo's all-null chart entries (halted bars), NewsAPI's `[Removed]` articles.
    public var skipped: Int

    public init(events: [Event] = [], issues: [ParseIssue] = [], skipped: Int = 0) {
        self.events = events
        self.issues = issues
        self.skipped = skipped
    }
}

/// Why a whole response was refused. Names the source, endpoint and request fingerprint,
/// where in the body the problem is and what it is. Every text passes through a `Redactor`,
/// so a body that echoes a key or token does not leak it.
public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem; growable.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The body is empty.
        public static let emptyBody = Code("empty-body")
        /// The body is an HTML page (a proxy or error page) instead of data.
        public static let htmlPage = Code("html-page")
        /// The body is not valid JSON (truncated, garbled).
        public static let malformedJSON = Code("malformed-json")
        /// The body is not valid CSV for this endpoint (wrong header, broken quoting).
        public static let malformedCSV = Code("malformed-csv")
        /// The source answered with its own error or rate-limit note instead of data.
        public static let sourceError = Code("source-error")
        /// A field the whole payload depends on is absent.
        public static let missingField = Code("missing-field")
        /// A field has the wrong JSON type.
        public static let wrongType = Code("wrong-type")
        /// A field has the right type but an unusable value.
        public static let invalidValue = Code("invalid-value")
        /// The request context lacks what the body does not state (series id, asOf date …).
        public static let missingContext = Code("missing-context")
        /// No parser is registered for the source and endpoint.
        public static let unknownEndpoint = Code("unknown-endpoint")
    }

    public let code: Code
    public let source: String
    public let endpoint: String
    /// The request fingerprint.
    public let request: String
    /// JSON path, CSV line or byte offset; empty when the problem is the body as a whole.
    public let location: String
    public let detail: String

    public init(code: Code, source: String, endpoint: String, request: String, location: String = "", detail: String) {
        let redactor = Redactor()
        self.code = code
        self.source = source
        self.endpoint = endpoint
        self.request = redactor.redact(request)
        self.location = redactor.redact(location)
        self.detail = redactor.redact(detail)
    }

    init(_ code: Code, _ context: ParseContext, location: String = "", _ detail: String) {
        self.init(code: code, source: context.source, endpoint: context.endpoint, request: context.requestFingerprint,
                  location: location, detail: detail)
    }

    public var description: String {
        var text = "\(source) \(endpoint) response rejected (\(code)) for request \(request)"
        if !location.isEmpty { text += " at \(location)" }
        return text + ": " + detail
    }
}

/// Turns one response body into typed events. Implementations are pure: the result depends
/// only on `body` and `context`.
public protocol ResponseParser: Sendable {
    /// The events of `body`; throws when the payload as a whole is unusable.
    func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult
}

extension String {
    /// The text without leading and trailing ASCII spaces, tabs and line breaks.
    func trimmingASCIIWhitespace() -> String {
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
        guard let first = utf8.first, let last = utf8.last, isSpace(first) || isSpace(last) else { return self }
        guard let start = utf8.firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = utf8.lastIndex(where: { !isSpace($0) })!
        return String(decoding: utf8[start...end], as: UTF8.self)
    }
}
