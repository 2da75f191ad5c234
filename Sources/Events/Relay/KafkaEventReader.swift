import Kafka
import Logging

/// Reads events back from Kafka (manual partition assignment, positions chosen by the
/// caller) and checks each one: the value must be a canonical envelope whose recomputed id
/// equals its `id` header and whose `seq` equals its `seq` header. Anything else comes back
/// as a rejected message, never as an event.
public final class KafkaEventReader: Sendable {
    /// One message read: its position and what it turned out to be.
    public struct Message: Sendable {
        public let topic: String
        public let partition: Int32
        public let offset: Int64
        /// The `seq` header, when it holds a number (a rejected message may have one too).
        public let seq: UInt64?
        public let outcome: Outcome
    }

    public enum Outcome: Sendable {
        case event(Event)
        case rejected(reason: String)
    }

    private let consumer: KafkaConsumer

    public init(kafka config: KafkaConfig, logger: Logger = Logger(label: "tickfold.kafka.reader")) throws {
        consumer = try KafkaConsumer(config: config, logger: logger)
    }

    /// Reads `partitions`, each from its given offset.
    public func assign(_ partitions: [KafkaTopicPartitionOffset]) throws {
        try consumer.assign(partitions)
    }

    /// Up to `max` messages; waits up to `timeoutMs` for the first.
    public func poll(max: Int, timeoutMs: Int32) throws -> [Message] {
        try consumer.poll(max: max, timeoutMs: timeoutMs).map(Self.check)
    }

    /// Partitions read to their end, with the end offset (needs `enable.partition.eof`).
    public var partitionsAtEnd: [KafkaTopicPartition: Int64] { consumer.partitionsAtEnd }

    /// See `KafkaConsumer.fetchedHighWatermark`.
    public func fetchedHighWatermark(_ partition: KafkaTopicPartition) -> Int64? { consumer.fetchedHighWatermark(partition) }

    /// The record's `seq` header as a number, nil when it has none or another text.
    public static func seqHeader(_ record: KafkaRecord) -> UInt64? {
        record.header("seq").flatMap { UInt64(String(decoding: $0, as: UTF8.self)) }
    }

    /// See `KafkaConsumer.reportedErrors`.
    public var reportedErrors: Int { consumer.reportedErrors }

    /// Verifies one Kafka record against its headers.
    public static func check(_ record: KafkaRecord) -> Message {
        let seqHeader = seqHeader(record)
        func message(_ outcome: Outcome) -> Message {
            Message(topic: record.topic, partition: record.partition, offset: record.offset, seq: seqHeader, outcome: outcome)
        }
        let event: Event
        do { event = try Event.decode(record.value, verification: .recompute) } catch {
            return message(.rejected(reason: "value is not a valid event: \(error)"))
        }
        guard let idHeader = record.header("id").map({ String(decoding: $0, as: UTF8.self) }) else {
            return message(.rejected(reason: "no id header"))
        }
        guard idHeader == event.id.hex else {
            return message(.rejected(reason: "id header \(idHeader) does not match the content's id \(event.id.hex)"))
        }
        guard let seqHeader, seqHeader == event.seq else {
            return message(.rejected(reason: "seq header does not match the envelope's seq \(event.seq.map(String.init) ?? "(none)")"))
        }
        return message(.event(event))
    }
}
