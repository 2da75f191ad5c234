import Foundation

/// Where a Redis server listens: `redis://[user:password@]host[:port][/db]`, port 6379 and
/// database 0 by default. `description` leaves the credentials out.
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int
    public var username: String?
    public var password: String?

    public init(host: String, port: Int = 6379, database: Int = 0, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.username = username
        self.password = password
    }

    /// Parses a `redis://` URL; throws `invalidURL` naming the part that is wrong (never the
    /// password).
    public init(_ string: String) throws {
        func invalid(_ reason: String) -> RedisError {
            RedisError(.invalidURL, operation: "parseURL", message: reason)
        }
        guard string.hasPrefix("redis://") else {
            throw invalid("expected a URL starting with redis://")
        }
        var rest = Substring(string.dropFirst("redis://".count))
        guard !rest.contains("?"), !rest.contains("#") else {
            throw invalid("query parameters and fragments are not supported")
        }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        rest = rest[authorityEnd...]

        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                let user = userInfo[..<colon]
                username = user.isEmpty ? nil : user.removingPercentEncoding
                password = userInfo[userInfo.index(after: colon)...].removingPercentEncoding
                guard password != nil else { throw invalid("the password is not valid percent-encoding") }
            } else {
                username = userInfo.removingPercentEncoding
            }
        }

        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw invalid("unterminated IPv6 address in the host") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let afterHost = authority[authority.index(after: close)...]
            if !afterHost.isEmpty {
                guard afterHost.hasPrefix(":") else { throw invalid("unexpected \"\(afterHost)\" after the IPv6 host") }
                portText = afterHost.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw invalid("the host is empty") }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw invalid("port \"\(portText)\" is not a number from 1 to 65535")
            }
            self.port = port
        } else {
            port = 6379
        }

        let path = rest.drop { $0 == "/" }
        if path.isEmpty {
            database = 0
        } else {
            guard let database = Int(path), database >= 0 else {
                throw invalid("database \"\(path)\" is not a non-negative number")
            }
            self.database = database
        }
    }

    /// `host:port`, for messages.
    public var endpoint: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String { "redis://\(endpoint)/\(database)" }
}
