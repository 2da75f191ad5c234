import CLibPQ

/// One statement of a pipeline: SQL with `$n` placeholders and its bound text parameters.
public struct PostgresStatement: Sendable {
    public var sql: String
    public var parameters: [String?]
    /// Whether the connection keeps this SQL as a named prepared statement, parsed (and,
    /// once the server settles on a generic plan, planned) once per session instead of at
    /// every run. For fixed statements run again and again; see `pipeline`.
    public var prepared: Bool

    public init(_ sql: String, _ parameters: [String?] = [], prepared: Bool = false) {
        self.sql = sql
        self.parameters = parameters
        self.prepared = prepared
    }
}

extension PostgresConnection {
    /// Sends all `statements` without waiting for answers (libpq pipeline mode) and then
    /// reads their results, in order: one round trip for the whole batch. The batch ends in
    /// one sync point, so outside an explicit transaction it commits or fails as a unit.
    /// If a statement fails, the server skips the rest and this throws that statement's
    /// error (`queryFailed`, naming its index, with its SQLSTATE).
    ///
    /// Blocking mode is safe here: while libpq waits to send it also reads what the server
    /// has answered, so neither side can stall on a full socket buffer.
    ///
    /// A `prepared` statement runs as a named statement of this session, sent (Parse) in the
    /// same pipeline the first time its SQL is seen and reused afterwards; `reset()` starts
    /// a new session and forgets them. The server re-parses a cached statement by itself
    /// when a table it names changes or the `search_path` differs.
    public func pipeline(_ statements: [PostgresStatement]) throws -> [PostgresResult] {
        try withConnection { connection in
            guard !statements.isEmpty else { return [] }
            // Check every parameter before sending anything: a statement rejected halfway
            // would otherwise leave the ones before it to commit at the sync point.
            for statement in statements {
                try Self.withParameterValues(statement.parameters, operation: "pipeline") { _ in }
            }
            guard PQenterPipelineMode(connection) == 1 else { throw connectionError(operation: "pipeline") }
            var sent = 0
            var sendError: PostgresError?
            // Prepared statements first seen here are parsed in this pipeline, just before
            // their first run: (index of the statement, name) of each such Parse sent.
            var preparing: [(index: Int, name: String)] = []
            var preparingNames: [String: String] = [:]
            for (index, statement) in statements.enumerated() {
                var name: String?
                if statement.prepared {
                    name = preparedNames[statement.sql] ?? preparingNames[statement.sql]
                    if name == nil {
                        let fresh = "tickfold_\(preparedNames.count + preparingNames.count + 1)"
                        guard PQsendPrepare(connection, fresh, statement.sql, Int32(statement.parameters.count), nil) == 1 else {
                            sendError = connectionError(operation: "pipeline")
                            break
                        }
                        preparing.append((index, fresh))
                        preparingNames[statement.sql] = fresh
                        name = fresh
                    }
                }
                let queued = try Self.withParameterValues(statement.parameters, operation: "pipeline") { values in
                    if let name {
                        PQsendQueryPrepared(connection, name, Int32(statement.parameters.count), values, nil, nil, 0)
                    } else {
                        PQsendQueryParams(connection, statement.sql, Int32(statement.parameters.count), nil, values, nil, nil, 0)
                    }
                }
                guard queued == 1 else {
                    sendError = connectionError(operation: "pipeline")
                    break
                }
                sent += 1
            }
            PQpipelineSync(connection)

            var results: [PostgresResult] = []
            results.reserveCapacity(sent)
            var firstError: PostgresError?
            var nextPrepare = 0
            for index in 0..<sent {
                if nextPrepare < preparing.count, preparing[nextPrepare].index == index {
                    // The Parse's own result comes first. A named statement outlives the
                    // transaction it was made in, so it counts once the server accepted it.
                    let name = preparing[nextPrepare].name
                    nextPrepare += 1
                    guard let result = PQgetResult(connection) else {
                        firstError = firstError ?? connectionError(operation: "pipeline")
                        break
                    }
                    let status = PQresultStatus(result)
                    if status == PGRES_COMMAND_OK {
                        preparedNames[statements[index].sql] = name
                    } else if status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR || status == PGRES_BAD_RESPONSE {
                        let failure = error(from: result, operation: "pipeline", failure: .queryFailed)
                        firstError = firstError ?? PostgresError(
                            failure.code, operation: "pipeline",
                            message: "statement \(index + 1) of \(statements.count) (prepare): \(failure.message)",
                            sqlState: failure.sqlState)
                    }
                    PQclear(result)
                    while let extra = PQgetResult(connection) { PQclear(extra) }
                    if PQstatus(connection) == CONNECTION_BAD { break }
                }
                guard let result = PQgetResult(connection) else {
                    firstError = firstError ?? connectionError(operation: "pipeline")
                    break
                }
                let status = PQresultStatus(result)
                if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY {
                    results.append(PostgresResult(result))
                } else {
                    if status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR || status == PGRES_BAD_RESPONSE {
                        let failure = error(from: result, operation: "pipeline", failure: .queryFailed)
                        firstError = firstError ?? PostgresError(
                            failure.code, operation: "pipeline",
                            message: "statement \(index + 1) of \(statements.count): \(failure.message)",
                            sqlState: failure.sqlState)
                    } else if status != PGRES_PIPELINE_ABORTED {
                        firstError = firstError ?? PostgresError(
                            .invalidArgument, operation: "pipeline",
                            message: "statement \(index + 1) of \(statements.count) is not allowed in a pipeline (\(String(cString: PQresStatus(status))))")
                    }
                    PQclear(result)
                }
                // Each statement's results end with a NULL.
                while let extra = PQgetResult(connection) { PQclear(extra) }
                if PQstatus(connection) == CONNECTION_BAD { break }
            }
            if PQstatus(connection) != CONNECTION_BAD {
                if let sync = PQgetResult(connection) { PQclear(sync) }
                PQexitPipelineMode(connection)
            }
            if let sendError { throw sendError }
            if let firstError { throw firstError }
            if PQstatus(connection) == CONNECTION_BAD || results.count != statements.count {
                throw connectionError(operation: "pipeline")
            }
            return results
        }
    }
}
