import Foundation
import Ingest
import Logging
import TickfoldTesting

/// A fixture directory plus a running server over it; the server stops when the test drops it.
final class FixtureHarness: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; the server is itself thread-safe.
    let directory: TemporaryDirectory
    let logs = LogCapture()
    let server: FixtureServer

    init(upstreams: [FixtureServer.Upstream] = []) throws {
        directory = try TemporaryDirectory("tickfold-fixtures")
        server = FixtureServer(directory: directory.path, upstreams: upstreams, logger: logs.logger("fixture-server"))
        try server.start()
    }

    deinit { server.stop() }

    /// Writes `contents` at `relativePath` below the fixture root.
    func write(_ relativePath: String, _ contents: String) throws {
        try write(relativePath, Array(contents.utf8))
    }

    func write(_ relativePath: String, _ bytes: [UInt8]) throws {
        let path = "\(directory.path)/\(relativePath)"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// The base URL fetchers of `source` use: `http://127.0.0.1:PORT/<source>`.
    func baseURL(_ source: String) -> URL { server.baseURL.appendingPathComponent(source) }

    /// Every file below the root: relative path and contents.
    func files() -> [(path: String, contents: [UInt8])] {
        let root = directory.path
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        var files: [(String, [UInt8])] = []
        while let relative = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(root)/\(relative)", isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append((relative, [UInt8](FileManager.default.contents(atPath: "\(root)/\(relative)") ?? Data())))
            }
        }
        return files
    }
}

/// 2025-11-23T12:13:20Z: a fixed start for manual clocks.
let testEpoch = Date(timeIntervalSince1970: 1_763_900_000)

/// Real Alpha Vantage rate-limit bodies (2024–2025 wording).
enum AlphaVantageNotes {
    static let daily = #"{"Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."}"#
    static let burst = #"{"Information": "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly (1 request per second). You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day) and instantly remove all daily rate limits."}"#
    static let perMinute = #"{"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call frequency."}"#
    static let globalQuote = #"{"Global Quote": {"01. symbol": "IBM", "05. price": "135.3700", "07. latest trading day": "2023-06-09"}}"#
}
