import Foundation
import Testing
import TickfoldTesting

/// `tickfold bench project` and `tickfold bench rebuild` run for real on tiny inputs: not
/// timed, only checks that every figure tooling reads is there and sensible.
@Suite("tickfold bench project / rebuild", .onTestThreads, .serialized,
       .enabled(if: TickfoldBinary.isAvailable && TestServices.hasPostgres && TestServices.hasRedis && TestServices.hasKafka && TestServices.hasPython,
                "needs the tickfold binary, PostgreSQL, Redis, the broker and the Python environment (the seed's consumer)"),
       .timeLimit(.minutes(5)))
struct BenchProjectionCommandTests {
    func figures(_ arguments: [String]) async throws -> [String: Any] {
        let directory = try TemporaryDirectory("bench-projection")
        let result = try await TickfoldBinary.run(arguments + ["--json"], environment: ["TMPDIR": directory.path])
        try #require(result.status == 0, "exit \(result.status): \(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "not a JSON object: \(result.stdout)")
    }

    @Test("bench project: rebuild, \\copy, merge, the seed pattern, Redis and the projector's append→visible latency, all positive")
    func project() async throws {
        let object = try await figures([
            "bench", "project", "--events", "3000", "--batch", "1000", "--merge-events", "500",
            "--redis-keys", "500", "--rate", "500", "--latency-seconds", "1", "--seed-events", "200",
        ])
        #expect(object["bench"] as? String == "project")
        for key in ["pg_rows_per_s", "redis_first_writes_per_s", "redis_updates_per_s", "redis_redelivery_per_s", "redis_raw_set_per_s", "redis_vs_set_ratio", "pg_vs_copy_ratio", "latency_p50_ms",
                    "latency_p99_ms", "latency_from_arrival_p99_ms", "continuous_batches", "continuous_appended_events_per_s", "continuous_append_call_p99_ms", "seed_pattern_msgs_per_s", "seed_python_msgs_per_s", "vs_seed_ratio",
                    "vs_seed_pattern_ratio"] {
            let value = try #require(object[key] as? Double, "missing or not a number: \(key) in \(object)")
            #expect(value > 0, "\(key) is \(value)")
        }
        #expect(object["redis_raw_hset_per_s"] == nil && object["redis_vs_hset_ratio"] == nil, "the raw comparison is SET now")
        let p50 = try #require(object["latency_p50_ms"] as? Double), p99 = try #require(object["latency_p99_ms"] as? Double)
        #expect(p50 <= p99)
        // Every event arrived no later than its append call started.
        let fromArrival = try #require(object["latency_from_arrival_p99_ms"] as? Double)
        #expect(fromArrival >= p99, "from arrival \(fromArrival) ms, from the call \(p99) ms")
        // 500 events/s offered for 1 s: what was delivered is about that, never more.
        let delivered = try #require(object["continuous_appended_events_per_s"] as? Double)
        #expect(delivered <= 520, "delivered \(delivered) events/s of 500 offered")
    }

    @Test("bench project without a Python for the seed's consumer fails up front, naming TICKFOLD_PYTHON and --seed-events 0")
    func seedNeedsPython() async throws {
        let directory = try TemporaryDirectory("bench-projection")
        let result = try await TickfoldBinary.run(
            ["bench", "project", "--events", "1000", "--merge-events", "0", "--redis-keys", "0", "--latency-seconds", "0", "--seed-events", "100"],
            environment: ["TMPDIR": directory.path, "TICKFOLD_PYTHON": ""])
        #expect(result.status != 0)
        #expect(result.stderr.contains("TICKFOLD_PYTHON") && result.stderr.contains("--seed-events 0"), "\(result.stderr)")
    }

    @Test("bench rebuild: events/s, seconds, peak RSS and digest time")
    func rebuild() async throws {
        let object = try await figures(["bench", "rebuild", "--events", "3000", "--batch-size", "1000"])
        #expect(object["bench"] as? String == "rebuild")
        for key in ["rebuild_events_per_s", "rebuild_seconds", "peak_rss_mb", "digest_seconds"] {
            let value = try #require(object[key] as? Double, "missing or not a number: \(key) in \(object)")
            #expect(value > 0, "\(key) is \(value)")
        }
    }
}
