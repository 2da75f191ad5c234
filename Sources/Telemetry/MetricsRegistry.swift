import Synchronization

/// The metrics one process exposes, rendered in the Prometheus text exposition format
/// 0.0.4. Registration takes a lock and validates names; the returned `Counter` and
/// `Gauge` handles are then updated lock-free from any thread.
///
/// Names are fixed in code, so a bad one is a programming error: an invalid metric or label
/// name, reusing a name with another type or help text, or registering a computed gauge
/// where a plain one exists stops the process with a precondition failure (check dynamic
/// names first with `isValidMetricName(_:)` and `isValidLabelName(_:)`).
public final class MetricsRegistry: Sendable {
    private enum Kind: String {
        case counter, gauge
    }

    private enum Series: Sendable {
        case counter(Counter)
        case gauge(Gauge)
        case computed(@Sendable () -> Double)
    }

    private struct Label: Hashable, Comparable, Sendable {
        let name: String
        let value: String

        static func < (a: Label, b: Label) -> Bool { (a.name, a.value) < (b.name, b.value) }
    }

    private struct Family: Sendable {
        let kind: Kind
        let help: String
        var series: [[Label]: Series] = [:]
    }

    private let families = Mutex<[String: Family]>([:])

    public init() {}

    /// The counter `name` with `labels`, created at zero on first use; later calls with the
    /// same name and labels return the same handle.
    @discardableResult
    public func counter(_ name: String, help: String, labels: [String: String] = [:]) -> Counter {
        let existing = register(name, help: help, kind: .counter, labels: labels) { .counter(Counter()) }
        guard case .counter(let counter) = existing else { preconditionFailure("metric \(name) is not a counter") }
        return counter
    }

    /// The gauge `name` with `labels`, created at zero on first use; later calls with the
    /// same name and labels return the same handle.
    @discardableResult
    public func gauge(_ name: String, help: String, labels: [String: String] = [:]) -> Gauge {
        let existing = register(name, help: help, kind: .gauge, labels: labels) { .gauge(Gauge()) }
        guard case .gauge(let gauge) = existing else { preconditionFailure("metric \(name)\(labels) is computed, not a settable gauge") }
        return gauge
    }

    /// A gauge whose value `value` computes at each scrape, for derived values such as lag
    /// (head minus checkpoint). The closure runs on the scraping thread, outside the
    /// registry's lock; registering again with the same name and labels replaces it.
    public func computedGauge(_ name: String, help: String, labels: [String: String] = [:], value: @escaping @Sendable () -> Double) {
        let key = Self.validated(name, help: help, labels: labels)
        families.withLock { families in
            var family = Self.family(name, help: help, kind: .gauge, in: families)
            if case .gauge = family.series[key] { preconditionFailure("metric \(name)\(labels) is a settable gauge, not computed") }
            family.series[key] = .computed(value)
            families[name] = family
        }
    }

    /// Every metric in the text exposition format 0.0.4: families sorted by name, each
    /// with `# HELP` and `# TYPE`, its series sorted by label names and values.
    public func render() -> String {
        let snapshot = families.withLock { $0 }.sorted { $0.key < $1.key }
        var text = ""
        for (name, family) in snapshot {
            text += "# HELP \(name) \(Self.escape(family.help, quotes: false))\n"
            text += "# TYPE \(name) \(family.kind.rawValue)\n"
            for (labels, series) in family.series.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                text += name
                if !labels.isEmpty {
                    text += "{" + labels.map { "\($0.name)=\"\(Self.escape($0.value, quotes: true))\"" }.joined(separator: ",") + "}"
                }
                switch series {
                case .counter(let counter): text += " \(counter.value)\n"
                case .gauge(let gauge): text += " \(Self.format(gauge.value))\n"
                case .computed(let value): text += " \(Self.format(value()))\n"
                }
            }
        }
        return text
    }

    /// Whether `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    public static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isLetter(first) || first == UInt8(ascii: "_") || first == UInt8(ascii: ":") else { return false }
        return name.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":") }
    }

    /// Whether `name` matches `[a-zA-Z_][a-zA-Z0-9_]*` and does not start with the
    /// reserved `__`.
    public static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isLetter(first) || first == UInt8(ascii: "_"), !name.hasPrefix("__") else { return false }
        return name.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    private func register(_ name: String, help: String, kind: Kind, labels: [String: String], make: () -> Series) -> Series {
        let key = Self.validated(name, help: help, labels: labels)
        return families.withLock { families in
            var family = Self.family(name, help: help, kind: kind, in: families)
            if let existing = family.series[key] { return existing }
            let created = make()
            family.series[key] = created
            families[name] = family
            return created
        }
    }

    private static func validated(_ name: String, help: String, labels: [String: String]) -> [Label] {
        precondition(isValidMetricName(name), "invalid metric name \"\(name)\": must match [a-zA-Z_:][a-zA-Z0-9_:]*")
        for label in labels.keys {
            precondition(isValidLabelName(label), "invalid label name \"\(label)\" on \(name): must match [a-zA-Z_][a-zA-Z0-9_]* without a leading __")
        }
        return labels.map { Label(name: $0.key, value: $0.value) }.sorted()
    }

    private static func family(_ name: String, help: String, kind: Kind, in families: [String: Family]) -> Family {
        guard let family = families[name] else { return Family(kind: kind, help: help) }
        precondition(family.kind == kind, "metric \(name) is already registered as a \(family.kind.rawValue)")
        precondition(family.help == help, "metric \(name) is already registered with other help text")
        return family
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    /// Integral values print without a fraction; infinities and NaN as Prometheus spells them.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// HELP text escapes backslash and newline; label values also escape double quotes.
    private static func escape(_ text: String, quotes: Bool) -> String {
        text.escaping { scalar in
            switch scalar {
            case "\\": return "\\\\"
            case "\n": return "\\n"
            case "\"" where quotes: return "\\\""
            default: return nil
            }
        }
    }
}

extension String {
    /// The text with every scalar that `replacement` maps replaced by what it returns.
    func escaping(_ replacement: (Unicode.Scalar) -> String?) -> String {
        var escaped = ""
        for scalar in unicodeScalars {
            if let text = replacement(scalar) { escaped += text } else { escaped.unicodeScalars.append(scalar) }
        }
        return escaped
    }
}
