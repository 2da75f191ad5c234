import Events
import Foundation
import Kafka
import Postgres
import Projections
import Redis
import Testing
import TickfoldTesting

/// A migrated schema and a Redis key namespace of its own on the shared servers: one
/// projection output, dumped canonically for comparisons and dropped afterwards.
final class ProjectorTarget {
    let schema = TestServices.uniqueName("projector")
    let namespace: String
    let conninfo: String
    let admin: PostgresConnection
    let redis: RedisConnection

    init(migrate: Bool = true) throws {
        namespace = schema + ":"
        conninfo = try #require(TestServices.postgres)
        admin = try PostgresConnection(conninfo)
        try admin.execute("SET TimeZone = 'UTC'")
        redis = try RedisConnection(url: try #require(TestServices.redis))
        if migrate { _ = try Migrator().migrate(admin, schema: schema) }
    }

    func engine(notifications: Bool = false) throws -> ProjectionEngine {
        let postgres = try PostgresSink(conninfo: conninfo, schema: schema, tables: CollectedTables.all)
        let redisSink = try RedisSink(url: try #require(TestServices.redis), namespace: namespace, notifications: notifications)
        return ProjectionEngine(projections: [CollectedProjection()], postgres: postgres, redis: redisSink)
    }

    /// Arguments that point a `tickfold project` child process at this target.
    var cliArguments: [String] {
        ["--schema", schema, "--namespace", namespace, "--pg", conninfo, "--redis", TestServices.redis ?? ""]
    }

    /// Every collected table and the rejects, each as `COPY` text ordered by its key.
    func dump() throws -> [String: String] {
        var out: [String: String] = [:]
        let relations = CollectedTables.all.map { ($0.name, $0.keyCount) } + [("projection_rejects", 2)]
        for (name, keyCount) in relations {
            let order = (1...keyCount).map(String.init).joined(separator: ", ")
            var bytes: [UInt8] = []
            _ = try admin.copyOut("COPY (SELECT * FROM \(schema).\(name) ORDER BY \(order)) TO STDOUT") { bytes += $0 }
            out[name] = String(decoding: bytes, as: UTF8.self)
        }
        return out
    }

    /// The keys (without namespace) the folds write for `logged` events, plus the derived
    /// hashes. The shared Redis holds millions of other keys, so scanning for a namespace is
    /// slow; tests dump and delete the keys they know instead.
    static func keys(of events: [Event]) throws -> [String] {
        var logged = events
        for index in logged.indices where logged[index].seq == nil { logged[index].seq = UInt64(index + 1) }
        let changes = try ProjectionEngine.fold(logged, projections: [CollectedProjection()])
        return Array(Set(changes.keys.map(\.key) + CollectedProjection().derivedHashes.map(\.key))).sorted()
    }

    /// Remembers keys to delete in `cleanUp`.
    func track(_ keys: [String]) {
        trackedKeys.formUnion(keys)
    }

    private var trackedKeys = Set<String>()

    /// `keys` (without namespace) with their values (`RedisDump.value`); absent keys are left out.
    func redisDump(_ keys: [String]) throws -> [String: [String]] {
        track(keys)
        var out: [String: [String]] = [:]
        for key in keys {
            if let value = try RedisDump.value(redis, namespace + key) { out[key] = value }
        }
        return out
    }

    func rows(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        try admin.query(sql.replacingOccurrences(of: "$schema", with: schema), parameters).rows
    }

    func count(_ table: String) throws -> Int {
        Int(try rows("SELECT count(*) FROM $schema.\(table)")[0][0] ?? "") ?? -1
    }

    /// The committed checkpoint positions of `collected`, by `source/partition`.
    func checkpoints() throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        for row in try rows("SELECT source, partition, position FROM $schema.projection_checkpoints WHERE projection = 'collected'") {
            out["\(row[0] ?? "")/\(row[1] ?? "")"] = Int64(row[2] ?? "")
        }
        return out
    }

    func cleanUp() {
        _ = try? admin.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        let keys = trackedKeys.sorted().map { namespace + $0 }
        for start in stride(from: 0, to: keys.count, by: 500) {
            _ = try? redis.command(["DEL"] + Array(keys[start..<min(start + 500, keys.count)]))
        }
    }
}

/// A fresh directory with a log of `count` mixed events (`ProjectorEvents.mixed`), and a
/// migrated target tracking their keys: the setup most projector tests start from.
final class LoggedTarget {
    let directory: TemporaryDirectory
    let logPath: String
    let log: EventLog
    let logged: [Event]
    let target: ProjectorTarget

    init(_ label: String, events count: Int) throws {
        directory = try TemporaryDirectory(label)
        logPath = directory.file("log")
        (log, logged) = try ProjectorEvents.log(try ProjectorEvents.mixed(count: count), in: logPath)
        target = try ProjectorTarget()
        target.track(try ProjectorTarget.keys(of: logged))
    }

    func cleanUp() {
        log.close()
        target.cleanUp()
    }
}

/// Deterministic mixed events of every collected family, with revisions (same natural key,
/// new content), repeats (identical events, which the log stores once) and poison events.
enum ProjectorEvents {
    static let tickers = (0..<60).map { "TK\($0)" } + ["SPY", "QQQ", "XLK", "XLF", "IWM"]
    static let etfs = ["SPY", "QQQ", "IWM", "EWY", "DIA", "SCHD", "XLK", "XLF", "XLV", "XLY", "XLC", "XLI", "XLP", "XLU", "XLRE"]

    /// `count` events; every 1000th is poison: a `bar.daily` v1 whose volume is negative, or
    /// a type the catalogue does not know.
    static func mixed(count: Int, seed: Int = 0) throws -> [Event] {
        var events: [Event] = []
        events.reserveCapacity(count)
        for n in 0..<count {
            events.append(try event(n + seed))
        }
        return events
    }

    /// `mixed(count:)` with seqs 1…count, as if logged: what Kafka tests publish directly.
    static func sequenced(count: Int) throws -> [Event] {
        var events = try mixed(count: count)
        for index in events.indices { events[index].seq = UInt64(index + 1) }
        return events
    }

    static func event(_ i: Int) throws -> Event {
        let baseDay: Int64 = 20_000  // 2024-10-04
        let dayIndex = Int64((i / 7) % 240)
        let date = LocalDate(daysSinceEpoch: baseDay + dayIndex)
        let at = Timestamp(millisecondsSinceEpoch: (baseDay + dayIndex) * 86_400_000 + 36_000_000 + Int64(i))
        let ticker = tickers[(i * 7) % tickers.count]
        let price = DecimalString("\(100 + i % 97).\(String(format: "%02d", i % 100))")!
        if i % 1000 == 999 {
            if i % 2000 == 1999 {
                return try Event.make(type: "bar.hourly", version: 1, source: "yahoo", subject: ticker, occurredAt: at, payload: ["close": "1", "n": .number(Double(i))])
            }
            return try Event.make(type: "bar.daily", version: 1, source: "yahoo", subject: ticker, occurredAt: at, payload: [
                "date": .string(date.description), "open": "1", "high": "1", "low": "1", "close": "1", "volume": .number(Double(-i)),
            ])
        }
        switch i % 20 {
        case 0, 1, 2, 3, 4:
            return try Event.make(DailyBar(date: date, open: price, high: price, low: price, close: price, adjClose: i % 3 == 0 ? price : nil, volume: 1000 + i % 50_000), source: "yahoo", subject: ticker, occurredAt: at)
        case 5, 6:
            let symbol = tickers[i % 20]
            let ms = (baseDay + dayIndex) * 86_400_000 + 50_400_000 + Int64((i / 20) % 400) * 1000
            return try Event.make(Trade(price: price, size: DecimalString("\(1 + i % 300)")!, timestampMs: ms, conditions: ["1"]), source: "finnhub", subject: symbol, occurredAt: Timestamp(millisecondsSinceEpoch: ms))
        case 7:
            let etf = etfs[i % etfs.count]
            return try Event.make(ETFProfile(name: "\(etf) Trust", etfType: (i / 20) % 2 == 0 ? "benchmark" : "sector", family: "Family \(i % 5)", expenseRatio: DecimalString("0.0\(i % 90 + 10)")!), source: "yahoo", subject: etf, occurredAt: at)
        case 8:
            let etf = etfs[i % 5]
            return try Event.make(ETFHolding(fund: etf, symbol: i % 11 == 0 ? nil : tickers[i % 30], name: "Holding \(i % 30)", weight: DecimalString("\(i % 20).5")!, asOf: LocalDate(daysSinceEpoch: baseDay + Int64(i % 10)), rank: 1 + i % 30), source: "yahoo", subject: etf, occurredAt: at)
        case 9:
            return try Event.make(IndexConstituent(index: "sp500", symbol: ticker, name: "Company \(ticker)", sector: ["Information Technology", "Financials", "Energy"][i % 3], dateAdded: LocalDate(daysSinceEpoch: 10_000 + Int64(i % 400))), source: "wikipedia", subject: ticker, occurredAt: at)
        case 10:
            return try Event.make(CompanyOverview(name: "Company \(ticker)", sector: "TECHNOLOGY", marketCap: DecimalString("\(1_000_000 + i)")!, peRatio: price), source: "alphavantage", subject: ticker, occurredAt: at)
        case 11:
            return try Event.make(BalanceSheet(period: (i / 20) % 2 == 0 ? .annual : .quarterly, fiscalDateEnding: LocalDate(daysSinceEpoch: baseDay - 90 * Int64(i % 8)), reportedCurrency: "USD", totalAssets: DecimalString("\(5_000_000 + i)")!), source: "alphavantage", subject: ticker, occurredAt: at)
        case 12:
            return try Event.make(EarningsCalendarEntry(name: "Company \(ticker)", reportDate: LocalDate(daysSinceEpoch: baseDay + Int64(i % 10) * 7), fiscalDateEnding: LocalDate(daysSinceEpoch: baseDay - Int64(i % 4) * 91), estimate: price, currency: "USD"), source: "alphavantage", subject: ticker, occurredAt: at)
        case 13:
            let category = MoverCategory.allCases[i % 3]
            return try Event.make(MarketMover(category: category, rank: 1 + i % 20, price: price, changeAmount: "1.25", changePercent: DecimalString("\(i % 40).5")!, volume: i), source: "alphavantage", subject: "MV\(i % 40)", occurredAt: at)
        case 14:
            let url = "https://news.example.com/story/\(i % 2000)"
            return try Event.make(NewsArticle(url: url, title: "Story \(i)", source: "Wire", publishedAt: at, authors: ["Reporter \(i % 9)"], overallSentimentScore: "0.1", tickers: [TickerSentiment(ticker: ticker, relevance: "0.5", sentimentScore: "0.2", sentimentLabel: "Neutral"), TickerSentiment(ticker: tickers[(i + 1) % tickers.count], relevance: DecimalString("0.\(i % 9 + 1)")!)]), source: "alphavantage", subject: url, occurredAt: at)
        case 15:
            let platform: SocialPlatform = (i / 20) % 2 == 0 ? .x : .truthsocial
            return try Event.make(SocialPost(platform: platform, postId: "\(1_000_000 + i % 3000)", authorId: "user\(i % 12)", authorHandle: "handle\(i % 12)", text: "Post \(i % 3000) take \(i)", createdAt: at, metrics: PostMetrics(likes: i % 1000, reposts: i % 17)), source: platform.rawValue, subject: "handle\(i % 12)", occurredAt: at)
        case 16:
            let platform: SocialPlatform = (i / 20) % 2 == 0 ? .x : .truthsocial
            return try Event.make(SocialProfile(platform: platform, userId: "user\(i % 12)", username: "handle\(i % 12)", followers: i, verified: (i / 20) % 3 == 0), source: platform.rawValue, subject: "handle\(i % 12)", occurredAt: at)
        case 17:
            let coin = ["BTC", "ETH", "XRP", "SOL", "DOGE"][i % 5]
            if (i / 20) % 2 == 0 {
                return try Event.make(CryptoListing(venue: .bithumb, symbol: coin, market: "KRW-\(coin)", koreanName: "코인\(i % 5)", englishName: coin), source: "bithumb", subject: coin, occurredAt: at)
            }
            return try Event.make(CryptoMarket(coinId: coin.lowercased(), symbol: coin.lowercased(), name: coin, vsCurrency: "usd", currentPrice: price, marketCapRank: 1 + i % 5), source: "coingecko", subject: coin, occurredAt: at)
        case 18:
            let coin = ["BTC", "ETH", "XRP", "SOL", "DOGE"][i % 5]
            let venue: CryptoVenue = i % 3 == 0 ? .coingecko : .bithumb
            return try Event.make(CryptoTicker(venue: venue, market: "KRW-\(coin)", base: coin, quote: "KRW", lastPrice: price, changeRate24h: "-0.01", timestampMs: at.millisecondsSinceEpoch), source: venue.rawValue, subject: coin, occurredAt: at)
        default:
            let series = ["CPIAUCSL", "FEDFUNDS", "DGS10", "T10YIE"][i % 4]
            return try Event.make(MacroObservation(seriesId: series, date: LocalDate(daysSinceEpoch: baseDay - Int64(i % 500)), value: i % 50 == 0 ? "." : "\(i % 10).\(i % 100)"), source: "fred", subject: series, occurredAt: at)
        }
    }

    /// Appends `events` to a new log in `directory`, returning the log (writer) and the logged
    /// events with their seqs.
    static func log(_ events: [Event], in directory: String) throws -> (EventLog, [Event]) {
        let log = try EventLog(directory: directory, options: EventLogOptions(durability: .noSync))
        var logged: [Event] = []
        for start in stride(from: 0, to: events.count, by: 20_000) {
            let chunk = Array(events[start..<min(start + 20_000, events.count)])
            for (event, outcome) in zip(chunk, try log.appendBlocking(events: chunk)) {
                guard case .appended(let seq) = outcome else { continue }
                var event = event
                event.seq = seq
                logged.append(event)
            }
        }
        return (log, logged)
    }
}

/// A `tickfold` child process whose output is collected, for signals and kills mid-run.
final class TickfoldChild: @unchecked Sendable {  // the process and pipes are only touched by the test that owns it
    let process = Process()
    private let stdout = Pipe()
    private let stderr = Pipe()
    /// Drains the pipes from the start, so a chatty child never blocks on a full one.
    private var output: OutputCollector?

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: try #require(TickfoldBinary.path))
        process.arguments = arguments
        // Info level at least: tests read the child's log (stop_ms, retries).
        process.environment = ProcessInfo.processInfo.environment.merging(["TICKFOLD_LOG_LEVEL": "info"]) { $1 }.merging(environment) { $1 }
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        output = OutputCollector(stdout: stdout, stderr: stderr)
    }

    /// Starts a tickfold service (`relay`, `project run --follow`) with a metrics listener and
    /// returns once it answers `/health`: its signal handlers are installed before that, so a
    /// signal sent next meets them, not a process still loading on a busy machine.
    static func service(_ arguments: [String], environment: [String: String] = [:]) async throws -> TickfoldChild {
        let port = try closedLocalPort()
        let child = try TickfoldChild(arguments + ["--metrics-address", "127.0.0.1:\(port)"], environment: environment)
        let serving = try await eventually { await LocalHTTP.get(port: port, "/health")?.status == 200 }
        if !serving {
            let result = try await onThread { try child.finish(timeout: .seconds(1)) }
            throw ServiceNotServing(command: arguments.first ?? "", log: String(result.stderr.suffix(4_000)))
        }
        return child
    }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Sends SIGTERM and waits for the exit on a thread of its own; returns the result and how
    /// long the child took to exit, as seen from here. The time is taken on that thread once
    /// the child has exited, not when this task resumes.
    func terminate() async throws -> (result: TickfoldBinary.Result, took: Duration) {
        let signalled = ContinuousClock.now
        signal(SIGTERM)
        let (result, exited) = try await onThread { (try self.finish(), ContinuousClock.now) }
        return (result, exited - signalled)
    }

    /// How soon a service must honour a stop while a broker request is outstanding. The relay
    /// and the Kafka source check for a stop between request slices of at most 800 ms (well
    /// under a second on a quiet machine), and the waits this guards against last 10 s; the
    /// margin is for a full parallel run on two cores.
    static let promptStop: Duration = .seconds(4)

    struct ServiceNotServing: Error, CustomStringConvertible {
        let command: String
        let log: String
        var description: String { "tickfold \(command) never answered /health; its log:\n\(log)" }
    }

    /// Expects a child stopped by `terminate` to have honoured the signal within `limit` by
    /// its own account (the `stop_ms` it logs, from handling the signal to the end of its
    /// command, before the process tears down), which a
    /// busy machine delaying the signal's delivery or this test's threads does not inflate,
    /// and within `limit` plus 10 s as seen from here (a hang, whatever its cause).
    static func expectStopped(_ result: TickfoldBinary.Result, took: Duration, within limit: Duration,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        let logged = result.stderr.firstMatch(of: /stop_ms=(\d+)/).flatMap { Int64($0.1) }
        guard let stopMs = logged else {
            Issue.record("the child logged no stop_ms; its log:\n\(result.stderr.suffix(4_000))", sourceLocation: sourceLocation)
            return
        }
        #expect(Duration.milliseconds(stopMs) < limit, "the child took \(stopMs) ms to stop; its log:\n\(result.stderr.suffix(4_000))",
                sourceLocation: sourceLocation)
        #expect(took < limit + .seconds(10), "the child exited \(took) after SIGTERM", sourceLocation: sourceLocation)
    }

    /// Waits for exit (reading the pipes so the child never blocks on them). The pipes only
    /// end when the child exits, so a watchdog thread stops a child still running after
    /// `timeout`: SIGTERM (a tickfold service then stops cleanly), then SIGKILL 10 s later.
    func finish(timeout: Duration = .seconds(120)) throws -> TickfoldBinary.Result {
        let exited = DispatchSemaphore(value: 0)
        let pid = process.processIdentifier
        let seconds = Double(timeout.components.seconds)
        Thread {
            guard exited.wait(timeout: .now() + seconds) == .timedOut else { return }
            kill(pid, SIGTERM)
            if exited.wait(timeout: .now() + 10) == .timedOut { kill(pid, SIGKILL) }
        }.start()
        let (out, err) = (output ?? OutputCollector(stdout: stdout, stderr: stderr)).wait()
        process.waitUntilExit()
        exited.signal()
        return TickfoldBinary.Result(status: process.terminationStatus, stdout: out, stderr: err)
    }
}

/// Publishing logged events to Kafka the way the relay does (value = canonical envelope with
/// `seq`, key = subject, headers `id`, `type`, `version`, `seq`), in any order.
enum ProjectorKafka {
    static var config: KafkaConfig { KafkaConfig(bootstrapServers: TestServices.kafka ?? "") }

    /// Sends `events` in the given order to `PREFIX.<family>` topics of `partitions`
    /// partitions (created here) and waits for every acknowledgement.
    static func publish(_ events: [Event], prefix: String, partitions: Int32, config: KafkaConfig = ProjectorKafka.config) throws {
        let admin = try KafkaAdmin(config: config)
        let producer = try KafkaProducer(config: config, idempotent: true)
        let naming = TopicNaming(prefix: prefix)
        var topics = Set<String>()
        var failures = 0
        for (index, event) in events.enumerated() {
            let topic = naming.topic(forType: event.type)
            if topics.insert(topic).inserted { _ = try admin.createTopic(topic, partitions: partitions) }
            let seq = event.seq ?? 0
            try producer.send(
                topic: topic, key: Array(event.subject.utf8), value: try event.canonicalBytes(includingSeq: true),
                headers: [("id", Array(event.id.hex.utf8)), ("type", Array(event.type.utf8)), ("version", Array(String(event.version).utf8)), ("seq", Array(String(seq).utf8))],
                tag: UInt64(index))
            if index % 10_000 == 0 { failures += producer.poll().filter { $0.error != nil }.count }
        }
        failures += try producer.flush(timeoutMs: 60_000).filter { $0.error != nil }.count
        guard failures == 0 else { throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "\(failures) messages not acknowledged by the broker"]) }
    }

    /// Deletes every topic named `PREFIX.*`.
    static func deleteTopics(prefix: String) {
        guard let admin = try? KafkaAdmin(config: config), let metadata = try? admin.metadata(timeoutMs: 5_000) else { return }
        for topic in metadata.topics where topic.name.hasPrefix(prefix + ".") {
            try? admin.deleteTopic(topic.name)
        }
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
/// Sleeps with `Task.sleep`, so the cooperative threads stay free for the projector tasks the
/// test is waiting on (this machine has two of them). The default timeout is long because a
/// full parallel run on two cores can hold a test back for tens of seconds; a condition that
/// holds returns at once.
func eventually(timeout: Duration = .seconds(90), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// Reads projected keys for comparisons, whatever their type.
enum RedisDump {
    /// A string as its one value, a hash as its sorted `field=value` pairs; nil when `key`
    /// does not exist.
    static func value(_ redis: RedisConnection, _ key: String) throws -> [String]? {
        switch try redis.command("TYPE", key).string {
        case "string":
            return [try redis.command("GET", key).string ?? ""]
        case "hash":
            let fields = try redis.command("HGETALL", key).array ?? []
            return stride(from: 0, to: fields.count - 1, by: 2).map { "\(fields[$0].string ?? "")=\(fields[$0 + 1].string ?? "")" }.sorted()
        case "none":
            return nil
        case let other:
            Issue.record("\(key) is a \(other ?? "?")")
            return nil
        }
    }

    /// The members of the `latest:*` value at `key` (strings as they are, numbers in
    /// decimal), after checking the value is canonical JSON.
    static func latest(_ redis: RedisConnection, _ key: String) throws -> [String: String] {
        let bytes = try #require(try redis.command("GET", key).bytes, "\(key) does not exist")
        let value = try JSONValue.parse(bytes)
        #expect(try CanonicalJSON.encode(value) == bytes, "\(key) holds canonical JSON")
        var members: [String: String] = [:]
        for member in try #require(value.objectValue).members {
            switch member.value {
            case .string(let text): members[member.key] = text
            case .number(let number): members[member.key] = String(Int64(number))
            case .null, .bool, .array, .object: members[member.key] = member.value.description
            }
        }
        return members
    }
}
