import Foundation
import Testing
import TickfoldTesting

/// `tickfold bench log` run for real on tiny inputs: not timed, only checks that every figure
/// tooling reads is there and positive, and that a broker failure is reported.
@Suite("tickfold bench log", .onTestThreads, .serialized, .enabled(if: TickfoldBinary.path != nil && TestServices.hasKafka, "needs the tickfold binary and TICKFOLD_KAFKA"),
       .timeLimit(.minutes(5)))
struct BenchLogCommandTests {
    static let requiredKeys = ["append_batched_events_per_s", "read_decode_events_per_s", "random_read_events_per_s", "relay_events_per_s"]
        + ["fsync", "nosync"].flatMap { mode in ["b1", "b100", "b10k", "b100k"].map { "append_\($0)_\(mode)_events_per_s" } }

    // Few events: the batch-1 fsync row costs one fsync each, and integration suites run
    // beside this one (the crash-safety test times its kills against fsync'ed commits).
    @Test("a tiny run prints one JSON object with every append, read + decode, random read and relay figure positive")
    func tinyRunPrintsEveryFigure() async throws {
        let directory = try TemporaryDirectory("bench-log")
        let result = try await TickfoldBinary.run([
            "bench", "log", "--json", "--events", "100", "--seconds", "10", "--scale-events", "2000",
            "--dir", directory.file("logs"), "--kafka", try #require(TestServices.kafka),
        ])
        try #require(result.status == 0, "exit \(result.status): \(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "not a JSON object: \(result.stdout)")
        #expect(object["bench"] as? String == "log")
        for key in Self.requiredKeys {
            let value = try #require(object[key] as? Double, "missing or not a number: \(key) in \(result.stdout)")
            #expect(value > 0, "\(key) is \(value)")
        }
        // The default 1M-event scale log took minutes in a debug build beside other suites.
        #expect((object["append_b10k_fsync_at_scale_events_per_s"] as? Double ?? 0) > 0, "the at-scale row runs on a small scale log too")
        #expect(object["append_batched_events_per_s"] as? Double == object["append_b10k_fsync_events_per_s"] as? Double,
                "append_batched_events_per_s is documented as batch 10k with fsync")
        let context = try #require(object["context"] as? [String: Any])
        let logEvents = (context["log_events"] as? String)?.split(separator: " ").first.flatMap { Int($0) } ?? 0
        #expect(logEvents == 1_000 + 4 * 100, "the nosync log holds the 1,000 warm-up events plus 100 per batch size: \(context)")
    }

    @Test("with the broker unreachable the run fails naming the broker instead of printing a figure")
    func unreachableBrokerFails() async throws {
        let directory = try TemporaryDirectory("bench-log-down")
        let address = "127.0.0.1:\(try closedLocalPort())"
        let result = try await TickfoldBinary.run([
            "bench", "log", "--json", "--events", "50", "--seconds", "1", "--dir", directory.file("logs"), "--kafka", address,
        ])
        #expect(result.status != 0)
        #expect(result.stderr.contains(address), "stderr: \(result.stderr)")
        #expect(!result.stdout.contains("relay_events_per_s"))
    }
}
