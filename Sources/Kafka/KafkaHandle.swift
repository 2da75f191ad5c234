import CRdKafka
import Foundation
import Logging

/// The state librdkafka's C callbacks reach through the client opaque: the logger,
/// delivery reports waiting to be polled, and the last error the client saw.
final class KafkaCallbackContext: @unchecked Sendable {  // all mutable state is guarded by `lock`
    let logger: Logger
    private let lock = NSLock()
    private var deliveryReports: [DeliveryReport] = []
    private var topicNames: [OpaquePointer: String] = [:]
    private var lastClientError: String?
    private var clientErrors = 0

    init(logger: Logger) {
        self.logger = logger
    }

    /// The most recent error librdkafka reported through `error_cb`, e.g. a refused connection.
    var lastError: String? { lock.withLock { lastClientError } }

    /// How many errors librdkafka reported through `error_cb` so far.
    var errorCount: Int { lock.withLock { clientErrors } }

    func recordError(_ text: String) {
        lock.withLock {
            lastClientError = text
            clientErrors += 1
        }
    }

    private var lastLogLine = ""
    private var lastLogLineAt: UInt64 = 0
    private var suppressedLogLines = 0
    private static let repeatIntervalNanoseconds: UInt64 = 30_000_000_000

    /// Whether to log `line`: nil when it repeats the previous line within 30 s (counted),
    /// else how many repeats were held back before it.
    func admitLogLine(_ line: String) -> Int? {
        let now = DispatchTime.now().uptimeNanoseconds
        return lock.withLock {
            if line == lastLogLine, now - lastLogLineAt < Self.repeatIntervalNanoseconds {
                suppressedLogLines += 1
                return nil
            }
            let held = line == lastLogLine ? suppressedLogLines : 0
            lastLogLine = line
            lastLogLineAt = now
            suppressedLogLines = 0
            return held
        }
    }

    func recordDelivery(_ report: DeliveryReport) {
        lock.withLock { deliveryReports.append(report) }
    }

    func takeDeliveryReports() -> [DeliveryReport] {
        lock.withLock {
            let taken = deliveryReports
            deliveryReports = []
            deliveryReports.reserveCapacity(taken.count)
            return taken
        }
    }

    /// The name of a librdkafka topic handle, cached so a hot path allocates no string per message.
    func topicName(_ topic: OpaquePointer?) -> String {
        guard let topic else { return "" }
        return lock.withLock {
            if let name = topicNames[topic] { return name }
            let name = String(cString: rd_kafka_topic_name(topic))
            topicNames[topic] = name
            return name
        }
    }
}

/// Owns one `rd_kafka_t` and the callback context it points to; every client type wraps one.
///
/// librdkafka handles are thread safe, so this may be shared between threads.
final class KafkaHandle: @unchecked Sendable {  // the C handle is thread safe and the pointers never change
    let pointer: OpaquePointer
    let context: KafkaCallbackContext
    let bootstrapServers: String
    private let retainedContext: Unmanaged<KafkaCallbackContext>

    /// Creates a client of `type`; `prepare` may install extra callbacks on the configuration.
    init(
        type: rd_kafka_type_t, config: KafkaConfig, logger: Logger,
        prepare: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) {
        let conf = try config.makeNativeConfig()
        let context = KafkaCallbackContext(logger: logger)
        let retained = Unmanaged.passRetained(context)
        rd_kafka_conf_set_opaque(conf, retained.toOpaque())
        rd_kafka_conf_set_log_cb(conf) { client, level, facility, text in
            guard let client, let opaque = rd_kafka_opaque(client) else { return }
            let context = Unmanaged<KafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
            let message = text.map { String(cString: $0) } ?? ""
            // A broker outage repeats one line per reconnect; say it once per interval.
            guard let repeated = context.admitLogLine(message) else { return }
            var metadata: Logger.Metadata = ["rdkafka.facility": "\(facility.map { String(cString: $0) } ?? "")"]
            if repeated > 0 { metadata["repeatedSinceLast"] = "\(repeated)" }
            context.logger.log(level: Logger.Level(syslogLevel: level), "\(message)", metadata: metadata)
        }
        rd_kafka_conf_set_error_cb(conf) { _, error, reason, opaque in
            guard let opaque else { return }
            let context = Unmanaged<KafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
            let text = reason.map { String(cString: $0) } ?? ""
            context.recordError(text)
            let code = rd_kafka_resp_err_t(rawValue: error)
            let level: Logger.Level = code == RD_KAFKA_RESP_ERR__FATAL ? .critical : .debug
            context.logger.log(level: level, "librdkafka error: \(text)",
                               metadata: ["rdkafka.error": "\(String(cString: rd_kafka_err2name(code)))"])
        }
        prepare(conf)

        var errorText = [CChar](repeating: 0, count: 512)
        guard let client = rd_kafka_new(type, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            retained.release()
            throw KafkaError(
                code: .clientCreation, operation: "create client",
                message: String(cText: errorText))
        }
        self.pointer = client
        self.context = context
        self.retainedContext = retained
        self.bootstrapServers = config.bootstrapServers
    }

    deinit {
        rd_kafka_destroy(pointer)
        retainedContext.release()
    }

    /// An error for `code`, explaining an unanswered request as an unreachable broker.
    func error(_ code: rd_kafka_resp_err_t, operation: String, timeoutMs: Int32, text: String? = nil) -> KafkaError {
        switch code {
        case RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
            let cause = context.lastError.map { "; last broker error: \($0)" } ?? ""
            return KafkaError(
                code: .brokerUnreachable, operation: operation,
                message: "no answer from Kafka at bootstrap.servers=\(bootstrapServers) within \(timeoutMs) ms\(cause)",
                librdkafkaErrorName: String(cString: rd_kafka_err2name(code)))
        case RD_KAFKA_RESP_ERR__FATAL:
            return fatalFailure(operation: operation) ?? KafkaError(code, operation: operation, text: text)
        default:
            return KafkaError(code, operation: operation, text: text)
        }
    }

    /// The client's fatal error, if it has one (idempotent producers raise these when they
    /// can no longer guarantee ordering or exactly-once delivery).
    func fatalFailure(operation: String) -> KafkaError? {
        var text = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(pointer, &text, text.count)
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return KafkaError(
            code: .fatal, operation: operation,
            message: "fatal client error, the client must be recreated: "
                + String(cText: text),
            librdkafkaErrorName: String(cString: rd_kafka_err2name(code)))
    }

    /// Topics and their partition counts as the broker reports them.
    func metadata(timeoutMs: Int32) throws(KafkaError) -> KafkaMetadata {
        var metadata: UnsafePointer<rd_kafka_metadata_t>?
        let code = rd_kafka_metadata(pointer, 1, nil, &metadata, Int32(timeoutMs))
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw error(code, operation: "metadata", timeoutMs: timeoutMs)
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        let brokers = UnsafeBufferPointer(start: metadata.pointee.brokers, count: Int(metadata.pointee.broker_cnt)).map {
            KafkaBrokerMetadata(id: $0.id, host: String(cString: $0.host), port: Int($0.port))
        }
        let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt)).map {
            let name = String(cString: $0.topic)
            return KafkaTopicMetadata(
                name: name,
                partitionCount: Int($0.partition_cnt),
                error: $0.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError($0.err, operation: "metadata for topic \(name)"))
        }
        return KafkaMetadata(brokers: brokers, topics: topics)
    }

    /// The partition's first offset and the offset the next message will get, asked of the broker.
    func watermarks(topic: String, partition: Int32, timeoutMs: Int32) throws(KafkaError) -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let code = rd_kafka_query_watermark_offsets(pointer, topic, partition, &low, &high, timeoutMs)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw error(code, operation: "watermarks \(topic)[\(partition)]", timeoutMs: timeoutMs)
        }
        return (low, high)
    }
}

extension Logger.Level {
    /// Maps librdkafka's syslog levels (0 emergency … 7 debug).
    init(syslogLevel: Int32) {
        switch syslogLevel {
        case ...2: self = .critical
        case 3: self = .error
        case 4: self = .warning
        case 5: self = .notice
        case 6: self = .info
        default: self = .debug
        }
    }
}

/// What the broker reports about the cluster.
public struct KafkaMetadata: Sendable {
    public var brokers: [KafkaBrokerMetadata]
    public var topics: [KafkaTopicMetadata]

    /// The topic called `name`, if the broker knows it.
    public func topic(_ name: String) -> KafkaTopicMetadata? { topics.first { $0.name == name } }
}

/// One broker of the cluster.
public struct KafkaBrokerMetadata: Sendable, Hashable {
    public var id: Int32
    public var host: String
    public var port: Int
}

/// One topic and its partition count; `error` is set when the broker reports the topic as broken.
public struct KafkaTopicMetadata: Sendable {
    public var name: String
    public var partitionCount: Int
    public var error: KafkaError?
}
