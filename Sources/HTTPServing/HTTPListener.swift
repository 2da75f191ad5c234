import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A small blocking HTTP/1.1 server: one accept thread, one thread per connection,
/// keep-alive, Content-Length framing, binary-safe bodies. It serves local tools
/// (fixtures, metrics, health), not the internet: no TLS, no chunked request bodies.
public final class HTTPListener: Sendable {
    /// Answers one request; nil closes the connection without answering (a transport
    /// failure for the client). Runs on the connection's own thread.
    public typealias Handler = @Sendable (HTTPServerRequest) -> HTTPServerResponse?

    private struct State {
        var listener: Int32 = -1
        var boundPort = 0
        var stopping = false
        var connections = Set<Int32>()
    }

    /// The host name or address to bind, as given.
    public let host: String
    private let requestedPort: UInt16
    private let threadName: String
    private let idleTimeoutSeconds: Int
    private let handler: Handler
    private let onAcceptFailure: @Sendable (String) -> Void
    private let state = Mutex(State())
    private let acceptLoopDone = DispatchSemaphore(value: 0)

    /// A listener for `host`:`port` (port 0 picks a free one) whose connections are named
    /// `threadName` and closed after `idleTimeoutSeconds` without a request.
    /// `onAcceptFailure` hears why the accept loop ended if it ends on its own.
    public init(host: String = "127.0.0.1", port: UInt16 = 0, threadName: String, idleTimeoutSeconds: Int = 30,
                onAcceptFailure: @escaping @Sendable (String) -> Void = { _ in }, handler: @escaping Handler) {
        self.host = host
        requestedPort = port
        self.threadName = threadName
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.onAcceptFailure = onAcceptFailure
        self.handler = handler
    }

    deinit { stop() }

    /// The bound port (the requested one before `start()`).
    public var port: Int { state.withLock { $0.listener >= 0 ? $0.boundPort : Int(requestedPort) } }

    /// `host:port`, IPv6 hosts in brackets.
    public var address: String { Self.address(host, port) }

    /// Binds, listens and starts accepting on a dedicated thread; returns once the port is
    /// bound, so a client may connect right away.
    public func start() throws(HTTPListenerError) {
        let fd = try openListeningSocket()
        var actual = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let family = Int32(actual.ss_family)
        let bound: UInt16 = withUnsafePointer(to: &actual) { pointer in
            if family == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        state.withLock {
            $0.listener = fd
            $0.boundPort = Int(bound)
        }
        let thread = Thread { [self] in acceptLoop(fd) }
        thread.name = "\(threadName)-accept"
        thread.start()
    }

    /// Stops accepting, shuts open connections down and waits for the accept thread to
    /// end; the port is free again when it returns. A handler already running finishes on
    /// its own thread, but its answer is not delivered.
    public func stop() {
        let (fd, open): (Int32, Set<Int32>) = state.withLock {
            if $0.stopping || $0.listener < 0 { return (-1, []) }
            $0.stopping = true
            return ($0.listener, $0.connections)
        }
        guard fd >= 0 else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        for connection in open { shutdown(connection, Int32(SHUT_RDWR)) }
        acceptLoopDone.wait()
    }

    private func openListeningSocket() throws(HTTPListenerError) -> Int32 {
        let described = Self.address(host, Int(requestedPort))
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(requestedPort), &hints, &found)
        guard status == 0, let info = found else {
            let message = status == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(status))
            throw HTTPListenerError(.resolve, address: described, message: message)
        }
        defer { freeaddrinfo(info) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPListenerError(.socket, address: described, message: String(cString: strerror(errno))) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, 128) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw HTTPListenerError(.bind, address: described, message: message)
        }
        return fd
    }

    private func acceptLoop(_ fd: Int32) {
        defer {
            close(fd)
            acceptLoopDone.signal()
        }
        while true {
            let connection = accept(fd, nil, nil)
            if connection < 0 {
                if state.withLock({ $0.stopping }) { return }
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE { usleep(10_000); continue }
                onAcceptFailure("accept on \(address) failed: \(String(cString: strerror(errno)))")
                return
            }
            let accepted: Bool = state.withLock {
                if $0.stopping { return false }
                $0.connections.insert(connection)
                return true
            }
            guard accepted else { close(connection); return }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            var timeout = timeval(tv_sec: idleTimeoutSeconds, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let thread = Thread { [self] in
                serve(connection)
                state.withLock {
                    $0.connections.remove(connection)
                    close(connection)
                }
            }
            thread.name = "\(threadName)-connection"
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        var reader = HTTPRequestReader(fd: fd)
        while true {
            switch reader.next() {
            case .closed:
                return
            case .invalid(let status, let message):
                let body = (try? JSONSerialization.data(withJSONObject: ["error": message], options: [.prettyPrinted, .sortedKeys])) ?? Data()
                write(fd, HTTPServerResponse(status: status, headers: [("Content-Type", "application/json")], body: [UInt8](body)), head: false, keepAlive: false)
                return
            case .request(let request):
                guard let response = handler(request) else { return }
                write(fd, response, head: request.method == "HEAD", keepAlive: request.keepAlive)
                if !request.keepAlive { return }
            }
        }
    }

    private func write(_ fd: Int32, _ response: HTTPServerResponse, head: Bool, keepAlive: Bool) {
        var bytes = response.head(keepAlive: keepAlive)
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

    private static func address(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
