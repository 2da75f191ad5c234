import CRdKafka

/// A failure reported by librdkafka or by this wrapper, with the operation that failed
/// and librdkafka's own error text.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; grows as callers need to tell more cases apart.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A configuration property is unknown or its value is invalid.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// librdkafka refused to create the client handle.
        public static let clientCreation = Code("clientCreation")
        /// No broker at `bootstrap.servers` answered in time.
        public static let brokerUnreachable = Code("brokerUnreachable")
        /// A request or a message delivery timed out.
        public static let timedOut = Code("timedOut")
        /// The topic or partition does not exist on the broker.
        public static let unknownTopicOrPartition = Code("unknownTopicOrPartition")
        /// Creating a topic that already exists.
        public static let topicAlreadyExists = Code("topicAlreadyExists")
        /// A requested offset is outside the partition's range (data the broker no longer has).
        public static let offsetOutOfRange = Code("offsetOutOfRange")
        /// The client hit an unrecoverable error (e.g. the idempotent producer lost its
        /// guarantees); it must be recreated.
        public static let fatal = Code("fatal")
        /// The producer's local queue stayed full.
        public static let queueFull = Code("queueFull")
        /// The broker refused or failed the message delivery.
        public static let deliveryFailed = Code("deliveryFailed")
        /// The caller asked to stop while the operation waited for the broker (its
        /// `interrupted` check said so); the operation's outcome is unknown.
        public static let interrupted = Code("interrupted")
        /// Any other librdkafka error; `librdkafkaErrorName` says which.
        public static let librdkafka = Code("librdkafka")
    }

    public var code: Code
    /// The operation that failed, e.g. "produce", "metadata", "createTopic orders".
    public var operation: String
    /// librdkafka's error text, with context added by this wrapper.
    public var message: String
    /// librdkafka's symbolic error name (e.g. "_MSG_TIMED_OUT"), when the error came from an error code.
    public var librdkafkaErrorName: String?

    public init(code: Code, operation: String, message: String, librdkafkaErrorName: String? = nil) {
        self.code = code
        self.operation = operation
        self.message = message
        self.librdkafkaErrorName = librdkafkaErrorName
    }

    public var description: String {
        let name = librdkafkaErrorName.map { " [\($0)]" } ?? ""
        return "Kafka \(operation) failed (\(code))\(name): \(message)"
    }

    /// An error for a librdkafka error code; `text` overrides librdkafka's generic text.
    init(_ error: rd_kafka_resp_err_t, operation: String, text: String? = nil) {
        self.init(
            code: Code(error),
            operation: operation,
            message: text ?? String(cString: rd_kafka_err2str(error)),
            librdkafkaErrorName: String(cString: rd_kafka_err2name(error))
        )
    }
}

extension KafkaError.Code {
    init(_ error: rd_kafka_resp_err_t) {
        switch error {
        case RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
            self = .timedOut
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
            self = .unknownTopicOrPartition
        case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
            self = .topicAlreadyExists
        case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE, RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
            self = .offsetOutOfRange
        case RD_KAFKA_RESP_ERR__FATAL:
            self = .fatal
        case RD_KAFKA_RESP_ERR__QUEUE_FULL:
            self = .queueFull
        case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
            self = .brokerUnreachable
        default:
            self = .librdkafka
        }
    }
}

extension String {
    /// The text librdkafka wrote into `buffer` (an error-text buffer), up to its NUL.
    init(cText buffer: [CChar]) {
        self.init(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
