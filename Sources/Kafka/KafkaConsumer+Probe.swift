import Foundation
import Logging

/// What a partition holds at one offset, as `KafkaConsumer.probe` found it.
public enum KafkaOffsetProbe: Sendable {
    /// The message at the offset.
    case message(KafkaRecord)
    /// No message there: the partition ends at or before the offset (`end`, when known).
    case absent(end: Int64?)
    /// No message there, but the partition goes on after it: the first message from the
    /// offset has the later offset `next`. A broker removes messages from a partition's head
    /// (retention, `DeleteRecords`) or, for a compacted topic, ones a later message of the same
    /// key replaces; offsets are never reused, so what was at the offset is gone by policy and
    /// the partition was not emptied.
    case removed(next: Int64)
    /// The broker told nothing about the partition within the time given.
    case unanswered
}

extension KafkaConsumer {
    /// The message at each partition's offset, read by a short-lived consumer of its own (so
    /// no reader's assignment moves). Waits up to `timeoutMs` in all; `interrupted` is asked
    /// between polls and ends the wait with `.interrupted`, before any verdict. A partition's
    /// end is taken from a reported partition end or the fetched high watermark (Tansu 0.6.0
    /// answers a fetch past the end with nothing and reports no end). `config` is the caller's
    /// (brokers, client settings); partition ends and `auto.offset.reset=earliest` are set here.
    public static func probe(
        _ offsets: [KafkaTopicPartition: Int64], config: KafkaConfig, timeoutMs: Int, logger: Logger, interrupted: () -> Bool = { false }
    ) throws(KafkaError) -> [KafkaTopicPartition: KafkaOffsetProbe] {
        guard !offsets.isEmpty else { return [:] }
        var probeConfig = config
        probeConfig["enable.partition.eof"] = "true"
        // An offset the broker no longer has (retention, or past a shorter partition's end on
        // a real Kafka) reads from the oldest message on: the verdict is then `.removed` (the
        // oldest message is later) or `.absent` (it is earlier: the partition ends first).
        probeConfig["auto.offset.reset"] = "earliest"
        let consumer = try KafkaConsumer(config: probeConfig, logger: logger)
        try consumer.assign(offsets.map { KafkaTopicPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: .at($0.value)) })
        var found: [KafkaTopicPartition: KafkaOffsetProbe] = [:]
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        while found.count < offsets.count, ContinuousClock.now < deadline {
            if interrupted() {
                throw KafkaError(code: .interrupted, operation: "read messages at offsets", message: "stopped while waiting for the broker")
            }
            for record in try consumer.poll(max: 1000, timeoutMs: 100) {
                let key = KafkaTopicPartition(topic: record.topic, partition: record.partition)
                guard let offset = offsets[key], found[key] == nil, record.offset >= offset else { continue }
                found[key] = record.offset == offset ? .message(record) : .removed(next: record.offset)
            }
            let ends = consumer.partitionsAtEnd
            for (key, offset) in offsets where found[key] == nil {
                if let end = ends[key] ?? consumer.fetchedHighWatermark(key), end <= offset { found[key] = .absent(end: end) }
            }
        }
        for key in offsets.keys where found[key] == nil { found[key] = .unanswered }
        return found
    }
}
