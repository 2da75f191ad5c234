import CRdKafka
import Logging

/// What `KafkaAdmin.createTopic` found.
public enum KafkaTopicCreation: Sendable, Equatable {
    case created
    /// A topic with that name was already there (its partition count may differ).
    case alreadyExisted
}

/// Creates and deletes topics and reads cluster metadata and partition watermarks.
///
/// Every call blocks the calling thread for at most about its timeout. Calls that take an
/// `interrupted` check wait in slices (of ``interruptionSliceMs``, up to 8 times that for
/// metadata, which is asked again each slice) and give up with
/// `.interrupted` as soon as it returns true, so a service stopping (SIGTERM) does not sit out
/// a timeout against a dead broker. Thread safe.
public final class KafkaAdmin: Sendable {
    private let handle: KafkaHandle

    /// The longest wait between two `interrupted` checks.
    public static let interruptionSliceMs: Int32 = 100

    public init(config: KafkaConfig, logger: Logger = Logger(label: "tickfold.kafka.admin")) throws(KafkaError) {
        handle = try KafkaHandle(type: RD_KAFKA_PRODUCER, config: config, logger: logger)
    }

    /// Like `metadata(timeoutMs:)`, asking again while no broker answers, until one does,
    /// `timeoutMs` passes or `interrupted` returns true. Each request abandoned unanswered is
    /// asked again with twice its wait (``interruptionSliceMs`` first, at most 8 times that),
    /// so a broker slow to answer is still heard and a stop still waits less than a second.
    public func metadata(timeoutMs: Int32, interrupted: () -> Bool) throws(KafkaError) -> KafkaMetadata {
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        var slice = Self.interruptionSliceMs
        while true {
            let remaining = Self.milliseconds(until: deadline)
            do {
                return try handle.metadata(timeoutMs: min(remaining, slice))
            } catch where error.code == .brokerUnreachable && remaining > slice {
                if interrupted() { throw Self.interruption("metadata") }
                slice = min(slice * 2, Self.interruptionSliceMs * 8)
            } catch where error.code == .brokerUnreachable {
                throw handle.error(RD_KAFKA_RESP_ERR__TIMED_OUT, operation: "metadata", timeoutMs: timeoutMs)
            }
        }
    }

    /// Topics and partition counts, from the broker; `.brokerUnreachable` (naming
    /// `bootstrap.servers`) when no broker answers within `timeoutMs`.
    public func metadata(timeoutMs: Int32) throws(KafkaError) -> KafkaMetadata {
        try handle.metadata(timeoutMs: timeoutMs)
    }

    /// The partition's first offset (low) and the offset its next message will get (high).
    ///
    /// A relay compares `high` with what the broker acknowledged to detect a broker that lost
    /// data. Tansu 0.6.0 answers this query with the last record batch's base offset + 1, not the
    /// true end, when that batch holds several messages; fetches report the true end.
    public func watermarks(topic: String, partition: Int32, timeoutMs: Int32) throws(KafkaError) -> (low: Int64, high: Int64) {
        try handle.watermarks(topic: topic, partition: partition, timeoutMs: timeoutMs)
    }

    /// Creates a topic with topic-level `config` (e.g. `retention.ms`); an existing topic of
    /// that name is reported, not thrown (its settings are left as they are). A
    /// `replicationFactor` of -1 takes the broker's `default.replication.factor`.
    public func createTopic(
        _ name: String, partitions: Int32, replicationFactor: Int32 = 1, config: [String: String] = [:], timeoutMs: Int32 = 10_000,
        interrupted: () -> Bool = { false }
    ) throws(KafkaError) -> KafkaTopicCreation {
        let operation = "createTopic \(name)"
        var errorText = [CChar](repeating: 0, count: 512)
        guard let newTopic = rd_kafka_NewTopic_new(name, partitions, replicationFactor, &errorText, errorText.count) else {
            throw KafkaError(code: .librdkafka, operation: operation, message: String(cText: errorText))
        }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        for (key, value) in config.sorted(by: { $0.key < $1.key }) {
            let code = rd_kafka_NewTopic_set_config(newTopic, key, value)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, operation: operation + " (setting \(key)=\(value))") }
        }
        let code = try runTopicOperation(
            operation: operation, kind: RD_KAFKA_ADMIN_OP_CREATETOPICS, timeoutMs: timeoutMs, interrupted: interrupted,
            start: { client, options, queue in
                var topics: [OpaquePointer?] = [newTopic]
                rd_kafka_CreateTopics(client, &topics, 1, options, queue)
            },
            results: { event, count in rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), count) })
        return code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? .alreadyExisted : .created
    }

    /// The topic's settings as the broker describes them (DescribeConfigs), by name: those
    /// set on the topic and, where the broker lists them, its defaults.
    public func topicConfig(_ name: String, timeoutMs: Int32 = 10_000, interrupted: () -> Bool = { false }) throws(KafkaError) -> [String: String] {
        let operation = "describeConfigs \(name)"
        let resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name)!
        defer { rd_kafka_ConfigResource_destroy(resource) }
        let event = try runAdminRequest(operation: operation, kind: RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeoutMs: timeoutMs, interrupted: interrupted) {
            client, options, queue in
            var resources: [OpaquePointer?] = [resource]
            rd_kafka_DescribeConfigs(client, &resources, 1, options, queue)
        }
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        guard let resources = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &count),
              count == 1, let described = resources[0] else {
            throw KafkaError(code: .librdkafka, operation: operation, message: "the broker returned \(count) results for one topic")
        }
        let code = rd_kafka_ConfigResource_error(described)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code, operation: operation, text: rd_kafka_ConfigResource_error_string(described).map { String(cString: $0) })
        }
        var entryCount = 0
        guard let entries = rd_kafka_ConfigResource_configs(described, &entryCount) else { return [:] }
        var settings: [String: String] = [:]
        for index in 0..<entryCount {
            guard let entry = entries[index], let key = rd_kafka_ConfigEntry_name(entry) else { continue }
            settings[String(cString: key)] = rd_kafka_ConfigEntry_value(entry).map { String(cString: $0) } ?? ""
        }
        return settings
    }

    /// Deletes a topic and all its messages; `.unknownTopicOrPartition` if there is none.
    public func deleteTopic(_ name: String, timeoutMs: Int32 = 10_000, interrupted: () -> Bool = { false }) throws(KafkaError) {
        let operation = "deleteTopic \(name)"
        let deletion = rd_kafka_DeleteTopic_new(name)!
        defer { rd_kafka_DeleteTopic_destroy(deletion) }
        _ = try runTopicOperation(
            operation: operation, kind: RD_KAFKA_ADMIN_OP_DELETETOPICS, timeoutMs: timeoutMs, interrupted: interrupted,
            start: { client, options, queue in
                var topics: [OpaquePointer?] = [deletion]
                rd_kafka_DeleteTopics(client, &topics, 1, options, queue)
            },
            results: { event, count in rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event), count) })
    }

    /// Runs one single-topic admin request and returns its topic result code when that is
    /// success or "already exists"; throws anything else.
    private func runTopicOperation(
        operation: String, kind: rd_kafka_admin_op_t, timeoutMs: Int32, interrupted: () -> Bool,
        start: (OpaquePointer, OpaquePointer, OpaquePointer) -> Void,
        results: (OpaquePointer, UnsafeMutablePointer<Int>) -> UnsafeMutablePointer<OpaquePointer?>?
    ) throws(KafkaError) -> rd_kafka_resp_err_t {
        let event = try runAdminRequest(operation: operation, kind: kind, timeoutMs: timeoutMs, interrupted: interrupted, start: start)
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        guard let topics = results(event, &count), count == 1, let topic = topics[0] else {
            throw KafkaError(code: .librdkafka, operation: operation, message: "the broker returned \(count) topic results for one topic")
        }
        let code = rd_kafka_topic_result_error(topic)
        switch code {
        case RD_KAFKA_RESP_ERR_NO_ERROR, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
            return code
        default:
            throw KafkaError(code, operation: operation, text: rd_kafka_topic_result_error_string(topic).map { String(cString: $0) })
        }
    }

    /// Runs one admin request and returns its result event (the caller destroys it) when the
    /// request as a whole succeeded; throws its error otherwise.
    private func runAdminRequest(
        operation: String, kind: rd_kafka_admin_op_t, timeoutMs: Int32, interrupted: () -> Bool,
        start: (OpaquePointer, OpaquePointer, OpaquePointer) -> Void
    ) throws(KafkaError) -> OpaquePointer {
        rd_kafka_poll(handle.pointer, 0)  // serve queued error callbacks; nobody else polls an admin client
        let options = rd_kafka_AdminOptions_new(handle.pointer, kind)!
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errorText = [CChar](repeating: 0, count: 512)
        rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, &errorText, errorText.count)
        rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMs, &errorText, errorText.count)
        let queue = rd_kafka_queue_new(handle.pointer)!
        defer { rd_kafka_queue_destroy(queue) }

        start(handle.pointer, options, queue)
        // The request times out on its own after timeoutMs; a second more covers its report.
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs + 1_000)
        var result: OpaquePointer?
        while result == nil {
            let remaining = Self.milliseconds(until: deadline)
            result = rd_kafka_queue_poll(queue, min(remaining, Self.interruptionSliceMs))
            guard result == nil else { break }
            if remaining <= Self.interruptionSliceMs {
                throw handle.error(RD_KAFKA_RESP_ERR__TIMED_OUT, operation: operation, timeoutMs: timeoutMs)
            }
            if interrupted() { throw Self.interruption(operation) }
        }
        guard let event = result else { throw handle.error(RD_KAFKA_RESP_ERR__TIMED_OUT, operation: operation, timeoutMs: timeoutMs) }
        let eventCode = rd_kafka_event_error(event)
        guard eventCode == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let error = handle.error(
                eventCode, operation: operation, timeoutMs: timeoutMs,
                text: rd_kafka_event_error_string(event).map { String(cString: $0) })
            rd_kafka_event_destroy(event)
            throw error
        }
        return event
    }

    private static func interruption(_ operation: String) -> KafkaError {
        KafkaError(code: .interrupted, operation: operation, message: "stopped while waiting for the broker")
    }

    /// Whole milliseconds left until `deadline`, at least 0.
    private static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let left = ContinuousClock.now.duration(to: deadline)
        let ms = left.components.seconds * 1_000 + left.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(ms, 0))
    }
}
