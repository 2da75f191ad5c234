import Events

/// A log position as an operator writes it for `--from`/`--to`: a seq, an RFC 3339 time,
/// or a Kafka message (`kafka:TOPIC:PARTITION:OFFSET`), which maps to the seq in its header.
public enum ReplayPosition: Sendable, Hashable, CustomStringConvertible {
    case seq(UInt64)
    case time(Timestamp)
    case kafka(topic: String, partition: Int32, offset: Int64)

    /// Parses `42`, `2025-03-14T20:00:00Z` or `kafka:tickfold.bar:3:1200`.
    public init(parsing text: String) throws(ReplayError) {
        if text.hasPrefix("kafka:") {
            // The topic may itself hold colons; partition and offset are the last two fields.
            let fields = text.dropFirst(6).split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 3, let partition = Int32(fields[fields.count - 2]), partition >= 0,
                  let offset = Int64(fields[fields.count - 1]), offset >= 0 else {
                throw ReplayError(.invalidPosition, operation: "parse position", message: "\"\(text)\" is not kafka:TOPIC:PARTITION:OFFSET")
            }
            let topic = fields[..<(fields.count - 2)].joined(separator: ":")
            guard !topic.isEmpty else {
                throw ReplayError(.invalidPosition, operation: "parse position", message: "\"\(text)\" names no topic")
            }
            self = .kafka(topic: topic, partition: partition, offset: offset)
        } else if !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            guard let seq = UInt64(text), seq >= 1 else {
                throw ReplayError(.invalidPosition, operation: "parse position", message: "seq \(text) is out of range (seqs start at 1)")
            }
            self = .seq(seq)
        } else {
            do {
                self = .time(try Timestamp.parseRFC3339(text))
            } catch {
                throw ReplayError(.invalidPosition, operation: "parse position",
                    message: "\"\(text)\" is neither a seq, an RFC 3339 time (2025-03-14T20:00:00Z) nor kafka:TOPIC:PARTITION:OFFSET (\(error.detail))")
            }
        }
    }

    public var description: String {
        switch self {
        case .seq(let seq): return "seq \(seq)"
        case .time(let time): return time.rfc3339
        case .kafka(let topic, let partition, let offset): return "kafka:\(topic):\(partition):\(offset)"
        }
    }
}

/// Maps positions to log seqs.
public struct ReplayPositionResolver {
    /// Reads the seq header of a Kafka message (the caller owns the broker connection).
    public typealias KafkaLookup = (_ topic: String, _ partition: Int32, _ offset: Int64) throws -> UInt64

    let log: EventLog
    let kafka: KafkaLookup?

    public init(log: EventLog, kafka: KafkaLookup? = nil) {
        self.log = log
        self.kafka = kafka
    }

    /// The first seq a `--from` position covers. A time maps to the lowest seq of an event
    /// that occurred at or after it, so every such event is refolded (occurredAt is not
    /// ordered by seq: the log is scanned); a time after every event maps past the head.
    public func first(_ position: ReplayPosition) throws(ReplayError) -> UInt64 {
        switch position {
        case .seq(let seq):
            return seq
        case .time(let time):
            if let seq = try scan({ $0 >= time }) { return seq }
            return try head() + 1
        case .kafka(let topic, let partition, let offset):
            return try kafkaSeq(topic, partition, offset)
        }
    }

    /// The last seq a `--to` position covers: a seq or a Kafka message itself, or for a
    /// time the log prefix before the first event that occurred after it.
    public func last(_ position: ReplayPosition) throws(ReplayError) -> UInt64 {
        switch position {
        case .seq(let seq):
            return seq
        case .time(let time):
            if let seq = try scan({ $0 > time }) { return seq - 1 }
            return try head()
        case .kafka(let topic, let partition, let offset):
            return try kafkaSeq(topic, partition, offset)
        }
    }

    func head() throws(ReplayError) -> UInt64 {
        do { return try log.lastSeq() } catch {
            throw ReplayError(.log, operation: "read log head", message: "\(error)", underlying: error)
        }
    }

    /// The lowest seq whose event's occurredAt satisfies `matches`, scanning the log in
    /// chunks so that it stops at the first match.
    private func scan(_ matches: (Timestamp) -> Bool) throws(ReplayError) -> UInt64? {
        var decoder = EventDecoder()
        var found: UInt64?
        let head = try head()
        var start: UInt64 = 1
        do {
            while start <= head, found == nil {
                let end = min(head, start + 65_535)
                try log.forEach(from: start, through: end) { view in
                    guard found == nil else { return }
                    let event = try decoder.decode(view.canonicalJSON, verification: .trustStored)
                    if matches(event.occurredAt) { found = view.seq }
                }
                start = end + 1
            }
        } catch {
            throw ReplayError(.log, operation: "map a time to a seq", message: "\(error)", underlying: error)
        }
        return found
    }

    private func kafkaSeq(_ topic: String, _ partition: Int32, _ offset: Int64) throws(ReplayError) -> UInt64 {
        guard let kafka else {
            throw ReplayError(.invalidPosition, operation: "resolve kafka position", message: "no Kafka connection configured to read kafka:\(topic):\(partition):\(offset)")
        }
        do { return try kafka(topic, partition, offset) } catch let error as ReplayError { throw error } catch {
            throw ReplayError(.notFound, operation: "resolve kafka position", message: "kafka:\(topic):\(partition):\(offset): \(error)", underlying: error)
        }
    }
}
