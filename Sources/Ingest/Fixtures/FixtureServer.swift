import Foundation
import HTTPServing
import Logging
import Synchronization

/// Serves a fixture directory over loopback HTTP/1.1, so the whole ingest path runs
/// offline exactly as against the internet: one thread per connection, keep-alive,
/// Content-Length framing, binary-safe bodies. Unmatched requests get a 404 whose JSON
/// body names the request (credentials removed) and the closest recorded fixtures. With
/// upstreams configured it records what it does not have: the request goes to the real
/// source (credentials included), the response is stored scrubbed and served.
public final class FixtureServer: Sendable {
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
    private let listener = Mutex<HTTPListener?>(nil)
    private let counts = Mutex((served: 0, missed: 0, recorded: 0))

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
    public var port: Int { listener.withLock { $0?.port ?? 0 } }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: URL { URL(string: "http://\(host):\(port)")! }

    /// Requests answered from fixtures, answered 404, and recorded, so far.
    public var statistics: (served: Int, missed: Int, recorded: Int) { counts.withLock { $0 } }

    /// Binds, listens and starts accepting on a dedicated thread; returns once the port is bound.
    public func start() throws {
        let logger = logger
        let server = HTTPListener(host: host, port: requestedPort, threadName: "fixture-server", idleTimeoutSeconds: idleTimeout,
                                  onAcceptFailure: { logger.error("fixture server stopped accepting", metadata: ["error": "\($0)"]) },
                                  handler: { [weak self] request in self?.respond(to: request) })
        do { try server.start() } catch { throw FixtureError("\(error)") }
        listener.withLock { $0 = server }
        logger.info("fixture server listening", metadata: ["address": "\(baseURL.absoluteString)", "directory": "\(store.root)"])
    }

    /// Stops accepting, closes open connections and waits for the accept thread to end.
    public func stop() {
        listener.withLock { $0 }?.stop()
    }

    private func respond(to request: HTTPServerRequest) -> HTTPServerResponse? {
        switch reply(to: request) {
        case .respond(let response): return HTTPServerResponse(status: response.status, headers: response.headers.fields, body: response.body)
        case .disconnect: return nil
        }
    }

    private func reply(to request: HTTPServerRequest) -> FixtureStore.Reply {
        let (path, query) = request.pathAndQuery
        // HEAD is answered from the GET fixture, without its body.
        guard let key = FixtureKey(method: request.method == "HEAD" ? "GET" : request.method, path: path, query: query) else {
            return .respond(HTTPResponse(status: 400, headers: ["Content-Type": "application/json"], body: Self.json(["error": "path must not contain . or .. segments"])))
        }
        do {
            if let reply = try store.reply(for: key) {
                counts.withLock { $0.served += 1 }
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
        counts.withLock { $0.missed += 1 }
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

    private func record(_ request: HTTPServerRequest, key: FixtureKey, upstream: Upstream, remainder: [String], query: String) throws -> FixtureStore.Reply {
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
            counts.withLock { $0.recorded += 1 }
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

    static func json(_ object: Any) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return [UInt8](data)
    }
}

/// Carries a result from a task back to the thread waiting on `done`.
private final class BlockingResult: @unchecked Sendable {
    // @unchecked Sendable: `result` is written once before `done` is signalled and read after the wait.
    var result: Result<HTTPResponse, any Error> = .failure(CancellationError())
    let done = DispatchSemaphore(value: 0)
}
