import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// HTTP over Foundation's `URLSession` (libcurl on Linux): HTTPS, HTTP/1.1 keep-alive and
/// timeouts without adding a package to the build. Ephemeral: no cookies, no cache, so
/// nothing a source sets lingers on disk.
public final class URLSessionTransport: HTTPTransport {
    private let session: URLSession
    private let redactor: Redactor

    /// `redactor` masks credentials in the failure texts this transport produces.
    public init(redactor: Redactor = Redactor()) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: configuration)
        self.redactor = redactor
    }

    deinit { session.finishTasksAndInvalidate() }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var urlRequest = URLRequest(url: request.url, timeoutInterval: request.timeout)
        urlRequest.httpMethod = request.method
        for field in request.headers { urlRequest.addValue(field.value, forHTTPHeaderField: field.name) }
        if !request.body.isEmpty { urlRequest.httpBody = Data(request.body) }
        let data: Data, response: URLResponse
        do {
            (data, response) = try await session.data(for: urlRequest)
        } catch let error as URLError {
            throw FetchError(code: .transport, source: "http", request: redactor.describe(request),
                             detail: "\(Self.name(of: error.code)): \(redactor.redact(error.localizedDescription))")
        } catch {
            throw FetchError(code: .transport, source: "http", request: redactor.describe(request),
                             detail: redactor.redact(String(describing: type(of: error))))
        }
        guard let http = response as? HTTPURLResponse else {
            throw FetchError(code: .transport, source: "http", request: redactor.describe(request), detail: "not an HTTP response")
        }
        var headers = HTTPHeaders()
        for (name, value) in http.allHeaderFields {
            headers.add(String(describing: name), String(describing: value))
        }
        return HTTPResponse(status: http.statusCode, headers: headers, body: [UInt8](data))
    }

    private static func name(of code: URLError.Code) -> String {
        switch code {
        case .timedOut: return "timed out"
        case .cannotConnectToHost: return "connection refused"
        case .networkConnectionLost: return "connection lost"
        case .cannotFindHost, .dnsLookupFailed: return "host not found"
        case .notConnectedToInternet: return "no network"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate: return "TLS failure"
        case .badServerResponse: return "bad server response"
        default: return "URL error \(code.rawValue)"
        }
    }
}
