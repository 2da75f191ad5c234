import CLibPQ
import Foundation

/// One connection to PostgreSQL through libpq: bound-parameter queries, scripts,
/// transactions, COPY in both directions and pipelines. Every call blocks the calling
/// thread until the server answers, so async callers run it off the cooperative pool.
///
/// `@unchecked Sendable`: every use of the `PGconn` happens under `lock`, which is recursive
/// and held for the whole of a transaction, COPY or pipeline, so a second thread waits
/// instead of interleaving statements on the wire.
public final class PostgresConnection: @unchecked Sendable {
    let connection: OpaquePointer
    let lock = NSRecursiveLock()
    let secrets: ConnectionSecrets
    /// This session's named prepared statements by SQL (`pipeline`); guarded by `lock`.
    var preparedNames: [String: String] = [:]

    /// `host:port` of the server, for messages and logs.
    public let endpoint: String

    /// Connects with a libpq connection string, URI (`postgresql://user:pass@host:port/db`)
    /// or `key=value` form. Errors name `endpoint` and never contain the password.
    public init(_ conninfo: String) throws {
        secrets = ConnectionSecrets(conninfo: conninfo)
        // A malformed string is a setting to fix, not a server to wait for: libpq reports
        // both as a failed connection, so it is parsed first.
        var parseError: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(conninfo, &parseError) {
            PQconninfoFree(options)
        } else {
            let detail = parseError.map { Self.singleLine(String(cString: $0)) } ?? "libpq could not parse it"
            if let parseError { PQfreemem(parseError) }
            throw PostgresError(.invalidArgument, operation: "connect", message: secrets.redact("invalid connection string: \(detail)"))
        }
        guard let connection = PQconnectdb(conninfo) else {
            throw PostgresError(.connectionFailed, operation: "connect", message: "libpq could not allocate a connection")
        }
        endpoint = Self.endpoint(of: connection)
        guard PQstatus(connection) == CONNECTION_OK else {
            let error = Self.connectError(connection, endpoint: endpoint, secrets: secrets, operation: "connect")
            PQfinish(connection)
            throw error
        }
        // Notices (e.g. "table does not exist, skipping") are informational; libpq would
        // print them to stderr. Warnings that matter arrive as errors in results.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        self.connection = connection
    }

    deinit { PQfinish(connection) }

    /// libpq's version as an integer, e.g. `150020` for 15.20.
    public static var libraryVersion: Int { Int(PQlibVersion()) }

    /// The server's version as an integer, e.g. `150004` for 15.4.
    public var serverVersion: Int { withConnection { Int(PQserverVersion($0)) } }

    /// Whether the connection was usable after its last operation. A connection the server
    /// dropped reads as unhealthy once a call has failed with `connectionLost`.
    public var isHealthy: Bool { withConnection { PQstatus($0) == CONNECTION_OK } }

    /// Closes the connection and opens it again with the same settings, after a lost
    /// connection. Throws `connectionFailed`/`authenticationFailed` if the server is still away.
    public func reset() throws {
        try withConnection { connection in
            // A new session: the server holds none of the old one's prepared statements.
            preparedNames = [:]
            PQreset(connection)
            guard PQstatus(connection) == CONNECTION_OK else {
                throw Self.connectError(connection, endpoint: endpoint, secrets: secrets, operation: "reset")
            }
        }
    }

    /// Runs one statement with `$1, $2, ...` bound to `parameters` (text format, `nil` is
    /// NULL). Values are never spliced into the SQL text.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> PostgresResult {
        try withConnection { connection in
            let result = try Self.withParameterValues(parameters, operation: "query") { values in
                PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
            }
            return try checked(result, operation: "query")
        }
    }

    /// Runs a script of one or more `;`-separated statements without parameters (DDL,
    /// migrations). Returns the result of the last statement; stops at the first error.
    @discardableResult
    public func execute(_ script: String) throws -> PostgresResult {
        try withConnection { connection in
            try checked(PQexec(connection, script), operation: "execute")
        }
    }

    /// Runs `body` inside `BEGIN` ... `COMMIT`, rolling back if `body` throws. The connection
    /// is held for the whole body, so other threads cannot slip statements into it.
    public func withTransaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try withTransaction(pipelining: []) { connection, _ in try body(connection) }
    }

    /// `withTransaction(_:)` whose `BEGIN` travels with `first` in one pipeline, so a
    /// transaction that starts with statements costs no round trip of its own; `body` gets
    /// their results. A failure among them rolls the transaction back and throws.
    public func withTransaction<T>(pipelining first: [PostgresStatement], _ body: (PostgresConnection, [PostgresResult]) throws -> T) throws -> T {
        try withConnection { connection in
            guard PQtransactionStatus(connection) == PQTRANS_IDLE else {
                throw PostgresError(.invalidArgument, operation: "begin", message: "a transaction is already open on \(endpoint)")
            }
            let value: T
            do {
                let results: [PostgresResult]
                if first.isEmpty {
                    try execute("BEGIN")
                    results = []
                } else {
                    results = Array(try pipeline([PostgresStatement("BEGIN")] + first).dropFirst())
                }
                value = try body(self, results)
            } catch {
                // The body's error is the one to report. ROLLBACK can only fail when the
                // connection is gone, and then the server has rolled back on its own; after a
                // failed BEGIN it is a harmless warning.
                if PQtransactionStatus(connection) != PQTRANS_IDLE { _ = try? execute("ROLLBACK") }
                throw error
            }
            let commit = try execute("COMMIT")
            guard commit.commandTag == "COMMIT" else {
                throw PostgresError(.transactionFailed, operation: "commit", message: "the transaction had failed and was rolled back (server answered \(commit.commandTag))")
            }
            return value
        }
    }

    /// `name` as a double-quoted SQL identifier (`"a""b"`), for schema and table names chosen
    /// at run time. Identifiers cannot be bound as parameters, so this is the safe way in.
    public static func quoteIdentifier(_ name: String) throws -> String {
        guard !name.isEmpty, !name.utf8.contains(0) else {
            throw PostgresError(.invalidArgument, operation: "quoteIdentifier", message: "an identifier must be non-empty and contain no NUL byte")
        }
        return "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    func withConnection<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(connection)
    }

    /// Turns a finished `PGresult` into a `PostgresResult` or the error it carries.
    func checked(_ result: OpaquePointer?, operation: String, failure: PostgresError.Code = .queryFailed) throws -> PostgresResult {
        guard let result else { throw connectionError(operation: operation) }
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY {
            return PostgresResult(result)
        }
        if status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH {
            PQclear(result)
            abandonCopy(status == PGRES_COPY_IN ? "COPY FROM STDIN is not supported by \(operation)" : nil)
            throw PostgresError(.invalidArgument, operation: operation, message: "COPY statements must go through copyIn/copyOut")
        }
        defer { PQclear(result) }
        throw error(from: result, operation: operation, failure: failure)
    }

    /// The error a failed `PGresult` carries; `connectionLost` when the connection broke.
    func error(from result: OpaquePointer, operation: String, failure: PostgresError.Code) -> PostgresError {
        let message = Self.singleLine(String(cString: PQresultErrorMessage(result)))
        let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        if PQstatus(connection) == CONNECTION_BAD {
            return PostgresError(.connectionLost, operation: operation, message: secrets.redact("\(endpoint): \(message)"), sqlState: sqlState)
        }
        return PostgresError(failure, operation: operation, message: secrets.redact(message), sqlState: sqlState)
    }

    /// The error libpq reports on the connection itself (no result to read it from).
    func connectionError(operation: String) -> PostgresError {
        let message = secrets.redact("\(endpoint): " + Self.singleLine(String(cString: PQerrorMessage(connection))))
        let code: PostgresError.Code = PQstatus(connection) == CONNECTION_BAD ? .connectionLost : .queryFailed
        return PostgresError(code, operation: operation, message: message)
    }

    /// Leaves a COPY the caller did not ask for, so the connection stays usable.
    func abandonCopy(_ reason: String?) {
        if let reason {
            PQputCopyEnd(connection, reason)
        } else {
            var buffer: UnsafeMutablePointer<CChar>?
            while PQgetCopyData(connection, &buffer, 0) > 0 { PQfreemem(buffer) }
        }
        while let result = PQgetResult(connection) { PQclear(result) }
    }

    static func connectError(_ connection: OpaquePointer, endpoint: String, secrets: ConnectionSecrets, operation: String) -> PostgresError {
        let message = singleLine(String(cString: PQerrorMessage(connection)))
        let needsPassword = PQconnectionNeedsPassword(connection) == 1
        let code: PostgresError.Code
        if needsPassword || message.contains("authentication failed") {
            code = .authenticationFailed
        } else if isOptionValueError(message) {
            // A value libpq refuses only when it connects (`port=abc`): no retry can cure it.
            code = .invalidArgument
        } else {
            code = .connectionFailed
        }
        return PostgresError(code, operation: operation, message: secrets.redact("\(endpoint): \(message)"))
    }

    /// libpq's refusals of an option's value, which `PQconninfoParse` lets through:
    /// `invalid integer value "abc" for connection option "port"`, `invalid port number: "99999"`,
    /// `invalid sslmode value: "x"`.
    static func isOptionValueError(_ message: String) -> Bool {
        message.contains("for connection option") || message.contains("invalid port number")
            || message.range(of: #"invalid [a-z_]+ value: ""#, options: .regularExpression) != nil
    }

    static func endpoint(of connection: OpaquePointer) -> String {
        let host = PQhost(connection).map { String(cString: $0) } ?? ""
        let port = PQport(connection).map { String(cString: $0) } ?? ""
        return "\(host.isEmpty ? "(unknown host)" : host):\(port.isEmpty ? "5432" : port)"
    }

    /// libpq's multi-line messages ("...failed: ...\n\tIs the server running...") on one line.
    static func singleLine(_ message: String) -> String {
        message.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
    }

    /// Lends libpq an array of NUL-terminated parameter values (NULL pointers for `nil`),
    /// all stored in one buffer.
    static func withParameterValues<R>(
        _ parameters: [String?], operation: String,
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?) throws -> R
    ) throws -> R {
        if parameters.isEmpty { return try body(nil) }
        var bytes: [UInt8] = [0]  // never empty, so the buffer always has an address
        var offsets: [Int] = []
        offsets.reserveCapacity(parameters.count)
        for (index, parameter) in parameters.enumerated() {
            guard let parameter else { offsets.append(-1); continue }
            guard !parameter.utf8.contains(0) else {
                throw PostgresError(.invalidArgument, operation: operation, message: "parameter $\(index + 1) contains a NUL byte, which PostgreSQL text cannot hold")
            }
            offsets.append(bytes.count)
            bytes.append(contentsOf: parameter.utf8)
            bytes.append(0)
        }
        return try bytes.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!)
            let values: [UnsafePointer<CChar>?] = offsets.map { $0 < 0 ? nil : (base + $0).assumingMemoryBound(to: CChar.self) }
            return try values.withUnsafeBufferPointer { try body($0.baseAddress) }
        }
    }
}
