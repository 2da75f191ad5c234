import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Serves a fixture directory over loopback HTTP/1.1, so the whole ingest path runs
/// offline exactly as against the internet: one thread per connection, keep-alive,
/// Content-Length framing, binary-safe bodies. Unmatched requests get a 404 whose JSON
/// body names the request (credentials removed) and the closest recorded fixtures. With
/// upstreams configured it records what it does not have: the request goes to the real
/// source (credentials included), the response is stored scrubbed and served.
public final class FixtureServer: @unchecked Sendable {
    // @unchecked Sendable: the mutable socket bookkeeping (`listener`, `connections`,
    // `stopping`, `boundPort`, `counts`) is only touched while holding `lock`.

    /// Where unrecorded requests are forwarded in record mode. With `prefix` (a source id),
    /// requests under `/prefix/` go to `baseURL` with the prefix removed; without, every
    /// request goes to `baseURL` with its whole path.
    public struct Upstream: Sendable {
        public let prefix: String?
        public let baseURL: URL

        public init(prefix: String?, baseURL: URL) {
            self.prefix = prefix
            self.baseURL = baseURL
        }

        /// Parses `URL` or `prefix=URL` (the `--record` option's syntax).
        public init?(argument: String) {
            var prefix: String?
            var text = argument
            if let equals = argument.firstIndex(of: "="), !argument[..<equals].contains(":") {
                prefix = String(argument[..<equals])
                text = String(argument[argument.index(after: equals)...])
            }
            guard let url = URL(string: text), let scheme = url.scheme, scheme == "http" || scheme == "https", url.host != nil else { return nil }
            self.init(prefix: prefix, baseURL: url)
        }
    }

    public let store: FixtureStore
    public let host = "127.0.0.1"
    private let requestedPort: UInt16
    private let upstreams: [Upstream]
    private let transport: any HTTPTransport
    private let logger: Logger
    private let idleTimeout: Int
    private let lock = NSLock()
    private var listener: Int32 = -1
    private var boundPort = 0
    private var stopping = false
    private var connections = Set<Int32>()
    private var counts = (served: 0, missed: 0, recorded: 0)
    private let acceptLoopDone = DispatchSemaphore(value: 0)

    /// A server for `directory` on 127.0.0.1:`port` (0 picks a free port). `upstreams`
    /// enables recording through `transport`.
    public init(directory: String, port: UInt16 = 0, upstreams: [Upstream] = [], transport: (any HTTPTransport)? = nil,
                idleTimeoutSeconds: Int = 30, logger: Logger) {
        store = FixtureStore(root: directory)
        requestedPort = port
        self.upstreams = upstreams
        self.transport = transport ?? URLSessionTransport()
        idleTimeout = idleTimeoutSeconds
        self.logger = logger
    }

    deinit { stop() }

    /// The bound port (meaningful after `start()`).
    public var port: Int { lock.withLock { boundPort } }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: URL { URL(string: "http://\(host):\(port)")! }

    /// Requests answered from fixtures, answered 404, and recorded, so far.
    public var statistics: (served: Int, missed: Int, recorded: Int) { lock.withLock { counts } }

    /// Binds, listens and starts accepting on a dedicated thread; returns once the port is bound.
    public func start() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket() failed: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = requestedPort.bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw FixtureError("cannot listen on \(host):\(requestedPort): \(message)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        lock.withLock {
            listener = fd
            boundPort = Int(UInt16(bigEndian: actual.sin_port))
        }
        let thread = Thread { [self] in acceptLoop(fd) }
        thread.name = "fixture-server-accept"
        thread.start()
        logger.info("fixture server listening", metadata: ["address": "\(baseURL.absoluteString)", "directory": "\(store.root)"])
    }

    /// Stops accepting, closes open connections and waits for the accept thread to end.
    public func stop() {
        let (fd, open): (Int32, Set<Int32>) = lock.withLock {
            if stopping || listener < 0 { return (-1, []) }
            stopping = true
            return (listener, connections)
        }
        guard fd >= 0 else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        for connection in open { shutdown(connection, Int32(SHUT_RDWR)) }
        acceptLoopDone.wait()
    }

    private func acceptLoop(_ fd: Int32) {
        defer {
            close(fd)
            acceptLoopDone.signal()
        }
        while true {
            let connection = accept(fd, nil, nil)
            if connection < 0 {
                if lock.withLock({ stopping }) { return }
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE { usleep(10_000); continue }
                logger.error("fixture server accept failed", metadata: ["error": "\(String(cString: strerror(errno)))"])
                return
            }
            let accepted: Bool = lock.withLock {
                if stopping { return false }
                connections.insert(connection)
                return true
            }
            guard accepted else { close(connection); return }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            var timeout = timeval(tv_sec: idleTimeout, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let thread = Thread { [self] in
                serve(connection)
                lock.withLock {
                    connections.remove(connection)
                    close(connection)
                }
            }
            thread.name = "fixture-server-connection"
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        var reader = HTTPRequestReader(fd: fd)
        while true {
            let request: HTTPRequestReader.Request
            switch reader.next() {
            case .request(let parsed): request = parsed
            case .closed: return
            case .invalid(let status, let message):
                write(fd, HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: Self.json(["error": message])), head: false, keepAlive: false)
                return
            }
            switch handle(request) {
            case .respond(let response):
                write(fd, response, head: request.method == "HEAD", keepAlive: request.keepAlive)
                if !request.keepAlive { return }
            case .disconnect:
                return
            }
        }
    }

    private func handle(_ request: HTTPRequestReader.Request) -> FixtureStore.Reply {
        let (path, query) = Self.split(request.target)
        // HEAD is answered from the GET fixture, without its body.
        guard let key = FixtureKey(method: request.method == "HEAD" ? "GET" : request.method, path: path, query: query) else {
            return .respond(HTTPResponse(status: 400, headers: ["Content-Type": "application/json"], body: Self.json(["error": "path must not contain . or .. segments"])))
        }
        do {
            if let reply = try store.reply(for: key) {
                lock.withLock { counts.served += 1 }
                logger.debug("fixture served", metadata: ["request": "\(key)"])
                return reply
            }
            if let upstream = upstream(for: key) {
                return try record(request, key: key, upstream: upstream.0, remainder: upstream.1, query: query)
            }
        } catch {
            logger.error("fixture failed", metadata: ["request": "\(key)", "error": "\(error)"])
            return .respond(HTTPResponse(status: 500, headers: ["Content-Type": "application/json"], body: Self.json(["error": "\(error)", "request": key.description])))
        }
        lock.withLock { counts.missed += 1 }
        let candidates = store.candidates(for: key)
        logger.notice("no fixture", metadata: ["request": "\(key)", "candidates": "\(candidates.joined(separator: ", "))"])
        let body: [String: Any] = [
            "error": "no fixture matches this request",
            "request": ["method": key.method, "path": "/" + key.directory, "query": key.canonicalQuery],
            "expected": (key.directory.isEmpty ? "" : key.directory + "/") + key.stem + ".<ext>",
            "candidates": candidates,
        ]
        return .respond(HTTPResponse(status: 404, headers: ["Content-Type": "application/json"], body: Self.json(body)))
    }

    private func upstream(for key: FixtureKey) -> (Upstream, [String])? {
        for upstream in upstreams {
            if let prefix = upstream.prefix {
                if key.segments.first == prefix { return (upstream, Array(key.segments.dropFirst())) }
            } else {
                return (upstream, key.segments)
            }
        }
        return nil
    }

    private func record(_ request: HTTPRequestReader.Request, key: FixtureKey, upstream: Upstream, remainder: [String], query: String) throws -> FixtureStore.Reply {
        var secrets: [String] = QueryString.decode(query).filter { Redactor.isCredentialParameter($0.name) }.map(\.value)
        var headers = HTTPHeaders()
        for field in request.headers {
            let name = field.name.lowercased()
            if ["host", "connection", "content-length", "keep-alive", "accept-encoding", "transfer-encoding"].contains(name) { continue }
            if name == "authorization" { secrets.append(field.value.split(separator: " ").last.map(String.init) ?? field.value) }
            if name.contains("key") || name.contains("token") { secrets.append(field.value) }
            headers.add(field.name, field.value)
        }
        let redactor = Redactor(keys: secrets.map(APIKey.init))
        var base = upstream.baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let target = base + remainder.map { "/" + QueryString.percentEncode($0) }.joined() + (query.isEmpty ? "" : "?" + query)
        guard let url = URL(string: target) else { throw FixtureError("cannot build upstream URL \(redactor.redact(target))") }
        let forwarded = HTTPRequest(method: request.method, url: url, headers: headers, body: request.body, timeout: 60)
        let transport = transport
        let result = Self.runBlocking { try await transport.send(forwarded) }
        switch result {
        case .success(let response):
            let stored = try store.record(response, for: key, redactor: redactor, secrets: secrets)
            lock.withLock { counts.recorded += 1 }
            logger.info("fixture recorded", metadata: ["request": "\(key)", "file": "\(stored)", "status": "\(response.status)"])
            guard let reply = try store.reply(for: key) else { throw FixtureError("recorded fixture \(stored) not found again") }
            return reply
        case .failure(let error):
            let text = redactor.redact("\(error)")
            logger.error("upstream failed", metadata: ["request": "\(key)", "error": "\(text)"])
            return .respond(HTTPResponse(status: 502, headers: ["Content-Type": "application/json"], body: Self.json(["error": text, "request": key.description])))
        }
    }

    /// Runs an upstream exchange from a connection thread (never a cooperative-pool
    /// thread) and waits for it.
    private static func runBlocking(_ work: @escaping @Sendable () async throws -> HTTPResponse) -> Result<HTTPResponse, any Error> {
        let box = BlockingResult()
        Task {
            do { box.result = .success(try await work()) } catch { box.result = .failure(error) }
            box.done.signal()
        }
        box.done.wait()
        return box.result
    }

    private func write(_ fd: Int32, _ response: HTTPResponse, head: Bool, keepAlive: Bool) {
        var text = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        for field in response.headers {
            let name = field.name.lowercased()
            if name == "content-length" || name == "connection" || name == "transfer-encoding" || name == "keep-alive" { continue }
            text += "\(field.name): \(field.value)\r\n"
        }
        text += "Content-Length: \(response.body.count)\r\n"
        text += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"
        var bytes = Array(text.utf8)
        if !head { bytes += response.body }
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            sent += n
        }
    }

    private static func split(_ target: String) -> (path: String, query: String) {
        var target = target
        if let hash = target.firstIndex(of: "#") { target = String(target[..<hash]) }
        guard let question = target.firstIndex(of: "?") else { return (target, "") }
        return (String(target[..<question]), String(target[target.index(after: question)...]))
    }

    static func json(_ object: Any) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return [UInt8](data)
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 413: return "Content Too Large"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "Status \(status)"
        }
    }
}

/// Carries a result from a task back to the thread waiting on `done`.
private final class BlockingResult: @unchecked Sendable {
    // @unchecked Sendable: `result` is written once before `done` is signalled and read after the wait.
    var result: Result<HTTPResponse, any Error> = .failure(CancellationError())
    let done = DispatchSemaphore(value: 0)
}

/// Reads HTTP/1.1 requests off a connected socket, one after another (keep-alive).
struct HTTPRequestReader {
    struct Request {
        var method: String
        var target: String
        var headers: HTTPHeaders
        var body: [UInt8]
        var keepAlive: Bool
    }

    enum Next {
        case request(Request)
        case closed
        case invalid(status: Int, message: String)
    }

    static let maxHeaderBytes = 64 * 1024
    static let maxBodyBytes = 16 * 1024 * 1024

    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    mutating func next() -> Next {
        var headerEnd: Int?
        var searchFrom = 0
        while headerEnd == nil {
            headerEnd = Self.find([13, 10, 13, 10], in: buffer, from: searchFrom)
            if headerEnd != nil { break }
            searchFrom = max(0, buffer.count - 3)
            if buffer.count > Self.maxHeaderBytes { return .invalid(status: 431, message: "request header too large") }
            if !fill() { return .closed }
        }
        let head = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: true)
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else { return .invalid(status: 400, message: "malformed request line") }
        var headers = HTTPHeaders()
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return .invalid(status: 400, message: "malformed header line") }
            headers.add(String(line[..<colon]).trimmingCharacters(in: .whitespaces), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        buffer.removeFirst(headerEnd! + 4)
        if headers["Transfer-Encoding"] != nil { return .invalid(status: 501, message: "chunked request bodies are not supported; send Content-Length") }
        let length = Int(headers["Content-Length"] ?? "0") ?? -1
        guard length >= 0, length <= Self.maxBodyBytes else { return .invalid(status: 413, message: "bad or too large Content-Length") }
        while buffer.count < length {
            if !fill() { return .closed }
        }
        let body = Array(buffer[0..<length])
        buffer.removeFirst(length)
        let version = requestLine[2]
        let connection = headers["Connection"]?.lowercased() ?? ""
        let keepAlive = version == "HTTP/1.1" ? !connection.contains("close") : connection.contains("keep-alive")
        return .request(Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body, keepAlive: keepAlive))
    }

    private mutating func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return true
            }
            if n < 0, errno == EINTR { continue }
            return false
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for i in start...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }
}
