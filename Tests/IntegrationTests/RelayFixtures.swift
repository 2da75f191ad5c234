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

    /// Every record of `topic` (all `partitions`) from offset 0 to the partition ends.
    static func readAll(_ topic: String, partitions: Int32) throws -> [KafkaRecord] {
        let consumer = try KafkaConsumer(config: eofConfig)
        try consumer.assign((0..<partitions).map { KafkaTopicPartitionOffset(topic: topic, partition: $0, offset: .beginning) })
        var records: [KafkaRecord] = []
        var perPartition: [Int32: Int64] = [:]
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            for record in try consumer.poll(max: 1_000, timeoutMs: 200) {
                records.append(record)
                perPartition[record.partition, default: 0] += 1
            }
            let ends = consumer.partitionsAtEnd.filter { $0.key.topic == topic }
            if ends.count == Int(partitions), ends.allSatisfy({ perPartition[$0.key.partition, default: 0] >= $0.value }) { break }
        }
        return records
    }

    /// Reads `topic` back through `KafkaEventReader` until every partition's end.
    static func readEvents(_ topic: String, partitions: Int32) throws -> [KafkaEventReader.Message] {
        let reader = try KafkaEventReader(kafka: eofConfig)
        try reader.assign((0..<partitions).map { KafkaTopicPartitionOffset(topic: topic, partition: $0, offset: .beginning) })
        var messages: [KafkaEventReader.Message] = []
        var perPartition: [Int32: Int64] = [:]
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            for message in try reader.poll(max: 1_000, timeoutMs: 200) {
                messages.append(message)
                perPartition[message.partition, default: 0] += 1
            }
            let ends = reader.partitionsAtEnd.filter { $0.key.topic == topic }
            if ends.count == Int(partitions), ends.allSatisfy({ perPartition[$0.key.partition, default: 0] >= $0.value }) { break }
        }
        return messages
    }
}
