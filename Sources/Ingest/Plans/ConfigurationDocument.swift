import Events
import Foundation

/// The JSON configuration file (`tickfold.json`), parsed once for every reader of it.
///
/// A syntax error names its line and column; a top-level key Tickfold does not read is refused
/// (a misspelt `"pgg"` must not leave `pg` at its default silently), as is a value of the wrong
/// kind. Keys starting with `$` (`"$comment"`) are free for notes. Each section is read by its
/// owner: `ingest` by `IngestConfiguration`, `endpoints` by `SourceEndpoints`, the rest by the CLI.
public struct ConfigurationDocument: Sendable {
    /// What each top-level key holds.
    public enum Kind: String, Sendable {
        case string, object
    }

    /// Every top-level key Tickfold reads.
    public static let knownKeys: [String: Kind] = [
        "log": .string, "kafka": .string, "pg": .string, "redis": .string, "topicPrefix": .string,
        "endpoints": .object, "ingest": .object, "auditTargets": .object,
    ]

    /// Where the document came from, as errors name it.
    public let origin: String
    public let root: JSONObject

    public static func load(fromFile path: String) throws(IngestConfigurationError) -> ConfigurationDocument {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IngestConfigurationError("cannot read configuration file \(path)")
        }
        return try parse([UInt8](data), origin: path)
    }

    public static func parse(_ bytes: [UInt8], origin: String) throws(IngestConfigurationError) -> ConfigurationDocument {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            let (line, column) = position(of: error.offset, in: bytes)
            throw IngestConfigurationError("configuration file \(origin):\(line):\(column): \(error.code): \(error.detail)")
        }
        guard case .object(let root) = value else {
            throw IngestConfigurationError("configuration file \(origin) must hold a JSON object, not \(value.kindDescription)")
        }
        for member in root.members where !member.key.hasPrefix("$") {
            guard let kind = knownKeys[member.key] else {
                let known = knownKeys.keys.sorted().joined(separator: ", ")
                throw IngestConfigurationError("configuration file \(origin): unknown key \"\(member.key)\"\(suggestion(for: member.key)) (known: \(known); keys starting with $ are notes)")
            }
            switch (kind, member.value) {
            case (.string, .string), (.object, .object): continue
            default:
                throw IngestConfigurationError("configuration file \(origin): \(member.key) must be a JSON \(kind.rawValue), not \(member.value.kindDescription)")
            }
        }
        return ConfigurationDocument(origin: origin, root: root)
    }

    /// The string at top-level `key` (its kind was checked), or nil.
    public func string(_ key: String) -> String? { root[key]?.stringValue }

    /// The section at top-level `key` decoded strictly as `T`: an unknown or mistyped member
    /// is an error naming its path from the top (`ingest.sources.fred.keysVariabel`).
    public func section<T: Decodable>(_ key: String, as type: T.Type) throws(IngestConfigurationError) -> T? {
        guard let value = root[key] else { return nil }
        do {
            return try value.decodeStrictly(as: type)
        } catch {
            let path = error.path.isEmpty ? key : "\(key).\(error.path)"
            throw IngestConfigurationError("configuration file \(origin): \(path): \(error.detail)")
        }
    }

    /// 1-based line and column (in bytes) of `offset`.
    static func position(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        let end = min(max(offset, 0), bytes.count)
        var line = 1
        var lineStart = 0
        for index in 0..<end where bytes[index] == UInt8(ascii: "\n") {
            line += 1
            lineStart = index + 1
        }
        return (line, end - lineStart + 1)
    }

    /// ` (did you mean "pg"?)` when a known key is one edit or a case change away.
    static func suggestion(for key: String) -> String {
        let limit = key.count <= 4 ? 1 : 2
        let close = knownKeys.keys.sorted().first { known in
            known.lowercased() == key.lowercased() || editDistance(Array(known.utf8), Array(key.utf8), atMost: limit) <= limit
        }
        return close.map { " (did you mean \"\($0)\"?)" } ?? ""
    }

    /// Levenshtein distance, stopping early once it exceeds `limit`.
    static func editDistance(_ a: [UInt8], _ b: [UInt8], atMost limit: Int) -> Int {
        guard abs(a.count - b.count) <= limit else { return limit + 1 }
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
