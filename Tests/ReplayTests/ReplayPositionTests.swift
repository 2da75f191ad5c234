import Events
import Projections
import Redis
import Replay
import Testing
import TickfoldTesting

@Suite("Replay positions, swap bookkeeping and pointer targets", .onTestThreads)
struct ReplayPositionTests {
    @Test("seqs, RFC 3339 times and kafka:TOPIC:PARTITION:OFFSET parse", arguments: [
        ("42", ReplayPosition.seq(42)),
        ("2025-03-14T20:00:00Z", .time(Timestamp(millisecondsSinceEpoch: 1_741_982_400_000))),
        ("2025-03-14T21:00:00.250+01:00", .time(Timestamp(millisecondsSinceEpoch: 1_741_982_400_250))),
        ("kafka:tickfold.bar:3:1200", .kafka(topic: "tickfold.bar", partition: 3, offset: 1200)),
        ("kafka:a:b:0:7", .kafka(topic: "a:b", partition: 0, offset: 7)),
    ])
    func parses(text: String, expected: ReplayPosition) throws {
        #expect(try ReplayPosition(parsing: text) == expected)
    }

    @Test("malformed positions are refused with the reason", arguments: [
        "0", "", "-3", "yesterday", "kafka:", "kafka:t:x:1", "kafka:t:1:-1", "kafka::1:2", "2025-13-01T00:00:00Z", "99999999999999999999",
    ])
    func refuses(text: String) {
        let error = #expect(throws: ReplayError.self) { try ReplayPosition(parsing: text) }
        #expect(error?.code == .invalidPosition)
    }

    @Test("schema comments record projection versions and foreign comments record none")
    func versionComments() {
        let comment = ProjectionSwap.comment(for: [CollectedProjection()])
        #expect(comment == "tickfold projections: collected@v4")
        #expect(ProjectionSwap.versions(inComment: comment) == ["collected": 4])
        #expect(ProjectionSwap.versions(inComment: "tickfold projections: a@v3, b@v12") == ["a": 3, "b": 12])
        #expect(ProjectionSwap.versions(inComment: "hand-made schema") == [:])
        #expect(ProjectionSwap.versions(inComment: nil) == [:])
        #expect(ProjectionSwap.lockKey(schema: "tickfold") == ProjectionSwap.lockKey(schema: "tickfold"))
        #expect(ProjectionSwap.lockKey(schema: "tickfold") != ProjectionSwap.lockKey(schema: "tickfold_r1"))
    }

    @Test("redis:@NAMESPACE follows the namespace pointer", .enabled(if: TestServices.hasRedis && TestServices.hasPostgres))
    func pointerTargets() throws {
        let redis = try RedisConnection(url: TestServices.redis!)
        let namespace = TestServices.uniqueName("ptr") + ":"
        let pointer = RedisNamespacePointer(namespace: namespace)
        defer { _ = try? redis.command("DEL", pointer.key) }
        let target = try AuditTarget(parsing: "redis:@" + namespace)
        let unset = try AuditSource.open(target, defaultPostgres: TestServices.postgres!, defaultRedis: TestServices.redis!)
        #expect(unset.target.redis?.prefix == namespace)
        try pointer.set(pointer.shadowPrefix(id: "abc"), redis)
        let moved = try AuditSource.open(target, defaultPostgres: TestServices.postgres!, defaultRedis: TestServices.redis!)
        #expect(moved.target.redis?.prefix == namespace + "tickfold:ns:abc:")
        try pointer.set(namespace, redis)
        #expect(try redis.command("EXISTS", pointer.key).integer == 0)
    }
}
