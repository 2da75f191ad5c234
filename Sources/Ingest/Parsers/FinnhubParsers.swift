import Events

/// Finnhub `/company-news?symbol=…` → `news.article` per item (subject = canonical URL).
/// `publishedAt` is `datetime` (epoch seconds). Finnhub lists the related tickers (`related`,
/// comma separated) without scores; each becomes a `TickerSentiment` with relevance `1`
/// (related by the source) and no sentiment. `{"error": …}` bodies are source errors.
public struct FinnhubCompanyNewsParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        try FinnhubErrors.check(root, context)
        var collector = EventCollector(context, eventSource: "finnhub")
        let items: [JSONNode]
        do throws(FieldError) {
            items = try root.array()
        } catch {
            throw error.parseError(context)
        }
        for item in items {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let url = try NewsURL.canonical(item.member("url"))
                let published = try item.member("datetime").epochSeconds()
                var tickers: [TickerSentiment] = []
                var related = try item.optionalMember("related")?.optionalText()?.split(separator: ",").map { $0.trimmingCharacters() } ?? []
                if related.isEmpty, let subject = context.subject { related = [subject] }
                for ticker in related where !ticker.isEmpty {
                    tickers.append(TickerSentiment(ticker: ticker, relevance: "1"))
                }
                let article = NewsArticle(
                    url: url, title: try item.member("headline").text(),
                    summary: try item.optionalMember("summary")?.optionalText(),
                    source: try item.optionalMember("source")?.optionalText() ?? "unknown",
                    publishedAt: published,
                    category: try item.optionalMember("category")?.optionalText(),
                    imageUrl: try item.optionalMember("image")?.optionalText(),
                    tickers: tickers)
                try c.add(article, subject: url, occurredAt: published, path: item.path)
            }
        }
        return collector.result
    }
}

/// A Finnhub trade WebSocket message `{"type":"trade","data":[{"s","p","v","t","c"}]}` →
/// `trade` per print (subject = symbol, `occurredAt` = `t` in milliseconds). `ping` messages
/// yield nothing; `{"type":"error","msg":…}` is a source error. A body of several messages, one
/// per line (a recorded stream), is read line by line.
public struct FinnhubTradeMessageParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        try ResponseBody.refuseNonData(body, context)
        var collector = EventCollector(context, eventSource: "finnhub")
        do {
            try parseMessage(JSONNode(JSONValue.parse(body)), into: &collector)
        } catch let error as JSONParseError where error.code == .trailingData {
            var lineNumber = 0
            for line in body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                lineNumber += 1
                guard line.contains(where: { !ResponseBody.isSpace($0) }) else { continue }
                let message: JSONValue
                do {
                    message = try JSONValue.parse(line)
                } catch {
                    throw ParseError(.malformedJSON, context, location: "line \(lineNumber) byte \(error.offset)", "\(error.code): \(error.detail)")
                }
                try parseMessage(JSONNode(message, path: "line \(lineNumber) $"), into: &collector)
            }
        } catch let error as JSONParseError {
            throw ResponseBody.malformed(error, body, context)
        } catch let error as ParseError {
            throw error
        } catch {
            throw ParseError(.malformedJSON, context, "\(error)")
        }
        return collector.result
    }

    private func parseMessage(_ message: JSONNode, into collector: inout EventCollector) throws(ParseError) {
        let context = collector.context
        do throws(FieldError) {
            let type = try message.member("type").text()
            switch type {
            case "ping":
                return
            case "error":
                let text = try message.optionalMember("msg")?.optionalText() ?? "no message"
                throw FieldError(code: .sourceError, path: message.path + ".msg", detail: "Finnhub reported an error: \(excerpt(text, limit: 200))")
            case "trade":
                break
            default:
                throw FieldError(code: .invalidValue, path: message.path + ".type", detail: "unexpected message type \"\(excerpt(type))\"")
            }
            for print in try message.member("data").array() {
                collector.each { (c: inout EventCollector) throws(FieldError) in
                    let timestamp = try print.member("t").integer()
                    guard Timestamp.range.contains(timestamp), timestamp >= 0 else { throw print.invalid("t = \(timestamp) ms is not a time") }
                    var conditions: [String] = []
                    for condition in try print.optionalMember("c")?.array() ?? [] {
                        switch condition.value {
                        case .string(let text): conditions.append(text)
                        case .number: conditions.append(try condition.decimal().text)
                        case .null, .bool, .array, .object: throw condition.wrongType("a condition code")
                        }
                    }
                    let trade = Trade(price: try print.member("p").decimal(), size: try print.member("v").decimal(), timestampMs: timestamp, conditions: conditions)
                    try c.add(trade, subject: try print.member("s").text(), occurredAt: Timestamp(millisecondsSinceEpoch: timestamp), path: print.path)
                }
            }
        } catch {
            throw error.parseError(context)
        }
    }
}

/// Finnhub's error body: `{"error": "You don't have access to this resource."}`.
enum FinnhubErrors {
    static func check(_ root: JSONNode, _ context: ParseContext) throws(ParseError) {
        guard let message = root.optionalMember("error") else { return }
        let text = message.value.stringValue ?? message.value.description
        throw ParseError(.sourceError, context, location: "$.error", "Finnhub reported an error: \"\(excerpt(text, limit: 200))\"")
    }
}

extension Substring {
    func trimmingCharacters() -> String { String(self).trimmingASCIIWhitespace() }
}
