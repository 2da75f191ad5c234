import CLibPQ

extension PostgresConnection {
    /// Streams data into the server with `COPY ... FROM STDIN` (`sql`); `body` writes rows
    /// through the writer, which sends them in large chunks. Returns the number of rows the
    /// server stored. A row the server rejects fails the whole COPY with a `copyFailed`
    /// error carrying the server's message and SQLSTATE; if `body` throws, the COPY is
    /// aborted and its error rethrown. Either way the connection stays usable.
    @discardableResult
    public func copyIn(_ sql: String, _ body: (PostgresCopyWriter) throws -> Void) throws -> Int {
        try withConnection { connection in
            try startCopy(sql, expecting: PGRES_COPY_IN, operation: "copyIn")
            let writer = PostgresCopyWriter(connection: self)
            var clientError: (any Error)?
            do {
                try body(writer)
                try writer.flush()
            } catch {
                clientError = error
            }
            writer.close()
            if let clientError, !writer.sendFailed {
                PQputCopyEnd(connection, "aborted by the client: \(clientError)")
            } else if clientError == nil {
                PQputCopyEnd(connection, nil)
            }
            let (rows, serverError) = finishCopy(operation: "copyIn")
            if let clientError, !writer.sendFailed { throw clientError }
            if let serverError { throw serverError }
            if let clientError { throw clientError }
            return rows
        }
    }

    /// Streams the output of `COPY ... TO STDOUT` (`sql`): `body` receives each row's bytes
    /// (valid only during the call) as they arrive. Returns the number of rows. If `body`
    /// throws, the remaining rows are read and dropped so the connection stays usable, then
    /// the error is rethrown.
    @discardableResult
    public func copyOut(_ sql: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        try withConnection { connection in
            try startCopy(sql, expecting: PGRES_COPY_OUT, operation: "copyOut")
            var clientError: (any Error)?
            var buffer: UnsafeMutablePointer<CChar>?
            var length = PQgetCopyData(connection, &buffer, 0)
            while length > 0 {
                if clientError == nil {
                    do {
                        try body(UnsafeRawBufferPointer(start: buffer, count: Int(length)))
                    } catch {
                        clientError = error
                    }
                }
                PQfreemem(buffer)
                length = PQgetCopyData(connection, &buffer, 0)
            }
            let streamBroke = length == -2
            let streamError = streamBroke ? connectionError(operation: "copyOut") : nil
            let (rows, serverError) = finishCopy(operation: "copyOut")
            if let clientError { throw clientError }
            if let serverError { throw serverError }
            if let streamError { throw streamError }
            return rows
        }
    }

    /// Sends the COPY statement and checks that the server entered the expected COPY mode.
    private func startCopy(_ sql: String, expecting expected: ExecStatusType, operation: String) throws {
        guard let result = PQexec(connection, sql) else { throw connectionError(operation: operation) }
        let status = PQresultStatus(result)
        if status == expected {
            PQclear(result)
            return
        }
        if status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH {
            PQclear(result)
            abandonCopy(status == PGRES_COPY_IN ? "wrong COPY direction for \(operation)" : nil)
        } else if status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR {
            defer { PQclear(result) }
            throw error(from: result, operation: operation, failure: .copyFailed)
        } else {
            PQclear(result)
        }
        let direction = expected == PGRES_COPY_IN ? "COPY ... FROM STDIN" : "COPY ... TO STDOUT"
        throw PostgresError(.invalidArgument, operation: operation, message: "\(operation) needs a \(direction) statement")
    }

    /// Reads the server's verdict once the data has been sent or received: the row count
    /// on success, or the first error the server reported.
    private func finishCopy(operation: String) -> (rows: Int, error: PostgresError?) {
        var rows = 0
        var failure: PostgresError?
        while let result = PQgetResult(connection) {
            defer { PQclear(result) }
            let status = PQresultStatus(result)
            if status == PGRES_COMMAND_OK {
                rows = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if status == PGRES_COPY_IN || status == PGRES_COPY_OUT {
                // Still in COPY mode means the end could not be sent: the connection is gone.
                failure = failure ?? connectionError(operation: operation)
                break
            } else {
                failure = failure ?? error(from: result, operation: operation, failure: .copyFailed)
            }
        }
        return (rows, failure)
    }
}

/// Gathers COPY data and hands it to libpq in chunks of `chunkSize` bytes, so a million
/// small rows cost a few hundred `PQputCopyData` calls. Lent to the body of `copyIn` and
/// unusable after it returns.
public final class PostgresCopyWriter {
    /// Bytes gathered before one `PQputCopyData` call.
    public static let chunkSize = 256 * 1024

    private let connection: PostgresConnection
    private var buffer: [UInt8] = []
    private var isOpen = true
    private var fieldsInRow = 0
    private(set) var sendFailed = false

    init(connection: PostgresConnection) {
        self.connection = connection
        buffer.reserveCapacity(Self.chunkSize + 4096)
    }

    /// Appends raw COPY data (already in the format the statement names).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(isOpen, "PostgresCopyWriter used after its copyIn returned")
        if buffer.count + bytes.count > Self.chunkSize {
            try flush()
            if bytes.count >= Self.chunkSize {
                try send(bytes)
                return
            }
        }
        buffer.append(contentsOf: bytes)
    }

    /// Appends raw COPY data (already in the format the statement names).
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends raw COPY data (already in the format the statement names).
    public func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Appends one field of a text-format row (tab-separated, `\N` for NULL), escaping
    /// backslashes, tabs, newlines and carriage returns. Finish the row with `endRow()`.
    public func writeField(_ value: String?) throws {
        precondition(isOpen, "PostgresCopyWriter used after its copyIn returned")
        if fieldsInRow > 0 { buffer.append(UInt8(ascii: "\t")) }
        fieldsInRow += 1
        guard let value else {
            buffer.append(UInt8(ascii: "\\"))
            buffer.append(UInt8(ascii: "N"))
            return
        }
        // Native strings lend their bytes without a copy (`withUTF8` would need a `var`
        // copy of the string, a retain and release per field).
        if value.utf8.withContiguousStorageIfAvailable({ appendEscaped($0) }) == nil {
            var contiguous = value
            contiguous.withUTF8 { appendEscaped($0) }
        }
    }

    /// Appends `bytes` with COPY text format's escapes.
    private func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        for (index, byte) in bytes.enumerated() {
            let escaped: UInt8
            switch byte {
            case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
            case UInt8(ascii: "\t"): escaped = UInt8(ascii: "t")
            case UInt8(ascii: "\n"): escaped = UInt8(ascii: "n")
            case UInt8(ascii: "\r"): escaped = UInt8(ascii: "r")
            default: continue
            }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            buffer.append(UInt8(ascii: "\\"))
            buffer.append(escaped)
            runStart = index + 1
        }
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
    }

    /// Ends the current text-format row.
    public func endRow() throws {
        precondition(isOpen, "PostgresCopyWriter used after its copyIn returned")
        buffer.append(UInt8(ascii: "\n"))
        fieldsInRow = 0
        if buffer.count >= Self.chunkSize { try flush() }
    }

    /// Appends one whole text-format row.
    public func writeRow(_ fields: [String?]) throws {
        for field in fields { try writeField(field) }
        try endRow()
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try send($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    func close() { isOpen = false }

    private func send(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        let accepted = PQputCopyData(connection.connection, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        guard accepted == 1 else {
            sendFailed = true
            throw connection.connectionError(operation: "copyIn")
        }
    }
}
