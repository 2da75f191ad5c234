import Events

/// FRED `/fred/series/observations?series_id=…&file_type=json` → `macro.observation` per
/// observation (subject = series id, `occurredAt` = observation date at 00:00Z). The body does
/// not name its series: the context's subject (or `series_id` parameter) does. FRED's missing
/// marker `"."` is kept as the value, never dropped or invented. `{"error_code", "error_message"}`
/// bodies are source errors.
public struct FREDObservationsParser: ResponseParser {
    public init() {}

    public func parse(_ body: [UInt8], context: ParseContext) throws(ParseError) -> ParseResult {
        let root = try ResponseBody.json(body, context)
        if let message = root.optionalMember("error_message") {
            let code = root.optionalMember("error_code").map { $0.value.description } ?? "?"
            throw ParseError(.sourceError, context, location: "$.error_message",
                             "FRED reported error \(code): \"\(excerpt(message.value.stringValue ?? message.value.description, limit: 200))\"")
        }
        let seriesId: String
        if let parameter = context.parameter("series_id") {
            seriesId = parameter
        } else {
            seriesId = try context.requiredSubject("series id")
        }
        var collector = EventCollector(context, eventSource: "fred")
        let observations: [JSONNode]
        do throws(FieldError) {
            observations = try root.member("observations").array()
        } catch {
            throw error.parseError(context)
        }
        for observation in observations {
            collector.each { (c: inout EventCollector) throws(FieldError) in
                let date = try observation.member("date").date()
                let valueNode = try observation.member("value")
                var value = try valueNode.string().trimmingASCIIWhitespace()
                if value != MacroObservation.missing {
                    guard let plain = PlainDecimal.normalize(value) else { throw valueNode.invalid("expected a number or \".\", found \"\(excerpt(value))\"") }
                    value = plain
                }
                try c.add(MacroObservation(seriesId: seriesId, date: date, value: value), subject: seriesId, occurredAt: date.startOfDay, path: observation.path)
            }
        }
        return collector.result
    }
}
