import Events
import Foundation
import Kafka
import TickfoldTesting

/// Events of two families (`bar`, `macro`) over a handful of subjects, all distinct.
enum RelayFixtures {
    static let subjects = ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOG", "META"]

    /// One relay pass, for async tests (`runOnce` blocks; the pass is short).
    static func publishOnce(_ relay: KafkaRelay) throws -> KafkaRelay.Report {
        try relay.runOnce()
    }

    static func events(_ range: Range<Int>) throws -> [Event] {
        try range.map { i in
            let subject = subjects[i % subjects.count]
            let date = LocalDate(daysSinceEpoch: 10_000 + Int64(i))
            let at = Timestamp(millisecondsSinceEpoch: 864_000_000_000 + Int64(i) * 86_400_000)
            if i % 3 == 0 {
                return try Event.make(MacroObservation(seriesId: "S\(subject)", date: date, value: "\(i).5"),
                                      source: "fred", subject: "S\(subject)", occurredAt: at)
            }
            return try Event.make(DailyBar(date: date, open: "1.5", high: "2.5", low: "1.25", close: "2", volume: i),
                                  source: "test", subject: subject, occurredAt: at)
        }
    }

    static var kafkaConfig: KafkaConfig { KafkaConfig(bootstrapServers: TestServices.kafka ?? "") }

    /// The broker's configuration with partition-end events, to stop reading at the ends.
    static var eofConfig: KafkaConfig {
        var config = kafkaConfig
        config["enable.partition.eof"] = "true"
        return config
    }

    /// Every record of `topic` (all `partitions`) from offset 0 to the partition ends. A busy
    /// shared broker can be slow to answer, so it waits long; if the ends still were not
    /// reached it throws saying how far it got, rather than hand back a partial read.
    static func readAll(_ topic: String, partitions: Int32, config: KafkaConfig = kafkaConfig, patience: Duration = .seconds(120)) throws -> [KafkaRecord] {
        var eofConfig = config
        eofConfig["enable.partition.eof"] = "true"
        let consumer = try KafkaConsumer(config: eofConfig)
        try consumer.assign((0..<partitions).map { KafkaTopicPartitionOffset(topic: topic, partition: $0, offset: .beginning) })
        var records: [KafkaRecord] = []
        var perPartition: [Int32: Int64] = [:]
        let started = ContinuousClock.now
        while true {
            for record in try consumer.poll(max: 1_000, timeoutMs: 200) {
                records.append(record)
                perPartition[record.partition, default: 0] += 1
            }
            let ends = consumer.partitionsAtEnd.filter { $0.key.topic == topic }
            if ends.count == Int(partitions), ends.allSatisfy({ perPartition[$0.key.partition, default: 0] >= $0.value }) {
                return records
            }
            // librdkafka sometimes reports no partition end (see `KafkaEventSource.isAtEnd`);
            // these topics start at offset 0 without gaps, so the fetched high watermark tells too.
            let allFetched = (0..<partitions).allSatisfy { partition in
                consumer.fetchedHighWatermark(KafkaTopicPartition(topic: topic, partition: partition))
                    .map { perPartition[partition, default: 0] >= $0 } ?? false
            }
            if allFetched { return records }
            if ContinuousClock.now - started > patience {
                let reached = ends.map { "\($0.key.partition): \(perPartition[$0.key.partition, default: 0]) of \($0.value)" }.sorted()
                throw ReadIncomplete(topic: topic, waited: patience, records: records.count, endsReached: reached)
            }
        }
    }

    /// `readAll`, each record checked as `KafkaEventReader` checks it.
    static func readEvents(_ topic: String, partitions: Int32) throws -> [KafkaEventReader.Message] {
        try readAll(topic, partitions: partitions).map(KafkaEventReader.check)
    }

    struct ReadIncomplete: Error, CustomStringConvertible {
        let topic: String
        let waited: Duration
        let records: Int
        let endsReached: [String]
        var description: String {
            "\(topic): \(records) records read in \(waited); partition ends reached (read of end): \(endsReached)"
        }
    }
}
