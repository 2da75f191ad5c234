import Foundation

/// Where a setting's value came from, so errors can say which knob to turn.
enum SettingOrigin: CustomStringConvertible {
    case flag(String), environment(String), configFile(String), defaultValue

    var description: String {
        switch self {
        case .flag(let name): return "flag \(name)"
        case .environment(let name): return "environment variable \(name)"
        case .configFile(let path): return "configuration file \(path)"
        case .defaultValue: return "default"
        }
    }
}

/// A resolved setting: flag, then environment, then configuration file, then default.
struct Setting: CustomStringConvertible {
    let value: String
    let origin: SettingOrigin
    var description: String { "\(value) (from \(origin))" }
}

/// The configuration file: a JSON object with optional keys `log`, `kafka`, `pg`, `redis`,
/// `topicPrefix`. Found at `--config`, `TICKFOLD_CONFIG`, or `./tickfold.json` when present.
struct ConfigurationFile {
    let path: String?
    let values: [String: String]

    static func load(explicitPath: String?) throws -> ConfigurationFile {
        let environment = ProcessInfo.processInfo.environment
        let path = explicitPath ?? environment["TICKFOLD_CONFIG"]
            ?? (FileManager.default.fileExists(atPath: "tickfold.json") ? "tickfold.json" : nil)
        guard let path else { return ConfigurationFile(path: nil, values: [:]) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read configuration file \(path)")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw CLIError("configuration file \(path) is not valid JSON: \(error.localizedDescription)")
        }
        guard let dictionary = object as? [String: Any] else {
            throw CLIError("configuration file \(path) must hold a JSON object")
        }
        var values: [String: String] = [:]
        for (key, value) in dictionary {
            switch value {
            case let string as String: values[key] = string
            case let number as NSNumber: values[key] = number.stringValue
            default: break  // nested sections belong to other components (ingest plans)
            }
        }
        return ConfigurationFile(path: path, values: values)
    }

    func resolve(flag: String?, flagName: String, environment name: String, key: String, default fallback: String) -> Setting {
        if let flag { return Setting(value: flag, origin: .flag(flagName)) }
        if let value = ProcessInfo.processInfo.environment[name], !value.isEmpty {
            return Setting(value: value, origin: .environment(name))
        }
        if let value = values[key], let path { return Setting(value: value, origin: .configFile(path)) }
        return Setting(value: fallback, origin: .defaultValue)
    }
}

/// An error the CLI reports as one line and exit status 2 (1 is reserved for "found a
/// difference / inconsistency" answers).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
