import CHiredis
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns one blocking hiredis context. After any I/O error the context is freed, and the next
/// call to `connected()` opens a fresh one (and repeats AUTH and SELECT), so callers see one
/// thrown `connectionLost` and then a working connection again.
///
/// Not thread-safe: the public classes serialize access with a lock.
final class RedisContext {
    let url: RedisURL
    let timeout: Duration
    let clientName: String?
    private var context: UnsafeMutablePointer<redisContext>?

    /// Commands queued since the last read, RESP-encoded; reused so that queueing a
    /// command costs no allocation once the buffer has grown to the pipeline's size.
    private var commands = RedisCommandBuffer(capacity: 64 * 1024)

    /// hiredis writes with `write(2)`, so a server that closed the connection would kill the
    /// process with SIGPIPE; ignoring it turns that into an ordinary EPIPE error.
    private static let brokenPipeIgnored: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    init(url: RedisURL, timeout: Duration, clientName: String?) throws {
        self.url = url
        self.timeout = timeout
        self.clientName = clientName
        Self.brokenPipeIgnored
        _ = try connected()
    }

    deinit {
        if let context { redisFree(context) }
        commands.deallocate()
    }

    var isConnected: Bool { context != nil }

    /// The live context, opening a new one (with AUTH and SELECT) if the last one failed.
    func connected() throws -> UnsafeMutablePointer<redisContext> {
        if let context { return context }
        guard let fresh = redisConnectWithTimeout(url.host, Int32(url.port), timeout.timeval) else {
            throw RedisError(.connectionFailed, operation: "connect", message: "\(url.endpoint): hiredis could not allocate a context")
        }
        guard fresh.pointee.err == 0 else {
            let message = Self.errorText(fresh)
            redisFree(fresh)
            throw RedisError(.connectionFailed, operation: "connect", message: "\(url.endpoint): \(message)")
        }
        redisSetTimeout(fresh, timeout.timeval)
        context = fresh
        do {
            if let password = url.password {
                var auth: [any RedisArgument] = ["AUTH"]
                if let username = url.username { auth.append(username) }
                auth.append(password)
                try expectOK(try roundTrip(auth, operation: "connect"), doing: "AUTH")
            }
            if let clientName {
                try expectOK(try roundTrip(["CLIENT", "SETNAME", clientName], operation: "connect"), doing: "CLIENT SETNAME")
            }
            if url.database != 0 {
                try expectOK(try roundTrip(["SELECT", url.database], operation: "connect"), doing: "SELECT \(url.database)")
            }
        } catch {
            disconnect()
            throw error
        }
        return fresh
    }

    private func expectOK(_ reply: RedisReply, doing step: String) throws {
        guard case .status = reply else {
            let message = reply.errorMessage ?? "\(reply)"
            // A server still loading its data answers LOADING (BUSY while a script runs): worth
            // retrying. Any other refusal (a wrong password, a database index the server does
            // not have) stays until the setting is fixed.
            let transient = ["LOADING", "BUSY", "MASTERDOWN"].contains { message.hasPrefix($0) }
            throw RedisError(transient ? .connectionFailed : .serverError, operation: "connect", message: "\(url.endpoint): \(step) was refused: \(message)")
        }
    }

    /// Frees the context and drops unsent commands; the next call reconnects.
    func disconnect() {
        if let context { redisFree(context) }
        context = nil
        commands.removeAll()
    }

    /// Sends one command and reads its reply.
    func roundTrip(_ arguments: [any RedisArgument], operation: String) throws -> RedisReply {
        try append(arguments, operation: operation)
        return try readReply(operation: operation)
    }

    /// Queues one command. Queued commands go out once they fill `sendThreshold` bytes, or
    /// when a reply is read.
    func append(_ arguments: [any RedisArgument], operation: String) throws {
        precondition(!arguments.isEmpty, "a Redis command needs at least its name")
        let context = try connected()
        commands.encode(arguments)
        if commands.count >= Self.sendThreshold { try send(context, operation: operation) }
    }

    /// How many queued bytes a deep pipeline sends at once. Sending while the rest is still
    /// being encoded lets the server execute the first commands meanwhile (on another core)
    /// instead of waiting for the whole pipeline; the server buffers its replies until they
    /// are read, so writing ahead cannot deadlock.
    static let sendThreshold = 32 * 1024

    /// Writes every queued command to the socket.
    private func send(_ context: UnsafeMutablePointer<redisContext>, operation: String) throws {
        try handOverCommands(context, operation: operation)
        var done: Int32 = 0
        repeat {
            guard redisBufferWrite(context, &done) == REDIS_OK else { throw lostConnection(context, operation: operation) }
        } while done == 0
    }

    /// Moves the queued commands into hiredis's output buffer.
    private func handOverCommands(_ context: UnsafeMutablePointer<redisContext>, operation: String) throws {
        guard commands.count > 0 else { return }
        let status = redisAppendFormattedCommand(context, commands.bytes.assumingMemoryBound(to: CChar.self), commands.count)
        commands.removeAll()
        guard status == REDIS_OK else { throw lostConnection(context, operation: operation) }
    }

    /// Sends whatever is queued and reads the next reply, blocking up to the timeout.
    func readReply(operation: String) throws -> RedisReply {
        let context = try connected()
        try handOverCommands(context, operation: operation)
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
            throw lostConnection(context, operation: operation)
        }
        defer { freeReplyObject(raw) }
        return Self.reply(raw.assumingMemoryBound(to: redisReply.self))
    }

    /// A reply already received and buffered, if there is a complete one; never blocks.
    func bufferedReply(operation: String) throws -> RedisReply? {
        let context = try connected()
        var raw: UnsafeMutableRawPointer?
        guard redisGetReplyFromReader(context, &raw) == REDIS_OK else {
            throw lostConnection(context, operation: operation)
        }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return Self.reply(raw.assumingMemoryBound(to: redisReply.self))
    }

    /// Waits up to `timeout` for bytes from the server and buffers them; returns early
    /// (with nothing buffered) on timeout or a signal.
    func receive(within timeout: Duration, operation: String) throws {
        let context = try connected()
        var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeout.pollMilliseconds)
        if ready == 0 || (ready < 0 && errno == EINTR) { return }
        guard ready > 0, redisBufferRead(context) == REDIS_OK else {
            throw lostConnection(context, operation: operation)
        }
    }

    private func lostConnection(_ context: UnsafeMutablePointer<redisContext>, operation: String) -> RedisError {
        let message = context.pointee.err != 0 ? Self.errorText(context) : "unexpected end of the reply stream"
        disconnect()
        return RedisError(.connectionLost, operation: operation, message: "\(url.endpoint): \(message)")
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func reply(_ reply: UnsafePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        let bytes = UnsafeRawBufferPointer(start: value.str, count: value.str == nil ? 0 : value.len)
        switch value.type {
        case REDIS_REPLY_STATUS: return .status(String(decoding: bytes, as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: bytes, as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(Int64(value.integer))
        case REDIS_REPLY_STRING: return .bulk(Array(bytes))
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ARRAY: return .array((0..<value.elements).map { Self.reply(value.element[$0]!) })
        default: preconditionFailure("hiredis 0.14 has no reply type \(value.type)")
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, within what `poll(2)` accepts.
    var pollMilliseconds: Int32 {
        let (seconds, attoseconds) = components
        guard seconds < Int64(Int32.max / 1000) else { return Int32.max }
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        return Int32(seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }

    var timeval: timeval {
        let (seconds, attoseconds) = components
        return .init(tv_sec: .init(seconds), tv_usec: .init(attoseconds / 1_000_000_000_000))
    }
}
