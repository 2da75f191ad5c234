import Foundation
import Logging

/// What a partition holds at one offset, as `KafkaConsumer.probe` found it.
public enum KafkaOffsetProbe: Sendable {
    /// The message at the offset.
    case message(KafkaRecord)
    /// No message there: the partition ends at or before the offset (`end`, when known).
    case absent(end: Int64?)
    /// No message there because the partition's log now starts after it: the broker removed
    /// it from the head by policy (retention, `DeleteRecords`), and the partition goes on at
    /// `next` (its first message, or its start when retention emptied it). Offsets are never
    /// reused, so the partition was not written again.
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
        // log starts later) or `.absent` (the partition ends first).
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
                found[key] = probeVerdict(at: offset, first: record, end: nil, start: consumer.fetchedWatermarks(key).low)
            }
            let ends = consumer.partitionsAtEnd
            for (key, offset) in offsets where found[key] == nil {
                let fetched = consumer.fetchedWatermarks(key)
                found[key] = probeVerdict(at: offset, first: nil, end: ends[key] ?? fetched.high, start: fetched.low)
            }
        }
        for key in offsets.keys where found[key] == nil { found[key] = .unanswered }
        return found
    }

    /// What a partition holds at `offset`, from what a probe has seen of it: the first record
    /// at or after the offset, the partition's end and its log start; nil while that does not
    /// decide yet. Only a log start past the offset makes a missing message `.removed`; a later
    /// first record with the log starting at or before the offset is a partition that is not
    /// the one written before (`.absent`).
    static func probeVerdict(at offset: Int64, first record: KafkaRecord?, end: Int64?, start: Int64?) -> KafkaOffsetProbe? {
        if let record {
            if record.offset == offset { return .message(record) }
            if let start, start > offset { return .removed(next: record.offset) }
            return .absent(end: nil)
        }
        if let start, start > offset { return .removed(next: start) }
        if let end, end <= offset { return .absent(end: end) }
        return nil
    }
}
