import Kafka
import Projections
import Testing
import TickfoldTesting

@Suite("Kafka partition anchors", .onTestThreads)
struct KafkaPartitionAnchorTests {
    static let anchor = KafkaPartitionAnchor(offset: 41, seq: 907)

    static func record(offset: Int64 = 41, seq: String?) -> KafkaRecord {
        KafkaRecord(topic: "tickfold.bar", partition: 0, offset: offset, value: Array("{}".utf8),
                    headers: seq.map { [("id", Array("x".utf8)), ("seq", Array($0.utf8))] } ?? [("id", Array("x".utf8))])
    }

    @Test("the same seq at the offset is the same partition; anything else there, or nothing, is a rewritten one")
    func verdicts() {
        #expect(Self.anchor.verdict(.message(Self.record(seq: "907"))) == .same)
        #expect(Self.anchor.verdict(.message(Self.record(seq: "12"))) == .rewritten(found: "seq 12"))
        #expect(Self.anchor.verdict(.message(Self.record(seq: nil))) == .rewritten(found: "a message without a numeric seq header"))
        #expect(Self.anchor.verdict(.message(Self.record(seq: "9o7"))) == .rewritten(found: "a message without a numeric seq header"))
        #expect(Self.anchor.verdict(.absent(end: 30)) == .rewritten(found: "no message: the partition ends at offset 30"))
        #expect(Self.anchor.verdict(.absent(end: nil)) == .rewritten(found: "no message at that offset"))
        #expect(Self.anchor.verdict(.unanswered) == .unanswered)
    }
}
