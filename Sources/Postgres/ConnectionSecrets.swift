import CLibPQ
import Foundation

/// The password text a connection string carries, in every spelling it may take there, so
/// that no error message (ours or libpq's) ever repeats it.
struct ConnectionSecrets: Sendable {
    private let secrets: [String]

    init(conninfo: String) {
        var found: [String] = []
        var errorMessage: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(conninfo, &errorMessage) {
            var option = options
            while let keyword = option.pointee.keyword {
                if String(cString: keyword) == "password", let value = option.pointee.val {
                    found.append(String(cString: value))
                }
                option += 1
            }
            PQconninfoFree(options)
        }
        if let errorMessage { PQfreemem(errorMessage) }
        found += Self.rawPasswords(in: conninfo)
        secrets = found.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    /// The password as written in the string: between `user:` and `@` in a URI, or the value
    /// of `password=` in key/value form. Used even when libpq cannot parse the string.
    private static func rawPasswords(in conninfo: String) -> [String] {
        var passwords: [String] = []
        if let scheme = conninfo.range(of: "://") {
            let rest = conninfo[scheme.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            if let at = authority.lastIndex(of: "@") {
                let userInfo = authority[..<at]
                if let colon = userInfo.firstIndex(of: ":") {
                    let raw = String(userInfo[userInfo.index(after: colon)...])
                    passwords.append(raw)
                    if let decoded = raw.removingPercentEncoding { passwords.append(decoded) }
                }
            }
            if let query = rest.firstIndex(of: "?") {
                for pair in rest[rest.index(after: query)...].split(separator: "&") where pair.hasPrefix("password=") {
                    let raw = String(pair.dropFirst("password=".count))
                    passwords.append(raw)
                    if let decoded = raw.removingPercentEncoding { passwords.append(decoded) }
                }
            }
        } else {
            var rest = Substring(conninfo)
            while let key = rest.range(of: "password") {
                let afterKey = rest[key.upperBound...].drop { $0 == " " }
                guard afterKey.first == "=" else { rest = rest[key.upperBound...]; continue }
                let value = afterKey.dropFirst().drop { $0 == " " }
                if value.first == "'" {
                    passwords.append(String(value.dropFirst().prefix { $0 != "'" }))
                } else {
                    passwords.append(String(value.prefix { $0 != " " }))
                }
                rest = value
            }
        }
        return passwords
    }

    /// `message` with every occurrence of the password replaced by `********`.
    func redact(_ message: String) -> String {
        secrets.reduce(message) { $0.replacingOccurrences(of: $1, with: "********") }
    }
}
