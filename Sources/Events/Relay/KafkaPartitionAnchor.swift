import Kafka

/// A message known to be in a partition: its offset and the event seq of its `seq` header (the
/// last one a Kafka projector read, or the last one the broker acknowledged to the relay).
/// While the broker keeps the partition, the same event stays at that offset; a broker that
/// lost the partition (an in-memory broker restarted, a topic deleted) and had it published
/// again gives the offsets to other events, and reading on after the offset would pass over
/// the events now below it. Checking the anchor tells the two apart.
public struct KafkaPartitionAnchor: Sendable, Hashable {
    public let offset: Int64
    public let seq: UInt64

    public init(offset: Int64, seq: UInt64) {
        self.offset = offset
        self.seq = seq
    }

    /// What a check of the anchor against the broker found.
    public enum Verdict: Sendable, Hashable {
        /// The same event is at the offset: reading on after it misses nothing.
        case same
        /// The broker removed the message by policy (retention, `DeleteRecords`: the log now
        /// starts after it) and keeps the partition from offset `next` on: it was not written
        /// again.
        case removed(next: Int64)
        /// Another message, or none, is at the offset: the partition was written again.
        case rewritten(found: String)
        /// The broker did not answer for the partition: no verdict.
        case unanswered
    }

    /// The verdict on what the broker holds at `offset` now.
    public func verdict(_ probe: KafkaOffsetProbe) -> Verdict {
        switch probe {
        case .message(let record):
            guard let found = KafkaEventReader.seqHeader(record) else { return .rewritten(found: "a message without a numeric seq header") }
            return found == seq ? .same : .rewritten(found: "seq \(found)")
        case .absent(let end?):
            return .rewritten(found: "no message: the partition ends at offset \(end)")
        case .absent(nil):
            return .rewritten(found: "no message at that offset")
        case .removed(let next):
            return .removed(next: next)
        case .unanswered:
            return .unanswered
        }
    }
}
