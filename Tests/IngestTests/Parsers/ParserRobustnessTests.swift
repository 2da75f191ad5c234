import Events
import Foundation
import Ingest
import Testing
import TickfoldTesting

/// One real sample per parser family with the context it needs.
struct FamilySample: CustomTestStringConvertible, Sendable {
    let name: String
    let path: String
    let context: ParseContext
    /// Yahoo recordings wrap the body.
    var yahoo = false

    var testDescription: String { name }

    func body() throws -> [UInt8] {
        yahoo ? try Samples.yahooBody(path) : try Samples.bytes(path)
    }

    static let all: [FamilySample] = [
        FamilySample(name: "yahoo chart", path: "chart-AAPL-2020-08-31-to-2020-11-07.json", context: parseContext("yahoo_finance", "chart"), yahoo: true),
        FamilySample(name: "yahoo quoteSummary", path: "quoteSummary-all-QQQ.json", context: parseContext("yahoo_finance", "quoteSummary", subject: "QQQ"), yahoo: true),
        FamilySample(name: "alpha vantage news", path: "api_samples/alpha_vantage/Legion808_Real-Time_News-Based_Trading_System/alpha_vantage_news.json",
                     context: parseContext("alpha_vantage", "NEWS_SENTIMENT")),
        FamilySample(name: "alpha vantage overview", path: "api_samples/alpha_vantage/RomelTorres_alpha_vantage/mock_company_overview",
                     context: parseContext("alpha_vantage", "OVERVIEW")),
        FamilySample(name: "finnhub news", path: "api_samples/finnhub/kxuff_stock_bigdata/finnhub_news.json", context: parseContext("finnhub", "company-news", subject: "AAPL")),
        FamilySample(name: "finnhub trades", path: "api_samples/finnhub/tspannhw_FLiPN-Py-Stocks/DERIVED_ws_trade_message_extracted_from_README.jsonl",
                     context: parseContext("finnhub", "trade")),
        FamilySample(name: "fred", path: "api_samples/fred/pansack_us-dashboardv2/GDP.json", context: parseContext("fred", "series/observations", subject: "GDP")),
        FamilySample(name: "coingecko markets", path: "api_samples/coingecko/RozanovIgor_monkey/coins_markets.json",
                     context: parseContext("coingecko", "coins/markets", parameters: ["vs_currency": "eur"])),
        FamilySample(name: "bithumb ticker", path: "api_samples/bithumb/guoxiaoyong_simple-useful/bithumb.json", context: parseContext("bithumb", "public/ticker", subject: "BTC")),
        FamilySample(name: "x search", path: "api_samples/x_twitter_api_v2/Legion808_Real-Time_News-Based_Trading_System/Twitter_data.json",
                     context: parseContext("x_twitter", "tweets/search/recent")),
        FamilySample(name: "newsapi", path: "api_samples/newsapi/Legion808_Real-Time_News-Based_Trading_System/news_data.json", context: parseContext("newsapi", "everything")),
    ]
}

@Suite("Parser robustness: broken variants and mutation fuzzing", .onTestThreads, .enabled(if: Samples.available, Samples.missingNote))
struct ParserRobustnessTests {
    @Test("a truncated body is a malformed-JSON error naming the byte and the truncation", arguments: FamilySample.all)
    func truncated(_ sample: FamilySample) throws {
        let body = try sample.body()
        #expect(try !parse(body, sample.context).events.isEmpty)
        let error = expectParseError(.malformedJSON, Array(body.prefix(body.count * 2 / 3)), sample.context)
        #expect(error?.location.hasPrefix("byte ") == true || error?.location.hasPrefix("line ") == true)
        #expect(error?.detail.contains("truncated") == true || sample.name == "finnhub trades")
    }

    @Test("an HTML error page is refused as such, with its text", arguments: FamilySample.all)
    func htmlPage(_ sample: FamilySample) {
        let error = expectParseError(.htmlPage, utf8("\n<html><body><h1>502 Bad Gateway</h1></body></html>"), sample.context)
        #expect(error?.detail.contains("502 Bad Gateway") == true)
    }

    @Test("an empty body is refused", arguments: FamilySample.all)
    func emptyBody(_ sample: FamilySample) {
        _ = expectParseError(.emptyBody, utf8("  \n"), sample.context)
    }

    @Test("a JSON document of the wrong shape is a precise error, never a crash", arguments: FamilySample.all)
    func wrongShape(_ sample: FamilySample) {
        for document in ["42", "\"text\"", "null", "[1,2,3]", "{\"unexpected\":true}"] {
            do {
                let result = try parse(utf8(document), sample.context)
                // An array root is valid for list endpoints: every element is then a per-item issue.
                #expect(result.events.isEmpty, "\(sample.name) \(document)")
                #expect(document.hasPrefix("[") && result.issues.count == 3, "\(sample.name) \(document): \(result.issues)")
            } catch let error as ParseError {
                #expect([ParseError.Code.wrongType, .missingField, .invalidValue].contains(error.code), "\(sample.name) \(document): \(error)")
                #expect(!error.location.isEmpty, "\(error)")
            } catch {
                Issue.record("\(sample.name): \(error)")
            }
        }
    }

    @Test("deterministic mutation fuzzing: every mutant parses or throws ParseError, and every event validates")
    func mutationFuzz() throws {
        var random = SplitMix64(seed: 0x7469636B666F6C64)
        var parsed = 0, refused = 0
        for sample in FamilySample.all {
            let original = try shrunk(sample.body())
            for _ in 0..<300 {
                let mutant = mutate(original, &random)
                do {
                    let result = try parse(mutant, sample.context)
                    for event in result.events { try EventCatalog.standard.validate(event) }
                    parsed += 1
                } catch is ParseError {
                    refused += 1
                }
            }
        }
        #expect(parsed + refused == FamilySample.all.count * 300)
        #expect(parsed > 100 && refused > 100, "parsed \(parsed), refused \(refused)")
    }

    @Test("CSV parsers survive mutations too")
    func csvFuzz() throws {
        let calendar = Array(try Samples.bytes("earnings_calendar/AlphaGeek_finapi_alphavantage/earnings_calendar.csv").prefix(1_500))
        let constituents = utf8("Symbol,Security,GICS Sector,GICS Sub-Industry,Headquarters Location,Date added,CIK,Founded\nMMM,3M,Industrials,Industrial Conglomerates,\"Saint Paul, Minnesota\",1957-03-04,0000066740,1902\n")
        var random = SplitMix64(seed: 42)
        for (body, context) in [(calendar, parseContext("alpha_vantage", "EARNINGS_CALENDAR")),
                                (constituents, parseContext("wikipedia", "sp500-constituents", asOf: "2025-01-01"))] {
            for _ in 0..<500 {
                do {
                    let result = try parse(mutate(body, &random), context)
                    for event in result.events { try EventCatalog.standard.validate(event) }
                } catch is ParseError {}
            }
        }
    }

    /// The body with every array cut to its first 6 elements (still a valid response), so
    /// thousands of mutants parse quickly.
    private func shrunk(_ body: [UInt8]) throws -> [UInt8] {
        guard let value = try? JSONValue.parse(body) else { return body }
        func cut(_ value: JSONValue) -> JSONValue {
            switch value {
            case .array(let elements): return .array(elements.prefix(6).map(cut))
            case .object(let object): return .object(JSONObject(object.members.map { JSONObject.Member($0.key, cut($0.value)) }))
            case .null, .bool, .number, .string: return value
            }
        }
        return try CanonicalJSON.encode(cut(value))
    }

    private func mutate(_ bytes: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        guard !bytes.isEmpty else { return bytes }
        var out = bytes
        let interesting: [[UInt8]] = [utf8("null"), utf8("\"\""), utf8("-1"), utf8("1e999"), utf8("[]"), utf8("{}"), utf8("\""), utf8(","), utf8("\u{0}"), [0xFF, 0xFE], utf8("\\u0000")]
        for _ in 0..<Int(random.next() % 3 + 1) {
            let position = Int(random.next() % UInt64(max(out.count, 1)))
            switch random.next() % 6 {
            case 0: if position < out.count { out[position] = UInt8(truncatingIfNeeded: random.next()) }
            case 1: out.removeSubrange(position..<min(out.count, position + Int(random.next() % 16) + 1))
            case 2: out.insert(contentsOf: interesting[Int(random.next() % UInt64(interesting.count))], at: position)
            case 3: out = Array(out.prefix(position))
            case 4:
                let end = min(out.count, position + Int(random.next() % 64))
                out.insert(contentsOf: out[position..<end], at: position)
            default:
                // Swap a digit for a letter or a quote to make wrong types.
                if let index = out[position...].firstIndex(where: { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
                    out[index] = random.next() % 2 == 0 ? UInt8(ascii: "x") : UInt8(ascii: "\"")
                }
            }
            if out.isEmpty { break }
        }
        return out
    }
}

