import Events

/// Steps every parser shares: refusing empty bodies and HTML pages, parsing JSON with the
/// project's strict parser, and collecting events and per-item issues.
enum ResponseBody {
    /// The body as a JSON document, or a precise `ParseError` (empty, HTML page, malformed).
    static func json(_ body: [UInt8], _ context: ParseContext) throws(ParseError) -> JSONNode {
        try refuseNonData(body, context)
        do {
            return JSONNode(try JSONValue.parse(body))
        } catch {
            throw malformed(error, body, context)
        }
    }

    /// Throws for an empty (or all-whitespace) body and for an HTML page, which proxies and
    /// rate limiters send with status 200 surprisingly often.
    static func refuseNonData(_ body: [UInt8], _ context: ParseContext) throws(ParseError) {
        var start = 0
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        while start < body.count, isSpace(body[start]) { start += 1 }
        guard start < body.count else { throw ParseError(.emptyBody, context, "the response body is empty") }
        if body[start] == UInt8(ascii: "<") {
            let text = HTMLText.plainText(String(decoding: body.prefix(4096), as: UTF8.self))
                .split(whereSeparator: { $0 == "\n" || $0 == " " || $0 == "\t" }).joined(separator: " ")
            let shown = text.isEmpty ? "no text" : "\"\(excerpt(text, limit: 120))\""
            throw ParseError(.htmlPage, context, "expected data, found an HTML page (\(body.count) bytes): \(shown)")
        }
    }

    static func malformed(_ error: JSONParseError, _ body: [UInt8], _ context: ParseContext) -> ParseError {
        var line = 1
        for byte in body.prefix(error.offset) where byte == UInt8(ascii: "\n") { line += 1 }
        var detail = "\(error.code): \(error.detail)"
        if error.code == .unexpectedEnd { detail += " (the body is truncated after \(body.count) bytes)" }
        return ParseError(.malformedJSON, context, location: "byte \(error.offset) (line \(line))", detail)
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
}

/// Collects the events of one response; per-item failures become issues.
struct EventCollector {
    let context: ParseContext
    /// The envelope `source` (`yahoo`, `alphavantage` …, SPEC §1.1).
    let eventSource: String
    var result = ParseResult()

    init(_ context: ParseContext, eventSource: String) {
        self.context = context
        self.eventSource = eventSource
    }

    /// Validates `payload`, wraps it in an envelope and keeps it; a payload or envelope problem
    /// is reported against `path`.
    mutating func add<P: EventPayload>(_ payload: P, subject: String, occurredAt: Timestamp, path: String) throws(FieldError) {
        do {
            let event = try Event.make(
                payload, source: eventSource, subject: subject, occurredAt: occurredAt, observedAt: context.observedAt,
                provenance: Provenance(request: context.requestFingerprint))
            result.events.append(event)
        } catch let error as PayloadError {
            throw FieldError(code: .invalidValue, path: path, detail: "\(P.type) " + error.description)
        } catch let error as EventError {
            throw FieldError(code: .invalidValue, path: path, detail: error.description)
        } catch {
            throw FieldError(code: .invalidValue, path: path, detail: "\(error)")
        }
    }

    mutating func issue(_ error: FieldError) {
        result.issues.append(error.issue())
    }

    mutating func issue(_ location: String, _ detail: String) {
        result.issues.append(ParseIssue(location: location, detail: detail))
    }

    /// Runs `item`, turning a `FieldError` into an issue so the other items still count.
    mutating func each(_ item: (inout EventCollector) throws(FieldError) -> Void) {
        do {
            try item(&self)
        } catch {
            issue(error)
        }
    }
}

extension ParseContext {
    /// The `asOf` date at 00:00Z, for snapshot data that states no time of its own.
    func snapshotTime(_ what: String) throws(ParseError) -> Timestamp {
        guard let asOf else {
            throw ParseError(.missingContext, self, "\(what) states no date of its own; the request context must give asOf")
        }
        return asOf.startOfDay
    }

    /// `subject`, or a `missingContext` error saying what it should have been.
    func requiredSubject(_ what: String) throws(ParseError) -> String {
        guard let subject = subject?.trimmingASCIIWhitespace(), !subject.isEmpty else {
            throw ParseError(.missingContext, self, "the body does not name the \(what); the request context must give it as subject")
        }
        return subject
    }
}

extension LocalDate {
    /// Midnight UTC of this date, the `occurredAt` of date-stamped data.
    public var startOfDay: Timestamp { Timestamp(millisecondsSinceEpoch: daysSinceEpoch * 86_400_000) }

    /// The UTC date of an instant.
    init(utcDateOf time: Timestamp) {
        let ms = time.millisecondsSinceEpoch
        self.init(daysSinceEpoch: ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000)
    }
}
