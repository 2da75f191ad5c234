@testable import Events
import Kafka
import Testing
import TickfoldTesting

@Suite("Kafka partition anchors", .onTestThreads)
struct KafkaPartitionAnchorTests {
    static let anchor = KafkaPartitionAnchor(offset: 41, seq: 907)

    static func record(offset: Int64 = 41, seq: String?) -> KafkaRecord {
        KafkaRecord(topic: "tickfold.bar", partition: 0, offset: offset, value: Array("{}".utf8),
                    headers: seq.map { [("id", Array("x".utf8)), ("seq", Array($0.utf8))] } ?? [("id", Array("x".utf8))])
    }

    @Test("the same seq at the offset is the same partition; a message the broker removed by policy leaves it unwritten; anything else there, or nothing, is a rewritten one")
    func verdicts() {
        #expect(Self.anchor.verdict(.message(Self.record(seq: "907"))) == .same)
        #expect(Self.anchor.verdict(.message(Self.record(seq: "12"))) == .rewritten(found: "seq 12"))
        #expect(Self.anchor.verdict(.message(Self.record(seq: nil))) == .rewritten(found: "a message without a numeric seq header"))
        #expect(Self.anchor.verdict(.message(Self.record(seq: "9o7"))) == .rewritten(found: "a message without a numeric seq header"))
        #expect(Self.anchor.verdict(.absent(end: 30)) == .rewritten(found: "no message: the partition ends at offset 30"))
        #expect(Self.anchor.verdict(.absent(end: nil)) == .rewritten(found: "no message at that offset"))
        #expect(Self.anchor.verdict(.unanswered) == .unanswered)
        // Removed by the broker's policy (retention): the partition goes on at 55, unwritten.
        #expect(Self.anchor.verdict(.removed(next: 55)) == .removed(next: 55))
    }

    @Test("the relay's loss check: a topic is lost when one of its partitions was written again; a message removed by policy is no loss; no answer fails the check instead of publishing the topic again")
    func relayLossVerdicts() throws {
        let (bar0, bar1, macro0) = (KafkaTopicPartition(topic: "t.bar", partition: 0), KafkaTopicPartition(topic: "t.bar", partition: 1),
                                   KafkaTopicPartition(topic: "t.macro", partition: 0))
        let marks = [bar0: Self.anchor, bar1: Self.anchor, macro0: Self.anchor]
        let kept = try KafkaRelay.judge(marks, found: [bar0: .message(Self.record(seq: "907")), bar1: .message(Self.record(seq: "907")),
                                                       macro0: .removed(next: 60)], timeoutMs: 10_000)
        #expect(kept.lost.isEmpty && kept.removed == [macro0: 60])
        let rewritten = try KafkaRelay.judge(marks, found: [bar0: .message(Self.record(seq: "907")), bar1: .absent(end: 3),
                                                            macro0: .message(Self.record(seq: "12"))], timeoutMs: 10_000)
        #expect(rewritten.lost == ["t.bar", "t.macro"] && rewritten.removed.isEmpty)
        let error = try #require(throws: KafkaError.self) {
            try KafkaRelay.judge(marks, found: [bar0: .absent(end: 3), bar1: .unanswered, macro0: .message(Self.record(seq: "907"))], timeoutMs: 10_000)
        }
        #expect(error.code == .timedOut && "\(error)".contains("t.bar") && "\(error)".contains("offset 41"), "\(error)")
        // A partition missing from what the probe found counts as unanswered.
        #expect(throws: KafkaError.self) { try KafkaRelay.judge(marks, found: [bar0: .message(Self.record(seq: "907"))], timeoutMs: 10_000) }
    }

    @Test("a broker's topic setting is the relay's when the text or the whole number is the same")
    func sameTopicSettings() {
        #expect(KafkaRelay.sameSetting("-1", "-1") && KafkaRelay.sameSetting(" -1", "-1 ") && KafkaRelay.sameSetting("0604800000", "604800000"))
        #expect(KafkaRelay.sameSetting("delete", "delete"))
        #expect(!KafkaRelay.sameSetting("604800000", "-1") && !KafkaRelay.sameSetting("compact", "delete"))
    }
}
