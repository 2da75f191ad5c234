import CRdKafka
import Logging

/// The outcome of one message sent with `KafkaProducer.send`, matched to it by `tag`.
public struct DeliveryReport: Sendable {
    /// The caller's tag passed to `send`.
    public var tag: UInt64
    public var topic: String
    public var partition: Int32
    /// The offset the broker gave the message; nil when it failed or the broker's answer
    /// did not carry it (librdkafka omits it for some retried idempotent messages).
    public var offset: Int64?
    /// Why delivery failed; nil when the broker acknowledged the message.
    public var error: KafkaError?
}

/// Publishes messages to Kafka with librdkafka, reporting each delivery asynchronously.
///
/// `send` only enqueues; deliveries come back from `poll` or `flush`, which must be called
/// regularly (they also run librdkafka's callbacks). All methods are thread safe: librdkafka's
/// producer is, and the report buffer is locked. Call `flush` before dropping the producer;
/// messages still queued when it is deinitialized are discarded.
public final class KafkaProducer: Sendable {
    /// Settings for throughput that a caller's configuration may override: messages linger
    /// a few milliseconds to fill large compressed batches, and the local queue is deep
    /// enough for hundreds of thousands of messages per second.
    public static let throughputDefaults: KeyValuePairs<String, String> = [
        "linger.ms": "10",
        "batch.size": "1000000",
        "batch.num.messages": "10000",
        "compression.type": "lz4",
        "queue.buffering.max.messages": "500000",
        "queue.buffering.max.kbytes": "1048576",
    ]

    private let handle: KafkaHandle

    /// Creates a producer; `idempotent` sets `enable.idempotence=true` so retries neither
    /// duplicate nor reorder messages within a partition.
    public init(
        config: KafkaConfig, idempotent: Bool, logger: Logger = Logger(label: "tickfold.kafka.producer")
    ) throws(KafkaError) {
        var config = config.withDefaults(Self.throughputDefaults)
        if idempotent { config["enable.idempotence"] = "true" }
        handle = try KafkaHandle(type: RD_KAFKA_PRODUCER, config: config, logger: logger) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { client, message, opaque in
                guard let message, let opaque else { return }
                let context = Unmanaged<KafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
                let error: KafkaError?
                switch message.pointee.err {
                case RD_KAFKA_RESP_ERR_NO_ERROR:
                    error = nil
                case RD_KAFKA_RESP_ERR__FATAL:
                    var text = [CChar](repeating: 0, count: 512)
                    let cause = client.map { rd_kafka_fatal_error($0, &text, text.count) } ?? RD_KAFKA_RESP_ERR__FATAL
                    error = KafkaError(
                        code: .fatal, operation: "deliver",
                        message: "fatal producer error: "
                            + String(cText: text),
                        librdkafkaErrorName: String(cString: rd_kafka_err2name(cause)))
                case let code:
                    var failure = KafkaError(code, operation: "deliver")
                    if failure.code == .librdkafka { failure.code = .deliveryFailed }
                    error = failure
                }
                let offset = message.pointee.offset
                context.recordDelivery(DeliveryReport(
                    tag: UInt64(UInt(bitPattern: message.pointee._private)),
                    topic: context.topicName(message.pointee.rkt),
                    partition: message.pointee.partition,
                    offset: error == nil && offset >= 0 ? offset : nil,
                    error: error))
            }
        }
    }

    /// Enqueues one message without blocking on the network; its outcome arrives later as
    /// a `DeliveryReport` carrying `tag`.
    ///
    /// `partition` nil lets librdkafka's partitioner choose by `key` (so one key keeps its
    /// order). Bytes are copied, so the arrays may be reused at once. When the local queue
    /// is full this serves delivery reports and retries instead of failing.
    public func send(
        topic: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8],
        headers: [(String, [UInt8])] = [], tag: UInt64, interrupted: () -> Bool = { false }
    ) throws(KafkaError) {
        let fieldCount = 4 + (partition == nil ? 0 : 1) + (key == nil ? 0 : 1) + headers.count
        let failure: KafkaError? = topic.withCString { topicName in
            value.withUnsafeBytes { valueBytes in
                withOptionalBytes(key) { keyBytes in
                    withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: fieldCount) { fields in
                        var count = 0
                        func add(_ type: rd_kafka_vtype_t, _ set: (inout rd_kafka_vu_t) -> Void) {
                            var field = rd_kafka_vu_t()
                            field.vtype = type
                            set(&field)
                            fields.initializeElement(at: count, to: field)
                            count += 1
                        }
                        add(RD_KAFKA_VTYPE_TOPIC) { $0.u.cstr = topicName }
                        if let partition { add(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = partition } }
                        if let keyBytes {
                            add(RD_KAFKA_VTYPE_KEY) {
                                $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: keyBytes.baseAddress)
                                $0.u.mem.size = keyBytes.count
                            }
                        }
                        add(RD_KAFKA_VTYPE_VALUE) {
                            $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: valueBytes.baseAddress)
                            $0.u.mem.size = valueBytes.count
                        }
                        add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
                        add(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = UnsafeMutableRawPointer(bitPattern: UInt(tag)) }
                        return withHeaderFields(headers, from: 0, into: fields, at: count) { total in
                            produce(UnsafeBufferPointer(rebasing: fields[..<total]), topic: topic, interrupted: interrupted)
                        }
                    }
                }
            }
        }
        if let failure { throw failure }
    }

    /// Serves delivery callbacks, waiting up to `timeoutMs` for the first, and returns the
    /// reports gathered since the last `poll` or `flush`.
    public func poll(timeoutMs: Int32 = 0) -> [DeliveryReport] {
        rd_kafka_poll(handle.pointer, timeoutMs)
        return handle.context.takeDeliveryReports()
    }

    /// Waits until every queued message is delivered or failed, then returns the reports
    /// not yet polled. Throws `.timedOut` when messages remain after `timeoutMs` (their
    /// reports stay for a later `poll`), or `.fatal` when the producer has failed fatally.
    public func flush(timeoutMs: Int32) throws(KafkaError) -> [DeliveryReport] {
        let code = rd_kafka_flush(handle.pointer, timeoutMs)
        if let fatal = handle.fatalFailure(operation: "flush") { throw fatal }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                code, operation: "flush",
                text: "\(outstandingMessages) messages still undelivered after \(timeoutMs) ms "
                    + "(bootstrap.servers=\(handle.bootstrapServers))")
        }
        return handle.context.takeDeliveryReports()
    }

    /// Fails every message not yet delivered, queued or in flight (their reports say
    /// `_PURGE_QUEUE` / `_PURGE_INFLIGHT`), without waiting: for a producer about to be
    /// dropped whose broker will not acknowledge them. Returns the reports waiting by then.
    public func purge() -> [DeliveryReport] {
        _ = rd_kafka_purge(handle.pointer, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
        return poll(timeoutMs: 0)
    }

    /// Messages sent but not yet reported (queued, in flight, or with reports not yet polled by librdkafka).
    public var outstandingMessages: Int { Int(rd_kafka_outq_len(handle.pointer)) }

    /// The producer's fatal error, if it has had one; it must then be recreated.
    public var fatalFailure: KafkaError? { handle.fatalFailure(operation: "produce") }

    /// Topics and partition counts, from the broker.
    public func metadata(timeoutMs: Int32) throws(KafkaError) -> KafkaMetadata {
        try handle.metadata(timeoutMs: timeoutMs)
    }

    /// The partition's low and high watermarks, from the broker.
    public func watermarks(topic: String, partition: Int32, timeoutMs: Int32) throws(KafkaError) -> (low: Int64, high: Int64) {
        try handle.watermarks(topic: topic, partition: partition, timeoutMs: timeoutMs)
    }

    /// Queues one message. While librdkafka's queue is full (the broker slow or gone) it
    /// waits for room, serving delivery callbacks, until `interrupted` says to stop: without
    /// a broker that wait would last until the queued messages time out (`message.timeout.ms`).
    private func produce(_ fields: UnsafeBufferPointer<rd_kafka_vu_t>, topic: String, interrupted: () -> Bool) -> KafkaError? {
        while let error = rd_kafka_produceva(handle.pointer, fields.baseAddress, fields.count) {
            let code = rd_kafka_error_code(error)
            let text = String(cString: rd_kafka_error_string(error))
            rd_kafka_error_destroy(error)
            guard code == RD_KAFKA_RESP_ERR__QUEUE_FULL else {
                return handle.error(code, operation: "produce to \(topic)", timeoutMs: 0, text: text)
            }
            if interrupted() {
                return KafkaError(code: .interrupted, operation: "produce to \(topic)",
                                  message: "stopped while the producer's queue was full (\(outstandingMessages) messages not yet acknowledged)")
            }
            rd_kafka_poll(handle.pointer, 10)
        }
        return nil
    }
}

/// Lends `bytes`' storage, or nil for a nil array.
private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

/// Fills one header field per header from slot `slot` on, keeping every header's name
/// and value storage alive while `body` runs with the total field count.
private func withHeaderFields<R>(
    _ headers: [(String, [UInt8])], from index: Int,
    into fields: UnsafeMutableBufferPointer<rd_kafka_vu_t>, at slot: Int,
    _ body: (Int) -> R
) -> R {
    guard index < headers.count else { return body(slot) }
    return headers[index].0.withCString { name in
        headers[index].1.withUnsafeBytes { value in
            var field = rd_kafka_vu_t()
            field.vtype = RD_KAFKA_VTYPE_HEADER
            field.u.header.name = name
            field.u.header.val = value.baseAddress
            field.u.header.size = value.count
            fields.initializeElement(at: slot, to: field)
            return withHeaderFields(headers, from: index + 1, into: fields, at: slot + 1, body)
        }
    }
}
