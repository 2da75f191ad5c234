#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Throughput of the envelope codec on deterministic mixed events, for the SPEC §9 "log
/// sequential read + decode" target; the CLI's benchmark command calls it (release builds only
/// give meaningful figures). Times are the calling thread's CPU time, so that other work on a
/// shared machine does not count against the codec.
public enum EventCodecBenchmark {
    /// Generates `count` events of mixed types (same seed, same events), then times each path
    /// `rounds` times and keeps the best round. Figures are events per second, except
    /// `envelope.bytes` (mean stored envelope size). Keys:
    /// - `decode.trustStored`: stored canonical bytes → `Event`, stored id trusted (log reads);
    /// - `decode.recompute`: the same with the id recomputed (bytes from outside);
    /// - `decode.payload`: `decode.trustStored` plus the payload materialized as `JSONValue`;
    /// - `parse.json`: the generic JSON parser on the same bytes, for comparison;
    /// - `make.json`: `Event.make` from a `JSONValue` payload plus the canonical envelope;
    /// - `make.typed`: the same from a typed payload struct;
    /// - `encode`: canonical envelope bytes of an existing event.
    public static func run(count: Int = 100_000, rounds: Int = 3, seed: UInt64 = 0x7_1c4f) throws -> [String: Double] {
        precondition(count > 0 && rounds > 0)
        let samples = samples(count: count, seed: seed)
        let events = try samples.map { try $0.makeTyped() }
        let jsonPayloads = try samples.map { try $0.payload.json() }
        var writer = CanonicalJSONWriter(capacity: 1024)
        var stored: [[UInt8]] = []
        stored.reserveCapacity(count)
        var totalBytes = 0
        for event in events {
            writer.reset()
            try event.writeCanonical(into: &writer)
            stored.append(writer.bytes)
            totalBytes += writer.bytes.count
        }

        var results: [String: Double] = ["envelope.bytes": Double(totalBytes) / Double(count)]
        func measure(_ name: String, _ body: () throws -> Int) rethrows {
            var best = Double.infinity
            for _ in 0..<rounds {
                let start = threadCPUSeconds()
                let checked = try body()
                let elapsed = threadCPUSeconds() - start
                precondition(checked == count, "\(name): only \(checked) of \(count) events came out right")
                best = min(best, elapsed)
            }
            results[name] = Double(count) / best
        }

        // Checking one id byte keeps the check from touching the original events' memory.
        let idBytes = events.map { $0.id.bytes[31] }
        var decoder = EventDecoder()
        try measure("decode.trustStored") {
            var same = 0
            for (bytes, idByte) in zip(stored, idBytes) where try decoder.decode(bytes, verification: .trustStored).id.bytes[31] == idByte { same += 1 }
            return same
        }
        try measure("decode.recompute") {
            var same = 0
            for (bytes, idByte) in zip(stored, idBytes) where try decoder.decode(bytes, verification: .recompute).id.bytes[31] == idByte { same += 1 }
            return same
        }
        try measure("decode.payload") {
            var same = 0
            for bytes in stored {
                if case .object(let object) = try decoder.decode(bytes, verification: .trustStored).payload, !object.isEmpty { same += 1 }
            }
            return same
        }
        try measure("parse.json") {
            var objects = 0
            for bytes in stored {
                if case .object = try JSONValue.parse(bytes) { objects += 1 }
            }
            return objects
        }
        try measure("make.json") {
            var same = 0
            for (index, sample) in samples.enumerated() {
                let event = try sample.make(payload: jsonPayloads[index])
                writer.reset()
                try event.writeCanonical(into: &writer)
                if writer.bytes.count == stored[index].count { same += 1 }
            }
            return same
        }
        try measure("make.typed") {
            var same = 0
            for (index, sample) in samples.enumerated() {
                let event = try sample.makeTyped()
                writer.reset()
                try event.writeCanonical(into: &writer)
                if writer.bytes.count == stored[index].count { same += 1 }
            }
            return same
        }
        try measure("encode") {
            var same = 0
            for (index, event) in events.enumerated() {
                writer.reset()
                try event.writeCanonical(into: &writer)
                if writer.bytes.count == stored[index].count { same += 1 }
            }
            return same
        }
        return results
    }

    /// `count` deterministic events of the benchmark's mix (mostly bars, trades and tickers,
    /// some news and posts), for other benchmarks that need realistic events (log, relay).
    public static func sampleEvents(count: Int, seed: UInt64 = 0x7_1c4f) throws -> [Event] {
        try samples(count: count, seed: seed).map { try $0.makeTyped() }
    }

    static func samples(count: Int, seed: UInt64) -> [Sample] {
        var generator = SampleGenerator(seed: seed)
        return (0..<count).map { generator.sample(kind: $0) }
    }

    /// CPU time consumed by the calling thread.
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    /// One event's inputs before `Event.make`.
    struct Sample {
        let payload: any EventPayload
        let source: String
        let subject: String
        let occurredAt: Timestamp
        let observedAt: Timestamp
        let provenance: Provenance?

        func makeTyped() throws -> Event {
            try Event.make(payload, source: source, subject: subject, occurredAt: occurredAt, observedAt: observedAt, provenance: provenance)
        }

        func make(payload json: JSONValue) throws -> Event {
            try Event.make(
                type: Swift.type(of: payload).type, version: Swift.type(of: payload).version, source: source, subject: subject,
                occurredAt: occurredAt, payload: json, observedAt: observedAt, provenance: provenance)
        }
    }

    /// Realistic market-data events: mostly bars, trades and tickers, some news and posts.
    struct SampleGenerator {
        var random: SplitMix64

        init(seed: UInt64) { random = SplitMix64(seed: seed) }

        mutating func next() -> UInt64 { random.next() }

        mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }

        mutating func pick(_ choices: [String]) -> String { choices[int(0...(choices.count - 1))] }

        mutating func price() -> DecimalString {
            DecimalString("\(int(1...4999)).\(int(10...99))\(int(0...9))")!
        }

        mutating func ticker() -> String {
            pick(["SPY", "QQQ", "AAPL", "MSFT", "NVDA", "TSLA", "XLK", "XLF", "BRK.B", "005930.KS", "ARKK", "IWM"])
        }

        mutating func words(_ n: Int) -> String {
            let vocabulary = ["market", "rally", "shares", "earnings", "guidance", "rate", "cut", "Fed", "chips", "demand",
                              "record", "quarter", "\"beat\"", "miss", "outlook", "inflation", "삼성전자", "jobs", "yield", "AI"]
            var text = ""
            for i in 0..<n {
                if i > 0 { text += " " }
                text += pick(vocabulary)
            }
            return text
        }

        mutating func sample(kind index: Int) -> Sample {
            let day = Int64(19_000 + int(0...1500))
            let occurredAt = Timestamp(millisecondsSinceEpoch: day * 86_400_000 + Int64(int(0...86_399_999)))
            let observedAt = Timestamp(millisecondsSinceEpoch: occurredAt.millisecondsSinceEpoch + Int64(int(1000...600_000)))
            let date = LocalDate(daysSinceEpoch: day)
            let ticker = ticker()
            let fetch = Provenance(request: "\(pick(["yahoo", "alphavantage", "finnhub"])):\(ticker):\(int(1...99_999))")
            let payload: any EventPayload
            var source = "yahoo"
            var subject = ticker
            var provenance: Provenance? = fetch
            switch index % 10 {
            case 0, 1, 2:
                payload = DailyBar(date: date, open: price(), high: price(), low: price(), close: price(), adjClose: int(0...1) == 0 ? price() : nil, volume: int(0...90_000_000))
            case 3:
                payload = IntradayBar(interval: "5m", start: occurredAt, open: price(), high: price(), low: price(), close: price(), volume: int(0...2_000_000))
            case 4, 5:
                source = "finnhub"
                payload = Trade(price: price(), size: DecimalString("\(int(1...5000))")!, timestampMs: occurredAt.millisecondsSinceEpoch, conditions: int(0...2) == 0 ? ["1", "12"] : [])
            case 6:
                source = "bithumb"
                let coin = pick(["BTC", "ETH", "XRP", "SOL", "DOGE"])
                subject = coin
                provenance = nil
                payload = CryptoTicker(venue: .bithumb, market: "KRW-\(coin)", base: coin, quote: "KRW", lastPrice: price(), highPrice: price(), lowPrice: price(), volume24h: price(), changeRate24h: DecimalString("0.0\(int(10...999))")!, timestampMs: occurredAt.millisecondsSinceEpoch)
            case 7:
                source = "fred"
                subject = pick(["CPIAUCSL", "FEDFUNDS", "DGS10", "UNRATE"])
                payload = MacroObservation(seriesId: subject, date: date, value: "\(int(0...600)).\(int(0...99))")
            case 8:
                source = "alphavantage"
                let url = "https://news.example/\(int(1...9_999_999))/\(ticker.lowercased())"
                subject = url
                payload = NewsArticle(url: url, title: words(9), summary: words(int(10...30)), source: "Example Wire", publishedAt: occurredAt,
                                      authors: ["Jane Doe"], overallSentimentScore: DecimalString("0.\(int(100...999))")!, overallSentimentLabel: "Somewhat-Bullish",
                                      tickers: [TickerSentiment(ticker: ticker, relevance: DecimalString("0.\(int(100...999))")!, sentimentScore: DecimalString("0.\(int(100...999))")!, sentimentLabel: "Neutral")])
            default:
                source = "x"
                let handle = pick(["marketwatcher", "deltaone", "tradehawk"])
                subject = handle
                payload = SocialPost(platform: .x, postId: "\(next() >> 2)", authorId: "\(int(1...999_999_999))", authorHandle: handle, text: words(int(8...35)), createdAt: occurredAt,
                                     metrics: PostMetrics(likes: int(0...50_000), reposts: int(0...9000), replies: int(0...900)))
            }
            return Sample(payload: payload, source: source, subject: subject, occurredAt: occurredAt, observedAt: observedAt, provenance: provenance)
        }
    }
}
