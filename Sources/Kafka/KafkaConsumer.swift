import CRdKafka
import Foundation
import Logging

/// A topic partition.
public struct KafkaTopicPartition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// By topic, then partition: the order reports and checkpoints list partitions in.
    public static func < (a: KafkaTopicPartition, b: KafkaTopicPartition) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// Where a consumer starts reading a partition.
public enum KafkaOffset: Hashable, Sendable {
    /// The oldest message the broker still has.
    case beginning
    /// Only messages produced after the assignment. librdkafka resolves this with a
    /// ListOffsets request, which Tansu 0.6.0 answers with the last batch's base offset + 1
    /// (so the tail of a multi-message batch may be read again); prefer explicit offsets.
    case end
    /// The message with this offset (typically the application's checkpoint + 1).
    case at(Int64)

    var nativeValue: Int64 {
        switch self {
        case .beginning: Int64(RD_KAFKA_OFFSET_BEGINNING)
        case .end: Int64(RD_KAFKA_OFFSET_END)
        case .at(let offset): offset
        }
    }
}

/// A partition to read and the offset to start from.
public struct KafkaTopicPartitionOffset: Hashable, Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: KafkaOffset

    public init(topic: String, partition: Int32, offset: KafkaOffset) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// One message read from Kafka.
public struct KafkaRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    /// The payload; empty for a null (tombstone) value.
    public var value: [UInt8]
    /// Headers in the order they were produced; a null header value reads as empty.
    public var headers: [(String, [UInt8])]
    /// Milliseconds since the Unix epoch (producer create time or broker append time), if known.
    public var timestamp: Int64?

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]? = nil, value: [UInt8], headers: [(String, [UInt8])] = [], timestamp: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// The value of the first header called `name`.
    public func header(_ name: String) -> [UInt8]? { headers.first { $0.0 == name }?.1 }
}

/// Reads partitions the application assigns itself, from offsets it keeps itself.
///
/// There is no consumer-group balancing and nothing is committed to the broker: the
/// application stores offsets in its own checkpoints and passes them to `assign`.
/// `group.id` is set to a placeholder when absent (librdkafka requires one), auto commit is
/// off, and `auto.offset.reset` defaults to `error` so a start offset the broker no longer
/// has fails with `.offsetOutOfRange` instead of silently skipping data (Tansu 0.6.0 never
/// reports out-of-range fetches: a start offset past the end just reads nothing).
/// Set `enable.partition.eof=true` to learn when a partition's end is reached
/// (`partitionsAtEnd`). Thread safe, though one polling thread is the intended use.
public final class KafkaConsumer: @unchecked Sendable {  // librdkafka's consumer is thread safe; Swift state is guarded by `lock`
    /// Settings a caller's configuration may override.
    public static let defaults: KeyValuePairs<String, String> = [
        "group.id": "tickfold-manual-assignment",
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        "auto.offset.reset": "error",
        "fetch.wait.max.ms": "20",
    ]

    private let handle: KafkaHandle
    private let queue: OpaquePointer
    private let lock = NSLock()
    private var endOffsets: [KafkaTopicPartition: Int64] = [:]
    private var pendingError: KafkaError?

    public init(config: KafkaConfig, logger: Logger = Logger(label: "tickfold.kafka.consumer")) throws(KafkaError) {
        handle = try KafkaHandle(type: RD_KAFKA_CONSUMER, config: config.withDefaults(Self.defaults), logger: logger)
        rd_kafka_poll_set_consumer(handle.pointer)
        queue = rd_kafka_queue_get_consumer(handle.pointer)
    }

    deinit {
        rd_kafka_queue_destroy(queue)
        rd_kafka_consumer_close(handle.pointer)
    }

    /// Replaces the set of partitions read, each starting at its given offset; an empty
    /// list stops reading.
    public func assign(_ partitions: [KafkaTopicPartitionOffset]) throws(KafkaError) {
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for partition in partitions {
            let entry = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!
            entry.pointee.offset = partition.offset.nativeValue
        }
        let code = rd_kafka_assign(handle.pointer, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code, operation: "assign \(partitions.count) partitions")
        }
        lock.withLock {
            endOffsets = [:]
            pendingError = nil
        }
    }

    /// Partitions whose end the consumer has reached and nothing newer read since, with
    /// the end offset. Filled only when `enable.partition.eof=true`.
    public var partitionsAtEnd: [KafkaTopicPartition: Int64] { lock.withLock { endOffsets } }

    /// How many client errors (a lost or refused broker connection, all brokers down …)
    /// librdkafka has reported so far; they are served while polling. A rise means the
    /// broker may have restarted in between.
    public var reportedErrors: Int { handle.context.errorCount }

    /// The partition's high watermark as the last fetch response gave it (no request; nil
    /// before any fetch answered). Unlike `KafkaAdmin.watermarks`, this is the true end on
    /// Tansu 0.6.0, and it is reported even when the fetch position lies past the end, where
    /// Tansu answers empty fetches and librdkafka reports no partition end.
    public func fetchedHighWatermark(_ partition: KafkaTopicPartition) -> Int64? {
        fetchedWatermarks(partition).high
    }

    /// The partition's first offset (`low`: its log start, from fetch responses) and end
    /// (`high`, see `fetchedHighWatermark`) as last fetched; nil where none is known yet.
    public func fetchedWatermarks(_ partition: KafkaTopicPartition) -> (low: Int64?, high: Int64?) {
        var low: Int64 = 0
        var high: Int64 = 0
        let status = rd_kafka_get_watermark_offsets(handle.pointer, partition.topic, partition.partition, &low, &high)
        guard status == RD_KAFKA_RESP_ERR_NO_ERROR else { return (nil, nil) }
        return (low >= 0 ? low : nil, high >= 0 ? high : nil)
    }

    /// The next record, waiting up to `timeoutMs`; nil when none arrived in time or a
    /// partition end was reached (see `partitionsAtEnd`). Throws errors the broker reports
    /// for an assigned partition, e.g. `.offsetOutOfRange` or `.unknownTopicOrPartition`.
    public func poll(timeoutMs: Int32) throws(KafkaError) -> KafkaRecord? {
        if let error = takePendingError() { throw error }
        guard let message = rd_kafka_consumer_poll(handle.pointer, timeoutMs) else { return nil }
        defer { rd_kafka_message_destroy(message) }
        switch classify(message) {
        case .record(let record): return record
        case .partitionEnd: return nil
        case .failure(let error): throw error
        }
    }

    /// Up to `max` records: waits up to `timeoutMs` for the first, then takes what is
    /// already fetched without waiting. An error among them is thrown by the next call (at
    /// once when no record came): see `gather`.
    public func poll(max: Int, timeoutMs: Int32) throws(KafkaError) -> [KafkaRecord] {
        precondition(max > 0, "poll(max:) needs a positive max")
        if let error = takePendingError() { throw error }
        guard let first = rd_kafka_consumer_poll(handle.pointer, timeoutMs) else { return [] }
        var polled: [Polled] = []
        polled.reserveCapacity(max)
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<rd_kafka_message_t>?.self, capacity: max) { messages in
            messages.initialize(repeating: nil)
            messages[0] = first
            var count = 1
            if max > 1 {
                let more = rd_kafka_consume_batch_queue(queue, 0, messages.baseAddress! + 1, max - 1)
                count += Swift.max(more, 0)
            }
            for index in 0..<count {
                guard let message = messages[index] else { continue }
                defer { rd_kafka_message_destroy(message) }
                polled.append(classify(message))
            }
        }
        let (records, failure) = Self.gather(polled)
        if let failure {
            if records.isEmpty { throw failure }
            lock.withLock { pendingError = failure }
        }
        return records
    }

    /// One poll's records, in order, and its first error. A consumer error concerns one
    /// partition: the records of other partitions after it are kept, since librdkafka's
    /// fetch positions have moved past them and a caller that reads on would never see them.
    static func gather(_ polled: [Polled]) -> (records: [KafkaRecord], failure: KafkaError?) {
        var records: [KafkaRecord] = []
        records.reserveCapacity(polled.count)
        var failure: KafkaError?
        for item in polled {
            switch item {
            case .record(let record): records.append(record)
            case .partitionEnd: break
            case .failure(let error): if failure == nil { failure = error }
            }
        }
        return (records, failure)
    }

    /// Topics and partition counts, from the broker.
    public func metadata(timeoutMs: Int32) throws(KafkaError) -> KafkaMetadata {
        try handle.metadata(timeoutMs: timeoutMs)
    }

    /// The partition's low and high watermarks, from the broker.
    public func watermarks(topic: String, partition: Int32, timeoutMs: Int32) throws(KafkaError) -> (low: Int64, high: Int64) {
        try handle.watermarks(topic: topic, partition: partition, timeoutMs: timeoutMs)
    }

    /// One message of a poll, classified.
    enum Polled {
        case record(KafkaRecord)
        case partitionEnd
        case failure(KafkaError)
    }

    private func takePendingError() -> KafkaError? {
        lock.withLock {
            defer { pendingError = nil }
            return pendingError
        }
    }

    private func classify(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> Polled {
        let topic = handle.context.topicName(message.pointee.rkt)
        let partition = KafkaTopicPartition(topic: topic, partition: message.pointee.partition)
        switch message.pointee.err {
        case RD_KAFKA_RESP_ERR_NO_ERROR:
            lock.withLock { _ = endOffsets.removeValue(forKey: partition) }
            return .record(record(from: message, topic: topic))
        case RD_KAFKA_RESP_ERR__PARTITION_EOF:
            lock.withLock { endOffsets[partition] = message.pointee.offset }
            return .partitionEnd
        case RD_KAFKA_RESP_ERR__FATAL:
            return .failure(handle.error(RD_KAFKA_RESP_ERR__FATAL, operation: "consume", timeoutMs: 0))
        case let code:
            let text = message.pointee.payload.map {
                String(decoding: UnsafeRawBufferPointer(start: $0, count: message.pointee.len), as: UTF8.self)
            }
            return .failure(KafkaError(code, operation: "consume \(partition)", text: text))
        }
    }

    private func record(from message: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) -> KafkaRecord {
        let m = message.pointee
        let key = m.key.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
        let value = m.payload.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []
        var headers: [(String, [UInt8])] = []
        var nativeHeaders: OpaquePointer?
        if rd_kafka_message_headers(message, &nativeHeaders) == RD_KAFKA_RESP_ERR_NO_ERROR, let nativeHeaders {
            var index = 0
            var name: UnsafePointer<CChar>?
            var headerValue: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(nativeHeaders, index, &name, &headerValue, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                let bytes = headerValue.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                headers.append((name.map { String(cString: $0) } ?? "", bytes))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        return KafkaRecord(
            topic: topic, partition: m.partition, offset: m.offset, key: key, value: value,
            headers: headers, timestamp: timestamp >= 0 ? timestamp : nil)
    }
}
