import Events
import Foundation
import Kafka
import Logging
import Postgres
import Redis

/// The consumer pattern of the system Tickfold replaces (SPEC §9, seeds' "이중 저장소 공통
/// 패턴"): for every message, decode it, one autocommit `INSERT … ON CONFLICT DO NOTHING`
/// with bound parameters, then two Redis `SET … EX` (the seed's `realtime:*:{timestamp}` and
/// `latest:*` JSON strings with its 5-day TTL), each its own round trip, nothing batched.
/// Run on the rebuild's own daily bars, so `vs_seed_ratio` compares the same events.
///
/// Two renditions: the seed's own stack (Python: a confluent-kafka consumer, psycopg,
/// redis-py; the system as it ran, and how SPEC §9's ~2,350 msgs/s was measured), and the
/// same per-message round trips from Swift without Kafka, a stand-in that flatters the seed
/// (no consumer, no interpreter) and so bounds the ratio from below.
struct BenchSeedPattern {
    let scratch: BenchScratch
    let tickers: Int

    /// The bars' canonical envelopes, as the seed's producers would have sent them.
    func messages(count: Int) throws -> [[UInt8]] {
        let tickers = self.tickers
        return try BenchEvents.parallel(0..<count) { try BenchEvents.dailyBar($0, tickers: tickers, revision: 0) }
            .map { try $0.canonicalBytes(includingSeq: false) }
    }

    /// Messages per second through the pattern from Swift, over `messages`.
    func swiftMessagesPerSecond(_ messages: [[UInt8]]) throws -> Double {
        let table = try createTable("seed_pattern_bars")
        let postgres = try PostgresConnection(scratch.conninfo)
        let redis = try RedisConnection(url: scratch.redisURL)
        let insert = "INSERT INTO \(table) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"
        var decoder = EventDecoder()
        let elapsed = try ContinuousClock().measure {
            for message in messages {
                let event = try decoder.decode(message, verification: .trustStored)
                let bar = try event.payload(as: DailyBar.self)
                _ = try postgres.query(insert, [
                    event.subject, bar.date.description, bar.open.description, bar.high.description, bar.low.description,
                    bar.close.description, bar.adjClose?.description, String(bar.volume),
                ])
                let value = #"{"symbol":"\#(event.subject)","date":"\#(bar.date)","close":"\#(bar.close)","volume":\#(bar.volume),"source":"yahoo"}"#
                try Self.expectOK(redis.command("SET", scratch.namespace + "seed:realtime:\(event.subject):\(bar.date)", value, "EX", "432000"))
                try Self.expectOK(redis.command("SET", scratch.namespace + "seed:latest:\(event.subject)", value, "EX", "432000"))
            }
        }
        try expectRows(table, messages.count)
        return Double(messages.count) / elapsed.seconds
    }

    /// Messages per second through the seed's Python consumer (`python`, with
    /// confluent-kafka, psycopg and redis, as `./dev` installs them) reading `messages` from
    /// a fresh one-partition topic on `kafka`; timed from its first message to its last.
    func pythonMessagesPerSecond(_ messages: [[UInt8]], python: String, kafka: String) throws -> Double {
        let table = try createTable("seed_python_bars")
        let config = KafkaConfig(bootstrapServers: kafka)
        var logger = Logger(label: "tickfold.bench.seed")
        logger.logLevel = .warning
        let topic = "bench-seed-" + scratch.namespace.filter { $0.isLetter || $0.isNumber }
        let admin = try KafkaAdmin(config: config, logger: logger)
        _ = try admin.createTopic(topic, partitions: 1)
        defer { try? admin.deleteTopic(topic) }
        let producer = try KafkaProducer(config: config, idempotent: false, logger: logger)
        for (index, message) in messages.enumerated() {
            try producer.send(topic: topic, key: nil, value: message, tag: UInt64(index))
        }
        let failed = try producer.flush(timeoutMs: 60_000).filter { $0.error != nil }
        guard failed.isEmpty else { throw CLIError("\(failed.count) seed messages were not delivered to \(kafka): \(failed[0].error!)") }

        let script = "\(scratch.directory)/seed_consumer.py"
        try Self.consumerScript.write(toFile: script, atomically: false, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, kafka, topic, String(messages.count), scratch.conninfo, scratch.redisURL, table, scratch.namespace]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let figures = try? JSONSerialization.jsonObject(with: printed) as? [String: Double],
              let seconds = figures["seconds"], seconds > 0
        else {
            throw CLIError("the seed's Python consumer (\(python)) failed: \(String(decoding: complaint, as: UTF8.self).suffix(2000))")
        }
        try expectRows(table, messages.count)
        return Double(messages.count) / seconds
    }

    private func createTable(_ name: String) throws -> String {
        let table = "\(scratch.schema).\(name)"
        try scratch.admin.execute("""
            CREATE TABLE \(table) (symbol text, date date, open numeric, high numeric, low numeric, close numeric,
                                   adj_close numeric, volume bigint, PRIMARY KEY (symbol, date))
            """)
        return table
    }

    private func expectRows(_ table: String, _ count: Int) throws {
        let stored = try scratch.admin.query("SELECT count(*) FROM \(table)").value(0, 0)
        guard stored == String(count) else { throw CLIError("the seed pattern stored \(stored ?? "no") rows in \(table) for \(count) messages") }
    }

    private static func expectOK(_ reply: RedisReply) throws {
        if let message = reply.errorMessage { throw CLIError("Redis refused a SET of the seed pattern: \(message)") }
    }

    /// The seed's consumer loop (`for message in consumer: insert_to_postgres(data);
    /// store_to_redis(data)`), on the same bars and with the same statements as the Swift
    /// rendition. Prints `{"messages": N, "seconds": S}`.
    static let consumerScript = #"""
        import json, sys, time
        import psycopg, redis
        from confluent_kafka import Consumer

        bootstrap, topic, count, conninfo, redis_url, table, namespace = sys.argv[1:8]
        count = int(count)
        postgres = psycopg.connect(conninfo, autocommit=True)
        cursor = postgres.cursor()
        cache = redis.Redis.from_url(redis_url)
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic, "auto.offset.reset": "earliest"})
        consumer.subscribe([topic])
        insert = f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
        done, started, deadline = 0, None, time.monotonic() + 120
        while done < count:
            if time.monotonic() > deadline:
                sys.exit(f"consumed {done} of {count} messages from {topic} in 120 s")
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                sys.exit(f"consumer error: {message.error()}")
            if started is None:
                started = time.perf_counter()
            envelope = json.loads(message.value())
            symbol, bar = envelope["subject"], envelope["payload"]
            cursor.execute(insert, (symbol, bar["date"], bar["open"], bar["high"], bar["low"], bar["close"],
                                    bar.get("adjClose"), bar["volume"]))
            value = json.dumps({"symbol": symbol, "date": bar["date"], "close": bar["close"],
                                "volume": bar["volume"], "source": "yahoo"})
            cache.set(f"{namespace}seed:realtime:{symbol}:{bar['date']}", value, ex=432000)
            cache.set(f"{namespace}seed:latest:{symbol}", value, ex=432000)
            done += 1
        elapsed = time.perf_counter() - started
        consumer.close()
        print(json.dumps({"messages": done, "seconds": elapsed}))
        """#
}
