import Events
import Foundation

/// The figures one benchmark run measured, printed as aligned text or as one JSON object.
///
/// Keys are stable `snake_case` names (the issues name the ones tooling reads); figures keep
/// the order they were recorded in so the text report reads like the run did.
struct BenchReport {
    struct Figure {
        let key: String
        let value: Double
        let unit: String
        let note: String
    }

    let name: String
    private(set) var figures: [Figure] = []
    private(set) var context: [(String, String)] = []

    init(name: String) { self.name = name }

    /// Records a measured figure; `note` says how it was measured (batch size, sync mode…).
    mutating func record(_ key: String, _ value: Double, unit: String, note: String = "") {
        figures.append(Figure(key: key, value: value, unit: unit, note: note))
    }

    /// Records a fact about the run that is not a figure (event count, broker, build).
    mutating func describe(_ key: String, _ value: String) {
        context.append((key, value))
    }

    /// The value recorded under `key`, if any.
    func value(_ key: String) -> Double? { figures.first { $0.key == key }?.value }

    /// Text for a terminal: context lines, then one figure per line.
    func text() -> String {
        var lines = ["bench \(name)"]
        for (key, value) in context { lines.append("  \(key): \(value)") }
        let width = figures.map(\.key.count).max() ?? 0
        for figure in figures {
            let padded = figure.key.padding(toLength: width, withPad: " ", startingAt: 0)
            let note = figure.note.isEmpty ? "" : "  (\(figure.note))"
            lines.append("  \(padded)  \(Self.format(figure.value)) \(figure.unit)\(note)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One canonical JSON object: every figure under its key, plus `"bench"` and `"context"`.
    /// A figure that is not finite (a failed measurement) is `null`.
    func json() throws -> String {
        var object = JSONObject()
        object["bench"] = .string(name)
        var contextObject = JSONObject()
        for (key, value) in context { contextObject[key] = .string(value) }
        object["context"] = .object(contextObject)
        for figure in figures { object[figure.key] = figure.value.isFinite ? .number(figure.value) : .null }
        return String(decoding: try CanonicalJSON.encode(.object(object)), as: UTF8.self) + "\n"
    }

    private static func format(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.3f", value)
    }
}
