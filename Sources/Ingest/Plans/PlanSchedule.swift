import Events
import Foundation

/// A day of the week, Monday first (ISO 8601).
public enum Weekday: Int, Sendable, CaseIterable, CustomStringConvertible {
    case monday, tuesday, wednesday, thursday, friday, saturday, sunday

    /// The weekday of `date` (1970-01-01 was a Thursday).
    public init(_ date: LocalDate) {
        let index = (date.daysSinceEpoch + 3) % 7
        self = Weekday(rawValue: Int(index < 0 ? index + 7 : index))!
    }

    /// `mon` … `sun` (case-insensitive; full English names accepted).
    public init?(name: String) {
        let prefix = name.lowercased().prefix(3)
        guard let day = Weekday.allCases.first(where: { $0.description == prefix }) else { return nil }
        self = day
    }

    public var description: String { ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][rawValue] }
}

/// When an item is due, as the seeds' X tiers say it: every day, every other day, twice or
/// once a week, weekdays, or named weekdays.
public enum Frequency: Sendable, Equatable {
    /// On these weekdays (`Weekday.rawValue`, Monday = 0).
    case days(Set<Int>)
    /// On even days since 1970-01-01.
    case everyOtherDay

    /// Parses `daily`, `weekdays`, `every_2_days`, `twice_weekly` (Mon, Thu), `weekly` (Mon)
    /// or a comma-separated list of weekdays; nil otherwise.
    public init?(_ text: String) {
        switch text.lowercased() {
        case "daily": self = .days(Set(0..<7))
        case "weekdays": self = .days(Set(0..<5))
        case "every_2_days": self = .everyOtherDay
        case "twice_weekly": self = .days([Weekday.monday.rawValue, Weekday.thursday.rawValue])
        case "weekly": self = .days([Weekday.monday.rawValue])
        default:
            let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let days = names.compactMap { Weekday(name: $0)?.rawValue }
            guard !names.isEmpty, days.count == names.count else { return nil }
            self = .days(Set(days))
        }
    }

    /// Whether an item with this frequency is collected on `date` (every other day counts
    /// from 1970-01-01, so it does not depend on when runs happen).
    public func isDue(on date: LocalDate) -> Bool {
        switch self {
        case .days(let days): return days.contains(Weekday(date).rawValue)
        case .everyOtherDay: return date.daysSinceEpoch % 2 == 0
        }
    }
}

/// One request a plan step makes for one item, with everything the parser needs.
public struct PlannedRequest: Sendable {
    /// The list item the request is for.
    public let item: PlanItem
    /// The request below the source's base URL, without credentials.
    public let request: SourceRequest
    /// The parse context's subject (the step's `subject` template, default `{symbol}`).
    public let subject: String?
    /// Query parameters as sent (no credentials), for the parse context.
    public let parameters: [String: String]
}

extension PlanStep {
    /// Whether the step runs on `date` at all (its `days`).
    public func runs(on date: LocalDate) -> Bool {
        guard let days, !days.isEmpty else { return true }
        let today = Weekday(date)
        return days.contains { Weekday(name: $0) == today }
    }

    /// The query parameter sets for `date`: `query` alone, or `query` merged with each
    /// set of the day's `queriesByDay` entry (falling back to `*`). A day without entries
    /// in a step that has `queriesByDay` makes no request.
    public func parameterSets(on date: LocalDate) -> [[String: String]] {
        let base = query ?? [:]
        guard let byDay = queriesByDay else { return [base] }
        let sets = byDay[Weekday(date).description] ?? byDay.first { Weekday(name: $0.key) == Weekday(date) }?.value ?? byDay["*"] ?? []
        return sets.map { base.merging($0) { $1 } }
    }

    /// The requests for `item` on `date`, one per parameter set; empty when the item is not
    /// due. Throws for a template naming a field the item does not have.
    public func requests(for item: PlanItem, on date: LocalDate) throws(IngestConfigurationError) -> [PlannedRequest] {
        if let frequency = item.frequency {
            guard let rule = Frequency(frequency) else { throw IngestConfigurationError("step \(name): frequency \(frequency) is not understood") }
            guard rule.isDue(on: date) else { return [] }
        }
        let path = try Template.expand(self.path, item: item, date: date, step: name)
        let subjectTemplate = subject ?? (item.fields["symbol"] != nil ? "{symbol}" : nil)
        let subject = try subjectTemplate.map { template throws(IngestConfigurationError) in try Template.expand(template, item: item, date: date, step: name) }
        var requests: [PlannedRequest] = []
        for set in parameterSets(on: date) {
            var parameters: [String: String] = [:]
            for (name, template) in set { parameters[name] = try Template.expand(template, item: item, date: date, step: self.name) }
            let query = parameters.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
            requests.append(PlannedRequest(item: item, request: SourceRequest(path: path, query: query), subject: subject, parameters: parameters))
        }
        return requests
    }
}

/// `{field}`, `{asOf}`, `{asOf-N}`, `{asOf+N}` substitution.
enum Template {
    static func expand(_ template: String, item: PlanItem, date: LocalDate, step: String) throws(IngestConfigurationError) -> String {
        guard template.contains("{") else { return template }
        var result = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            result += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                throw IngestConfigurationError("step \(step): unclosed { in \"\(template)\"")
            }
            let name = String(rest[rest.index(after: open)..<close])
            result += try value(of: name, item: item, date: date, step: step, template: template)
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    private static func value(of name: String, item: PlanItem, date: LocalDate, step: String, template: String) throws(IngestConfigurationError) -> String {
        if name == "asOf" { return date.description }
        if name.hasPrefix("asOf"), let offset = Int64(name.dropFirst(4).replacingOccurrences(of: "+", with: "")) {
            return LocalDate(daysSinceEpoch: date.daysSinceEpoch + offset).description
        }
        guard let value = item.fields[name] else {
            throw IngestConfigurationError("step \(step): \"\(template)\" names {\(name)}, which item \(item.key) does not have")
        }
        return value
    }
}
