import Foundation
import Ingest
import Synchronization

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

/// The configuration file (`ConfigurationDocument`: its keys `log`, `kafka`, `pg`, `redis`,
/// `topicPrefix` are read here). Found at `--config`, `TICKFOLD_CONFIG`, or `./tickfold.json`
/// when present.
struct ConfigurationFile {
    let path: String?
    let document: ConfigurationDocument?

    static func load(explicitPath: String?) throws -> ConfigurationFile {
        let environment = ProcessInfo.processInfo.environment
        let path = explicitPath ?? environment["TICKFOLD_CONFIG"]
            ?? (FileManager.default.fileExists(atPath: "tickfold.json") ? "tickfold.json" : nil)
        guard let path else { return ConfigurationFile(path: nil, document: nil) }
        if let document = loaded.withLock({ $0[path] }) { return ConfigurationFile(path: path, document: document) }
        do {
            let document = try ConfigurationDocument.load(fromFile: path)
            loaded.withLock { $0[path] = document }
            return ConfigurationFile(path: path, document: document)
        } catch {
            throw CLIError(error.description)
        }
    }

    /// Files read by this process: every setting a command resolves (log, kafka, pg, redis,
    /// prefix) asks for the file, which is read and parsed once.
    private static let loaded = Mutex<[String: ConfigurationDocument]>([:])

    /// The section at top-level `key` decoded strictly, or nil when absent (or no file).
    func section<T: Decodable>(_ key: String, as type: T.Type) throws -> T? {
        do {
            return try document?.section(key, as: type)
        } catch {
            throw CLIError(error.description)
        }
    }

    func resolve(flag: String?, flagName: String, environment name: String, key: String, default fallback: String) -> Setting {
        if let flag { return Setting(value: flag, origin: .flag(flagName)) }
        if let value = ProcessInfo.processInfo.environment[name], !value.isEmpty {
            return Setting(value: value, origin: .environment(name))
        }
        if let value = document?.string(key), let path { return Setting(value: value, origin: .configFile(path)) }
        return Setting(value: fallback, origin: .defaultValue)
    }
}

/// An error the CLI reports as one line and exit status 2 (1 is reserved for "found a
/// difference / inconsistency" answers).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
