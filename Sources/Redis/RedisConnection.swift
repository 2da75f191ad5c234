import CHiredis
import Foundation

/// A blocking connection to Redis through hiredis, for single commands and deep pipelines.
/// After an I/O error (server restart, `CLIENT KILL`, timeout) the failing call throws
/// `connectionLost` and the next call reconnects, repeating AUTH and SELECT. Commands are
/// never retried: the caller decides whether resending is safe. The first connection sets
/// SIGPIPE to ignored for the process: hiredis writes with `write(2)`, and a closed socket
/// must become an error, not a dead process.
///
/// `@unchecked Sendable`: the hiredis context is only touched under `lock`, one call
/// (command or whole pipeline) at a time.
public final class RedisConnection: @unchecked Sendable {
    private let lock = NSLock()
    private let context: RedisContext

    /// The server this connection talks to (credentials left out of its description).
    public let url: RedisURL

    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`); `timeout` bounds the
    /// connect and every read or write afterwards; `clientName` (CLIENT SETNAME, no spaces)
    /// makes the connection recognisable in `CLIENT LIST`.
    public convenience init(url: String, timeout: Duration = .seconds(5), clientName: String? = nil) throws {
        try self.init(try RedisURL(url), timeout: timeout, clientName: clientName)
    }

    /// Connects to `url`; `timeout` bounds the connect and every read or write afterwards;
    /// `clientName` is set with CLIENT SETNAME on every (re)connect.
    public init(_ url: RedisURL, timeout: Duration = .seconds(5), clientName: String? = nil) throws {
        self.url = url
        context = try RedisContext(url: url, timeout: timeout, clientName: clientName)
    }

    /// The hiredis library version this module was built against, e.g. `0.14.1`.
    public static var hiredisVersion: String { "\(HIREDIS_MAJOR).\(HIREDIS_MINOR).\(HIREDIS_PATCH)" }

    /// Sends one command, e.g. `command("SET", key, bytes)`, and returns its reply. An error
    /// reply is thrown as `serverError`.
    @discardableResult
    public func command(_ arguments: any RedisArgument...) throws -> RedisReply {
        try command(arguments)
    }

    /// Sends one command given as an argument list and returns its reply. An error reply is
    /// thrown as `serverError`.
    @discardableResult
    public func command(_ arguments: [any RedisArgument]) throws -> RedisReply {
        let reply = try locked { try context.roundTrip(arguments, operation: "command") }
        if case .error(let message) = reply {
            throw RedisError(.serverError, operation: "command", message: message)
        }
        return reply
    }

    /// Sends all `commands` at once and then reads their replies, in order: one round trip
    /// for the batch. Error replies come back as `.error` values in their slots and do not
    /// disturb the others; only I/O errors throw.
    public func pipeline(_ commands: [[any RedisArgument]]) throws -> [RedisReply] {
        try locked {
            for command in commands { try context.append(command, operation: "pipeline") }
            var replies: [RedisReply] = []
            replies.reserveCapacity(commands.count)
            for _ in commands { replies.append(try context.readReply(operation: "pipeline")) }
            return replies
        }
    }

    /// The server's version from `INFO server`, e.g. `7.0.15`.
    public func serverVersion() throws -> String {
        let info = try command("INFO", "server").string ?? ""
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("redis_version:") {
            return String(line.dropFirst("redis_version:".count))
        }
        throw RedisError(.protocolError, operation: "serverVersion", message: "INFO server has no redis_version line")
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
