import Foundation

/// Reads API keys from the environment or from files named by the environment, never from
/// the configuration file (which gets copied, committed and pasted into issues).
///
/// For a variable `NAME` it reads `NAME` (one or more keys separated by commas or
/// whitespace) and the file at `NAME_FILE` (one key per line; blank lines and `#` comments
/// ignored). Both may be set; duplicates are dropped, order kept.
public struct SecretSource: Sendable {
    public let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The keys configured under `variable`; empty when neither form is set.
    public func keys(_ variable: String) throws -> [APIKey] {
        var values: [String] = []
        if let inline = environment[variable] {
            values += inline.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
        }
        if let path = environment["\(variable)_FILE"], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SecretError(variable: "\(variable)_FILE", message: "cannot read key file \(path)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw SecretError(variable: "\(variable)_FILE", message: "key file \(path) is not UTF-8 text")
            }
            for line in text.split(whereSeparator: \.isNewline) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                values.append(trimmed)
            }
        }
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }.map(APIKey.init)
    }
}

/// A key variable or key file that could not be used. Names the variable and the path,
/// never a key.
public struct SecretError: Error, CustomStringConvertible, Sendable {
    public let variable: String
    public let message: String
    public var description: String { "\(variable): \(message)" }
}
