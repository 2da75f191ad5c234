import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads HTTP/1.1 requests off a connected socket, one after another (keep-alive).
struct HTTPRequestReader {
    enum Next {
        case request(HTTPServerRequest)
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
        var request = HTTPServerRequest(method: String(requestLine[0]), target: String(requestLine[1]))
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return .invalid(status: 400, message: "malformed header line") }
            request.headers.append((String(line[..<colon]).trimmingCharacters(in: .whitespaces), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        buffer.removeFirst(headerEnd! + 4)
        if request.header("Transfer-Encoding") != nil { return .invalid(status: 501, message: "chunked request bodies are not supported; send Content-Length") }
        let length = Int(request.header("Content-Length") ?? "0") ?? -1
        guard length >= 0, length <= Self.maxBodyBytes else { return .invalid(status: 413, message: "bad or too large Content-Length") }
        while buffer.count < length {
            if !fill() { return .closed }
        }
        request.body = Array(buffer[0..<length])
        buffer.removeFirst(length)
        let connection = request.header("Connection")?.lowercased() ?? ""
        request.keepAlive = requestLine[2] == "HTTP/1.1" ? !connection.contains("close") : connection.contains("keep-alive")
        return .request(request)
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
