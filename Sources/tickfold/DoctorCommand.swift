import ArgumentParser
import Foundation
import Kafka
import LMDB
import Postgres
import Redis
import Zstd

/// `tickfold doctor`: one real round trip through every dependency, with versions.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check every dependency with a real round trip and print its runtime version.",
        discussion: """
            LMDB: append and read a record in a temporary environment. Kafka: produce and consume \
            a message through librdkafka. PostgreSQL: a bound-parameter query and a COPY. Redis: a \
            pipelined SET and GET. zstd: compress and decompress. Exit 1 if any check fails; each \
            failure names the service and the setting that points at it.
            """)

    @OptionGroup(title: "Connections") var connection: ConnectionOptions

    @Flag(help: "Print the checks as one JSON object: {\"ok\", \"checks\": [{\"name\", \"ok\", \"detail\"}]}.")
    var json = false

    /// One check's outcome: its detail (versions) when it passed, the error when it failed.
    private struct Outcome: Encodable {
        let name: String
        let ok: Bool
        let detail: String
    }

    private struct Report: Encodable {
        let ok: Bool
        let checks: [Outcome]
    }

    func run() throws {
        let checks: [(name: String, run: () throws -> String)] = [
            ("lmdb", checkLMDB),
            ("zstd", checkZstd),
            ("kafka", checkKafka),
            ("postgres", checkPostgres),
            ("redis", checkRedis),
        ]
        var outcomes: [Outcome] = []
        for check in checks {
            let outcome: Outcome
            do {
                outcome = Outcome(name: check.name, ok: true, detail: try check.run())
            } catch {
                outcome = Outcome(name: check.name, ok: false, detail: "\(error)")
            }
            outcomes.append(outcome)
            if !json { print("\(outcome.ok ? "ok  " : "FAIL")  \(check.name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(outcome.detail)") }
        }
        let failures = outcomes.filter { !$0.ok }.count
        if json { try printJSON(Report(ok: failures == 0, checks: outcomes)) }
        guard failures == 0 else {
            printError("\(failures) of \(checks.count) checks failed")
            throw ExitCode(1)
        }
    }

    private func checkLMDB() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tickfold-doctor-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let environment = try LMDBEnvironment(path: directory, mapSize: 1 << 20, maxDatabases: 1, flags: [])
        let database = try environment.openDatabase(named: "doctor", create: true)
        let key = Array("seq-1".utf8), value = Array("hello from tickfold".utf8)
        try environment.write { try $0.put(value, for: key, in: database, flags: .append) }
        let read = try environment.read { try $0.get(key, in: database) }
        guard read == value else { throw CLIError("LMDB read back \(read.map { String(decoding: $0, as: UTF8.self) } ?? "nothing")") }
        return "\(LMDBEnvironment.libraryVersion); appended and read 1 record"
    }

    private func checkZstd() throws -> String {
        let input = Array(String(repeating: #"{"type":"bar.daily","close":"187.35"}"#, count: 64).utf8)
        let frame = try ZstdCompressor(level: 3).compress(input)
        let output = try ZstdDecompressor().decompress(frame)
        guard output == input else { throw CLIError("zstd round trip changed the bytes") }
        return "zstd \(Zstd.versionString); \(input.count) → \(frame.count) → \(output.count) bytes"
    }

    private func checkKafka() throws -> String {
        let servers = try connection.kafkaServers()
        let runtime = Kafka.runtimeVersionComponents
        guard (runtime.major, runtime.minor) >= (2, 16) else {
            throw CLIError("""
                librdkafka \(Kafka.runtimeVersion) at run time cannot talk to Tansu; \
                put the bundled 2.16 library first: eval "$(./dev env)" (sets LD_LIBRARY_PATH)
                """)
        }
        do {
            let config = KafkaConfig(bootstrapServers: servers.value, ["message.timeout.ms": "10000"])
            let topic = "tickfold.doctor.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
            let admin = try KafkaAdmin(config: config)
            _ = try admin.createTopic(topic, partitions: 1, timeoutMs: 10_000)
            defer { try? admin.deleteTopic(topic) }
            let producer = try KafkaProducer(config: config, idempotent: true)
            let payload = Array("doctor round trip".utf8)
            try producer.send(topic: topic, partition: 0, key: Array("doctor".utf8), value: payload, headers: [("seq", Array("1".utf8))], tag: 1)
            let reports = try producer.flush(timeoutMs: 10_000)
            guard let report = reports.first, report.error == nil, let offset = report.offset else {
                throw CLIError("no delivery report: \(reports.first?.error.map { "\($0)" } ?? "timed out")")
            }
            let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: servers.value))
            try consumer.assign([KafkaTopicPartitionOffset(topic: topic, partition: 0, offset: .at(offset))])
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if let record = try consumer.poll(timeoutMs: 200), record.value == payload {
                    return "librdkafka \(Kafka.runtimeVersion) (run time); produced and consumed 1 message at offset \(offset)"
                }
            }
            throw CLIError("the produced message did not come back within 10 s")
        } catch let error as CLIError {
            throw CLIError("Kafka at \(servers): \(error)")
        } catch {
            throw CLIError("Kafka at \(servers): \(error)")
        }
    }

    private func checkPostgres() throws -> String {
        let setting = try connection.postgres()
        do {
            let db = try PostgresConnection(setting.value)
            let echoed = try db.query("SELECT $1::text || ' ' || $2::int", ["bound", "42"])
            guard echoed.value(0, 0) == "bound 42" else { throw CLIError("bound parameters came back as \(echoed.value(0, 0) ?? "NULL")") }
            let table = "tickfold_doctor_\(getpid())"
            _ = try db.execute("CREATE TEMP TABLE \(try PostgresConnection.quoteIdentifier(table)) (symbol text PRIMARY KEY, close numeric)")
            let copied = try db.copyIn("COPY \(try PostgresConnection.quoteIdentifier(table)) (symbol, close) FROM STDIN") { writer in
                try writer.writeRow(["SPY", "600.12"])
                try writer.writeRow(["QQQ", "520.5"])
            }
            let sum = try db.query("SELECT count(*), sum(close) FROM \(try PostgresConnection.quoteIdentifier(table))")
            guard sum.value(0, 0) == "2", sum.value(0, 1) == "1120.62" else {
                throw CLIError("COPY read back \(sum.value(0, 0) ?? "?") rows summing to \(sum.value(0, 1) ?? "?")")
            }
            return "server \(Self.postgresVersion(db.serverVersion)), libpq \(Self.postgresVersion(PostgresConnection.libraryVersion)); bound query and COPY of \(copied) rows"
        } catch let error as CLIError {
            throw CLIError("PostgreSQL (\(setting.origin)): \(error)")
        } catch {
            throw CLIError("PostgreSQL (\(setting.origin)): \(error)")
        }
    }

    private func checkRedis() throws -> String {
        let setting = try connection.redisURL()
        do {
            let redis = try RedisConnection(url: setting.value)
            let key = "tickfold:doctor:\(getpid())"
            let replies = try redis.pipeline([
                ["SET", key, "ok", "EX", "60"],
                ["GET", key],
                ["DEL", key],
            ])
            guard replies.count == 3, replies[1].string == "ok" else { throw CLIError("pipelined GET returned \(replies)") }
            return "server \(try redis.serverVersion()), hiredis \(RedisConnection.hiredisVersion); pipelined SET, GET, DEL"
        } catch let error as CLIError {
            throw CLIError("Redis (\(setting.origin)): \(error)")
        } catch {
            throw CLIError("Redis (\(setting.origin)): \(error)")
        }
    }

    private static func postgresVersion(_ number: Int) -> String {
        number >= 100_000 ? "\(number / 10_000).\(number % 10_000)" : "\(number / 10_000).\(number / 100 % 100).\(number % 100)"
    }
}
