import Foundation
import Testing
import TickfoldTesting
@testable import Ingest

@Suite("Secrets", .onTestThreads, .timeLimit(.minutes(5)))  // fixture servers and retries: over a minute when the two cores are saturated
struct SecretsTests {
    static let planted = "TFPLANTED5f3a9c1e7b"

    @Test("keys come from the environment or a key file, never printed")
    func secretSource() throws {
        let directory = try TemporaryDirectory("tickfold-secrets")
        let file = directory.file("av-keys")
        try "# Alpha Vantage keys\n\(Self.planted)\n\n  SECONDKEY22  \nAAA111\n".write(toFile: file, atomically: false, encoding: .utf8)
        let source = SecretSource(environment: ["ALPHAVANTAGE_API_KEYS": "AAA111, BBB222", "ALPHAVANTAGE_API_KEYS_FILE": file])
        let keys = try source.keys("ALPHAVANTAGE_API_KEYS")
        #expect(keys.map(\.revealedValue) == ["AAA111", "BBB222", Self.planted, "SECONDKEY22"])
        #expect(try SecretSource(environment: [:]).keys("FRED_API_KEYS").isEmpty)
        let key = keys[2]
        var dumped = ""
        dump(key, to: &dumped)
        for printed in ["\(key)", String(describing: key), String(reflecting: key), dumped, "\([key])"] {
            #expect(!printed.contains(Self.planted))
            #expect(printed.contains(key.fingerprint.hex))
        }
        let missing = #expect(throws: SecretError.self) {
            _ = try SecretSource(environment: ["FRED_API_KEYS_FILE": directory.file("absent")]).keys("FRED_API_KEYS")
        }
        #expect(String(describing: missing).contains("FRED_API_KEYS_FILE"))
    }

    @Test("the redactor masks known keys, credential parameters and bearer tokens")
    func redactor() {
        let redactor = Redactor(keys: [APIKey(Self.planted), APIKey("k/with+chars")])
        #expect(redactor.redact("https://h/query?function=X&apikey=\(Self.planted)&symbol=IBM") == "https://h/query?function=X&apikey=***&symbol=IBM")
        #expect(redactor.redact("token=unknown-secret&x=1") == "token=***&x=1")
        #expect(redactor.redact("?API_KEY=abc#frag") == "?API_KEY=***#frag")
        #expect(redactor.redact("Authorization: Bearer abc.def-ghi") == "Authorization: Bearer ***")
        #expect(redactor.redact("invalid key \(Self.planted) given") == "invalid key *** given")
        #expect(redactor.redact("q=k%2Fwith%2Bchars") == "q=***")
        #expect(redactor.redact("monkey=banana&keyword=x") == "monkey=banana&keyword=x")
        #expect(Redactor().redact("no secrets here") == "no secrets here")
    }

    @Test("a planted key appears in no error, log line, outcome or recorded fixture")
    func plantedKeyNeverLeaks() async throws {
        let upstream = try FixtureHarness()
        try upstream.write("query/GET@function=GLOBAL_QUOTE&symbol=IBM.json",
                           #"{"Global Quote": {"01. symbol": "IBM"}, "echo": "https://www.alphavantage.co/query?function=GLOBAL_QUOTE&apikey=\#(Self.planted)"}"#)
        try upstream.write("query/GET@function=OVERVIEW&symbol=IBM.json", #"{"error": "key \#(Self.planted) is not allowed here"}"#)
        try upstream.write("query/GET@function=OVERVIEW&symbol=IBM.meta.json", #"{"status": 401}"#)
        try upstream.write("query/GET@function=EARNINGS&symbol=IBM.json", AlphaVantageNotes.daily)
        #expect(upstream.files().contains { String(decoding: $0.contents, as: UTF8.self).contains(Self.planted) })

        let recorder = try FixtureHarness(upstreams: [FixtureServer.Upstream(prefix: "alpha_vantage", baseURL: upstream.server.baseURL)])
        let keyFile = try TemporaryDirectory("tickfold-secrets")
        try "\(Self.planted)\n".write(toFile: keyFile.file("keys"), atomically: false, encoding: .utf8)
        let keys = try SecretSource(environment: ["ALPHAVANTAGE_API_KEYS_FILE": keyFile.file("keys")]).keys("ALPHAVANTAGE_API_KEYS")
        let state = try TemporaryDirectory("tickfold-ledger")
        let logs = LogCapture()
        let clock = ManualClock(testEpoch)
        let client = try SourceClient(descriptor: .alphaVantage, baseURL: recorder.baseURL("alpha_vantage"), keys: keys,
                                      ledger: try QuotaLedger(directory: state.path), transport: URLSessionTransport(),
                                      retry: RetryPolicy(maxAttempts: 2), clock: clock, random: SeededRandomUnitSource(seed: 5),
                                      logger: logs.logger())
        var printed: [String] = []

        let success = try await client.fetch(SourceRequest(path: "/query", query: [("function", "GLOBAL_QUOTE"), ("symbol", "IBM")]))
        printed.append(String(describing: success))
        guard case .fetched(let response, _) = success else {
            Issue.record("success fixture not fetched: \(success)")
            return
        }
        #expect(String(decoding: response.body, as: UTF8.self).contains("apikey=***"))

        do {
            _ = try await client.fetch(SourceRequest(path: "/query", query: [("function", "OVERVIEW"), ("symbol", "IBM")]))
            Issue.record("a 401 did not throw")
        } catch {
            printed.append(String(describing: error))
            printed.append(error.localizedDescription)
            #expect((error as? FetchError)?.status == 401)
            #expect(String(describing: error).contains("apikey=***"))
        }

        let limited = try await client.fetch(SourceRequest(path: "/query", query: [("function", "EARNINGS"), ("symbol", "IBM")]))
        printed.append(String(describing: limited))
        guard case .stopped = limited else {
            Issue.record("the daily note did not stop the source: \(limited)")
            return
        }

        let unreachable = try SourceClient(descriptor: .alphaVantage, baseURL: URL(string: "http://127.0.0.1:1/alpha_vantage")!, keys: keys,
                                           transport: URLSessionTransport(), retry: RetryPolicy(maxAttempts: 2), clock: clock,
                                           random: SeededRandomUnitSource(seed: 5), logger: logs.logger())
        do {
            _ = try await unreachable.fetch(SourceRequest(path: "/query", query: [("function", "GLOBAL_QUOTE")]))
            Issue.record("a closed port did not throw")
        } catch {
            printed.append(String(describing: error))
            #expect((error as? FetchError)?.code == .transport)
        }

        let logLines = logs.all + recorder.logs.all + upstream.logs.all
        #expect(logLines.contains { $0.contains("rate limited") })
        #expect(logLines.contains { $0.contains("retrying after transport failure") })
        let recorded = recorder.files()
        #expect(recorded.count >= 4)
        let ledgerText = String(decoding: try Data(contentsOf: URL(fileURLWithPath: state.file("quota-ledger.json"))), as: UTF8.self)
        for text in printed + logLines + recorded.map(\.path) + recorded.map({ String(decoding: $0.contents, as: UTF8.self) }) + [ledgerText] {
            #expect(!text.contains(Self.planted), "key leaked in: \(text.replacingOccurrences(of: Self.planted, with: "<PLANTED>"))")
        }
    }
}

@Suite("Source endpoints", .onTestThreads)
struct SourceEndpointsTests {
    @Test("defaults to the real hosts; fixtures URL, per-source variables and the config file override")
    func resolution() throws {
        let defaults = try SourceEndpoints.resolve(environment: [:])
        #expect(defaults.baseURL("alpha_vantage")?.absoluteString == "https://www.alphavantage.co")
        let fixtures = try SourceEndpoints.resolve(environment: ["TICKFOLD_FIXTURES_URL": "http://127.0.0.1:8787/"])
        #expect(fixtures.baseURL("yahoo_finance")?.absoluteString == "http://127.0.0.1:8787/yahoo_finance")
        let mixed = try SourceEndpoints.resolve(
            environment: ["TICKFOLD_ENDPOINT_FRED": "http://127.0.0.1:9/fred-here"],
            configuration: ["fixtures": "http://127.0.0.1:7", "finnhub": "http://127.0.0.1:6/fh"])
        #expect(mixed.baseURL("fred")?.absoluteString == "http://127.0.0.1:9/fred-here")
        #expect(mixed.baseURL("finnhub")?.absoluteString == "http://127.0.0.1:6/fh")
        #expect(mixed.baseURL("coingecko")?.absoluteString == "http://127.0.0.1:7/coingecko")
        let error = #expect(throws: FetchError.self) {
            _ = try SourceEndpoints.resolve(environment: ["TICKFOLD_ENDPOINT_ALPHA_VANTAGE": "not a url"])
        }
        #expect(String(describing: error).contains("TICKFOLD_ENDPOINT_ALPHA_VANTAGE"))
    }

    @Test("the endpoints section of a JSON configuration file")
    func configurationSection() throws {
        let document = try ConfigurationDocument.parse(Array(#"{"log": "x", "endpoints": {"fixtures": "http://127.0.0.1:8787"}}"#.utf8), origin: "a.json")
        #expect(try document.section("endpoints", as: [String: String].self) == ["fixtures": "http://127.0.0.1:8787"])
        let numeric = try ConfigurationDocument.parse(Array(#"{"endpoints": {"fred": 3}}"#.utf8), origin: "b.json")
        let error = #expect(throws: IngestConfigurationError.self) { try numeric.section("endpoints", as: [String: String].self) }
        #expect(error?.description.hasPrefix("configuration file b.json: endpoints.fred: ") == true, "\(String(describing: error))")
    }
}
