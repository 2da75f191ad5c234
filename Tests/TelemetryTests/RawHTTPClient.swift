import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A parsed HTTP response as it came off the wire.
struct RawResponse {
    var status: Int
    var headers: [String: String]
    var body: String

    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A blocking HTTP/1.1 client over a plain socket, so tests see exactly what the server sends
/// (HEAD bodies, status lines, connection handling) without a URL loading system in between.
struct RawHTTPClient {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let port: Int

    /// Sends `request` verbatim and reads until the server closes the connection.
    func exchange(_ request: String) throws -> String {
        let fd = try connect()
        defer { close(fd) }
        try send(request, on: fd)
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            if n < 0 { throw Failure(description: "recv failed: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            received += chunk[0..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// `method path` with `Connection: close`, parsed.
    func request(_ method: String, _ path: String) throws -> RawResponse {
        try Self.parse(exchange("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
    }

    /// Opens a connection; throws with the system's text when refused.
    func connect() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "connect to 127.0.0.1:\(port) failed: \(message)")
        }
        return fd
    }

    func send(_ text: String, on fd: Int32) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// Splits one response (status line, headers, body) off the front of `text`.
    static func parse(_ text: String) throws -> RawResponse {
        guard let end = text.range(of: "\r\n\r\n") else { throw Failure(description: "no header end in \(text.debugDescription)") }
        var lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let status = Int(statusLine[1]) else {
            throw Failure(description: "bad status line in \(text.debugDescription)")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw Failure(description: "bad header \(line.debugDescription)") }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return RawResponse(status: status, headers: headers, body: String(text[end.upperBound...]))
    }
}
