import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Loopback helpers for tests of services that serve HTTP (metrics, health).
public enum LocalHTTP {
    /// GET `http://127.0.0.1:PORT/PATH`: the status and body, or nil when nothing answers.
    public static func get(port: Int, _ path: String) async -> (status: Int, body: String)? {
        guard let url = URL(string: "http://127.0.0.1:\(port)\(path)") else { return nil }
        var request = URLRequest(url: url)
        request.timeoutInterval = 5
        guard let (data, response) = try? await URLSession.shared.data(for: request), let http = response as? HTTPURLResponse else {
            return nil
        }
        return (http.statusCode, String(decoding: data, as: UTF8.self))
    }
}
