import Foundation
@testable import Kafka
import Logging
import Testing
import TickfoldTesting

/// Checks that need no broker: they must pass with any reachable librdkafka build.
@Suite("Kafka client without a broker", .onTestThreads)
struct KafkaOfflineTests {
    @Test("a poll keeps the records after a consumer error (it concerns one partition; the fetch positions have passed them) and reports the first error")
    func pollKeepsRecordsAfterAnError() {
        func record(_ partition: Int32, _ offset: Int64) -> KafkaConsumer.Polled {
            .record(KafkaRecord(topic: "t", partition: partition, offset: offset, value: Array("\(offset)".utf8)))
        }
        let first = KafkaError(code: .unknownTopicOrPartition, operation: "consume gone[0]", message: "unknown topic")
        let second = KafkaError(code: .brokerUnreachable, operation: "consume t[1]", message: "down")
        let (records, failure) = KafkaConsumer.gather([
            record(0, 7), .failure(first), record(1, 3), .partitionEnd, record(0, 8), .failure(second), record(1, 4),
        ])
        #expect(records.map { "\($0.partition)/\($0.offset)" } == ["0/7", "1/3", "0/8", "1/4"])
        #expect(failure?.code == .unknownTopicOrPartition && failure?.operation == "consume gone[0]")
        #expect(KafkaConsumer.gather([.partitionEnd]).records.isEmpty && KafkaConsumer.gather([.partitionEnd]).failure == nil)
    }

    @Test("the loaded librdkafka is 2.16 or newer (Debian's 2.0.2 cannot talk to Tansu)")
    func runtimeVersion() {
        let (major, minor, _) = Kafka.runtimeVersionComponents
        #expect(
            major > 2 || (major == 2 && minor >= 16),
            """
            librdkafka \(Kafka.runtimeVersion) is loaded (LD_LIBRARY_PATH=\(ProcessInfo.processInfo.environment["LD_LIBRARY_PATH"] ?? "unset")); \
            Tansu needs 2.16: run tests after `eval "$(./dev env)"`, which puts .local/lib/librdkafka.so.1 first on LD_LIBRARY_PATH
            """)
        #expect(Kafka.runtimeVersion.hasPrefix("\(major).\(minor)."))
    }

    @Test("an unknown property is a typed error naming it")
    func unknownProperty() throws {
        let error = try #require(throws: KafkaError.self) {
            _ = try KafkaProducer(config: KafkaConfig(bootstrapServers: "127.0.0.1:1", ["linger.msec": "5"]), idempotent: true)
        }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("linger.msec"))
    }

    @Test("an invalid value is a typed error naming the property")
    func invalidValue() throws {
        let error = try #require(throws: KafkaError.self) {
            _ = try KafkaConsumer(config: KafkaConfig(bootstrapServers: "127.0.0.1:1", ["fetch.wait.max.ms": "soon"]))
        }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("fetch.wait.max.ms"))
    }

    @Test("a later value for a key replaces the earlier one, keeping its place")
    func configOrder() {
        var config = KafkaConfig(bootstrapServers: "a:1", ["linger.ms": "5", "acks": "all"])
        config["linger.ms"] = "7"
        config.bootstrapServers = "b:2"
        #expect(config.properties.map(\.key) == ["bootstrap.servers", "linger.ms", "acks"])
        #expect(config["linger.ms"] == "7")
        #expect(config.bootstrapServers == "b:2")
    }

    @Test("a closed port is reported as an unreachable broker naming bootstrap.servers, in bounded time")
    func unreachableBroker() throws {
        let address = "127.0.0.1:\(try closedLocalPort())"
        let admin = try KafkaAdmin(config: KafkaConfig(bootstrapServers: address), logger: quietLogger)
        let started = ContinuousClock.now
        let error = try #require(throws: KafkaError.self) { _ = try admin.metadata(timeoutMs: 1_500) }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(error.code == .brokerUnreachable)
        #expect(error.description.contains("bootstrap.servers=\(address)"))

        let watermarkError = try #require(throws: KafkaError.self) {
            _ = try admin.watermarks(topic: "anything", partition: 0, timeoutMs: 1_000)
        }
        #expect(watermarkError.code == .brokerUnreachable)

        let creationError = try #require(throws: KafkaError.self) {
            _ = try admin.createTopic("anything", partitions: 1, timeoutMs: 1_000)
        }
        #expect(creationError.code == .brokerUnreachable || creationError.code == .timedOut)
    }

    @Test("a producer to a closed port fails its flush with a timeout naming bootstrap.servers")
    func unreachableProducer() throws {
        let address = "127.0.0.1:\(try closedLocalPort())"
        let producer = try KafkaProducer(
            config: KafkaConfig(bootstrapServers: address, ["message.timeout.ms": "800"]), idempotent: false,
            logger: quietLogger)
        try producer.send(topic: "nowhere", key: nil, value: [1, 2, 3], tag: 42)
        let error = try #require(throws: KafkaError.self) { _ = try producer.flush(timeoutMs: 300) }
        #expect(error.code == .timedOut)
        #expect(error.message.contains(address))
        var reports: [DeliveryReport] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while reports.isEmpty, ContinuousClock.now < deadline { reports += producer.poll(timeoutMs: 100) }
        let report = try #require(reports.first)
        #expect(report.tag == 42)
        #expect(report.offset == nil)
        #expect(report.error?.code == .timedOut)
    }

    @Test("a probe's verdict at an offset: the message there; removed only when the partition's log starts after it (retention, also when it emptied the partition); absent when the partition ends first or has a gap its start does not explain; undecided until one of these is seen")
    func probeVerdicts() {
        let at = KafkaRecord(topic: "t", partition: 0, offset: 41, value: [])
        let later = KafkaRecord(topic: "t", partition: 0, offset: 50, value: [])
        func describe(_ probe: KafkaOffsetProbe?) -> String {
            switch probe {
            case .message(let record)?: "message \(record.offset)"
            case .absent(let end)?: "absent \(end.map(String.init) ?? "-")"
            case .removed(let next)?: "removed \(next)"
            case .unanswered?: "unanswered"
            case nil: "undecided"
            }
        }
        #expect(describe(KafkaConsumer.probeVerdict(at: 41, first: at, end: nil, start: 0)) == "message 41")
        #expect(describe(KafkaConsumer.probeVerdict(at: 41, first: later, end: nil, start: 50)) == "removed 50")
        #expect(describe(KafkaConsumer.probeVerdict(at: 41, first: later, end: nil, start: 0)) == "absent -")
        #expect(describe(KafkaConsumer.probeVerdict(at: 41, first: later, end: nil, start: nil)) == "absent -")
        // Retention emptied the partition: it starts and ends at 60, past the offset.
        #expect(describe(KafkaConsumer.probeVerdict(at: 41, first: nil, end: 60, start: 60)) == "removed 60")
        #expect(describe(KafkaConsumer.probeVerdict(at: 41, first: nil, end: 41, start: 0)) == "absent 41")
        #expect(describe(KafkaConsumer.probeVerdict(at: 41, first: nil, end: 30, start: nil)) == "absent 30")
        #expect(describe(KafkaConsumer.probeVerdict(at: 41, first: nil, end: 60, start: 0)) == "undecided")
        #expect(describe(KafkaConsumer.probeVerdict(at: 41, first: nil, end: nil, start: nil)) == "undecided")
    }

    /// Connection-refused errors are expected here; keep them out of the test output.
    private var quietLogger: Logger {
        var logger = Logger(label: "tickfold.kafka.test")
        logger.logLevel = .critical
        return logger
    }
}

@Suite("Kafka client against the Tansu broker", .onTestThreads, .serialized, .enabled(if: TestServices.hasKafka), .timeLimit(.minutes(5)))
struct KafkaBrokerTests {
    let config = KafkaConfig(bootstrapServers: TestServices.kafka ?? "")
    let admin: KafkaAdmin

    init() throws {
        admin = try KafkaAdmin(config: config)
    }

    private func makeTopic(_ prefix: String, partitions: Int32) throws -> String {
        let name = TestServices.uniqueName(prefix)
        #expect(try admin.createTopic(name, partitions: partitions) == .created)
        return name
    }

    @Test("a topic is created, reported as existing the second time, listed, and deleted")
    func createAndDeleteTopic() throws {
        let name = try makeTopic("kafka_admin", partitions: 3)
        #expect(try admin.createTopic(name, partitions: 3) == .alreadyExisted)
        let topic = try #require(try admin.metadata(timeoutMs: 5_000).topic(name))
        #expect(topic.partitionCount == 3)
        #expect(topic.error == nil)

        try admin.deleteTopic(name)
        #expect(try admin.metadata(timeoutMs: 5_000).topic(name) == nil)
        let error = try #require(throws: KafkaError.self) { try admin.deleteTopic(name) }
        #expect(error.code == .unknownTopicOrPartition)
    }

    @Test("10k keyed messages with headers: every delivery reported with its offset, read back intact and in order per key")
    func produceAndConsume() throws {
        let topic = try makeTopic("kafka_roundtrip", partitions: 3)
        defer { try? admin.deleteTopic(topic) }
        let count = 10_000
        let producer = try KafkaProducer(config: config, idempotent: true)
        func key(_ i: Int) -> [UInt8] { Array("subject-\(i % 37)".utf8) }
        func value(_ i: Int) -> [UInt8] { Array("{\"seq\":\(i),\"pad\":\"\(String(repeating: "x", count: i % 100))\"}".utf8) }

        var reports: [DeliveryReport] = []
        for i in 0..<count {
            try producer.send(
                topic: topic, key: key(i), value: value(i),
                headers: [("seq", Array(String(i).utf8)), ("type", Array("test.event".utf8)), ("empty", [])],
                tag: UInt64(i))
            if i % 1_000 == 999 { reports += producer.poll() }
        }
        reports += try producer.flush(timeoutMs: 30_000)
        #expect(producer.fatalFailure == nil)

        #expect(reports.count == count)
        #expect(reports.allSatisfy { $0.error == nil && $0.topic == topic })
        #expect(Set(reports.map(\.tag)) == Set((0..<count).map(UInt64.init)))
        var offsetByTag: [UInt64: KafkaTopicPartitionOffset] = [:]
        for report in reports {
            let offset = try #require(report.offset, "delivery of \(report.tag) has no offset")
            offsetByTag[report.tag] = KafkaTopicPartitionOffset(topic: topic, partition: report.partition, offset: .at(offset))
        }
        #expect(Set(offsetByTag.values).count == count, "two messages got the same partition and offset")
        #expect(Set(reports.map(\.partition)) == [0, 1, 2], "keys should spread over all partitions")

        let consumer = try KafkaConsumer(config: config.withProperty("enable.partition.eof", "true"))
        try consumer.assign((0..<3).map { KafkaTopicPartitionOffset(topic: topic, partition: $0, offset: .beginning) })
        var records: [KafkaRecord] = []
        let deadline = ContinuousClock.now + .seconds(90)
        while records.count < count || consumer.partitionsAtEnd.count < 3, ContinuousClock.now < deadline {
            records += try consumer.poll(max: 1_000, timeoutMs: 500)
        }
        #expect(records.count == count)
        #expect(consumer.partitionsAtEnd.count == 3)

        var lastSeqByKey: [[UInt8]: Int] = [:]
        var seen = Set<Int>()
        for record in records.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            let seqHeader = try #require(record.header("seq"))
            let seq = try #require(Int(String(decoding: seqHeader, as: UTF8.self)))
            #expect(seen.insert(seq).inserted, "seq \(seq) read twice")
            #expect(record.key == key(seq))
            #expect(record.value == value(seq))
            #expect(record.headers.map(\.0) == ["seq", "type", "empty"])
            #expect(record.header("type") == Array("test.event".utf8))
            #expect(record.header("empty") == [])
            #expect(record.timestamp != nil)
            #expect(offsetByTag[UInt64(seq)] == KafkaTopicPartitionOffset(topic: topic, partition: record.partition, offset: .at(record.offset)))
            if let previous = lastSeqByKey[record.key!] {
                #expect(previous < seq, "key \(String(decoding: record.key!, as: UTF8.self)) out of order")
            }
            lastSeqByKey[record.key!] = seq
        }
        #expect(seen.count == count)
    }

    @Test("a consumer assigned an explicit offset starts exactly there")
    func explicitOffset() throws {
        let topic = try makeTopic("kafka_offset", partitions: 1)
        defer { try? admin.deleteTopic(topic) }
        let producer = try KafkaProducer(config: config, idempotent: true)
        for i in 0..<20 { try producer.send(topic: topic, partition: 0, key: nil, value: [UInt8(i)], tag: UInt64(i)) }
        let reports = try producer.flush(timeoutMs: 10_000)
        #expect(reports.map(\.offset) == (0..<20).map { Int64($0) })

        let consumer = try KafkaConsumer(config: config)
        try consumer.assign([KafkaTopicPartitionOffset(topic: topic, partition: 0, offset: .at(13))])
        var records: [KafkaRecord] = []
        let deadline = ContinuousClock.now + .seconds(90)
        while records.count < 7, ContinuousClock.now < deadline {
            if let record = try consumer.poll(timeoutMs: 500) { records.append(record) }
        }
        #expect(records.map(\.offset) == Array(13..<20))
        #expect(records.map(\.value) == (13..<20).map { [UInt8($0)] })
        #expect(records.allSatisfy { $0.key == nil && $0.headers.isEmpty })

        #expect(try consumer.poll(timeoutMs: 500) == nil)
    }

    @Test("a consumer assigned .end reads only messages produced afterwards")
    func endOffset() throws {
        let topic = try makeTopic("kafka_end", partitions: 1)
        defer { try? admin.deleteTopic(topic) }
        // One flush per message: Tansu 0.6.0 resolves .end to the last batch's base offset + 1.
        let producer = try KafkaProducer(config: config, idempotent: true)
        for i in 0..<5 {
            try producer.send(topic: topic, partition: 0, key: nil, value: [UInt8(i)], tag: UInt64(i))
            _ = try producer.flush(timeoutMs: 10_000)
        }
        let consumer = try KafkaConsumer(config: config)
        try consumer.assign([KafkaTopicPartitionOffset(topic: topic, partition: 0, offset: .end)])
        #expect(try consumer.poll(timeoutMs: 1_500) == nil)
        try producer.send(topic: topic, partition: 0, key: nil, value: [99], tag: 99)
        _ = try producer.flush(timeoutMs: 10_000)
        var record: KafkaRecord?
        let deadline = ContinuousClock.now + .seconds(90)
        while record == nil, ContinuousClock.now < deadline { record = try consumer.poll(timeoutMs: 500) }
        #expect(record?.offset == 5)
        #expect(record?.value == [99])
    }

    @Test("watermarks match what was produced; an unknown topic is a typed error")
    func watermarks() throws {
        let topic = try makeTopic("kafka_watermarks", partitions: 2)
        defer { try? admin.deleteTopic(topic) }
        #expect(try admin.watermarks(topic: topic, partition: 0, timeoutMs: 5_000) == (0, 0))

        // One flush per message, so each is its own batch: Tansu 0.6.0 reports the last
        // batch's base offset + 1 as the high watermark (see KafkaAdmin.watermarks).
        let producer = try KafkaProducer(config: config, idempotent: true)
        for i in 0..<12 {
            try producer.send(topic: topic, partition: 1, key: nil, value: [UInt8(i)], tag: UInt64(i))
            _ = try producer.flush(timeoutMs: 10_000)
        }
        #expect(try producer.watermarks(topic: topic, partition: 1, timeoutMs: 5_000) == (0, 12))
        #expect(try admin.watermarks(topic: topic, partition: 0, timeoutMs: 5_000) == (0, 0))

        let error = try #require(throws: KafkaError.self) {
            _ = try admin.watermarks(topic: TestServices.uniqueName("kafka_missing"), partition: 0, timeoutMs: 5_000)
        }
        #expect(error.code == .unknownTopicOrPartition)
    }
}

extension KafkaConfig {
    func withProperty(_ key: String, _ value: String) -> KafkaConfig {
        var copy = self
        copy[key] = value
        return copy
    }
}
