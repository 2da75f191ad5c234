import Foundation
import Projections
import Testing
import TickfoldTesting

@Suite("project run --source kafka warns when the broker has nothing it expects", .onTestThreads, .serialized, .timeLimit(.minutes(5)),
       .enabled(if: TestServices.hasPostgres && TestServices.hasRedis && TestServices.hasKafka && TickfoldBinary.isAvailable))
struct KafkaSourceWarningTests {
    @Test("a prefix without topics, and checkpointed topics missing from the broker, are named on stderr; the run still ends caught up")
    func warnings() async throws {
        let target = try ProjectorTarget()
        defer { target.cleanUp() }
        let prefix = TestServices.uniqueName("nothere")
        let arguments = ["project", "run", "--source", "kafka", "--kafka", try #require(TestServices.kafka)] + target.cliArguments
        let environment = ["TICKFOLD_TOPIC_PREFIX": prefix]

        let empty = try await TickfoldBinary.run(arguments, environment: environment)
        #expect(empty.status == 0, "\(empty.stderr)")
        #expect(empty.stderr.contains("no Kafka topics named \(prefix).* on the broker"), "\(empty.stderr)")

        try target.admin.execute("INSERT INTO \(target.schema).projection_checkpoints (projection, source, partition, position) VALUES ('collected', '\(prefix).bar', 0, 41)")
        // A projection that has written has its Redis marker too (else the run refuses, as its keys are lost).
        let marker = RedisLayout.markerKey(projection: "collected")
        target.track([marker])
        _ = try target.redis.command("SET", target.namespace + marker, "collected@v4")
        let missing = try await TickfoldBinary.run(arguments, environment: environment)
        #expect(missing.status == 0, "\(missing.stderr)")
        #expect(missing.stderr.contains("checkpointed Kafka topics are not on the broker"), "\(missing.stderr)")
        #expect(missing.stderr.contains("topics=\(prefix).bar"), "\(missing.stderr)")
    }
}
