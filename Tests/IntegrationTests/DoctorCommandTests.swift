import Foundation
import Testing
import TickfoldTesting

@Suite("tickfold doctor", .onTestThreads, .timeLimit(.minutes(5)),
       .enabled(if: TickfoldBinary.isAvailable && TestServices.hasPostgres && TestServices.hasRedis && TestServices.hasKafka))
struct DoctorCommandTests {
    @Test("every check makes its round trip against the ./dev servers; a dead Redis fails only its check, exit 1, naming the setting")
    func doctor() async throws {
        let passing = try await TickfoldBinary.run(["doctor", "--json"])
        #expect(passing.status == 0, "\(passing.stdout)\(passing.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(passing.stdout.utf8)) as? [String: Any], "\(passing.stdout)")
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(report["ok"] as? Bool == true)
        #expect(checks.map { $0["name"] as? String } == ["lmdb", "zstd", "kafka", "postgres", "redis"])
        #expect(checks.allSatisfy { $0["ok"] as? Bool == true && !($0["detail"] as? String ?? "").isEmpty }, "\(checks)")

        let port = try closedLocalPort()
        let failing = try await TickfoldBinary.run(["doctor", "--redis", "redis://127.0.0.1:\(port)/0"])
        #expect(failing.status == 1, "\(failing.stdout)\(failing.stderr)")
        let lines = failing.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("ok    ") }.count == 4, "\(failing.stdout)")
        let redisLine = try #require(lines.first { $0.hasPrefix("FAIL  redis") }, "\(failing.stdout)")
        #expect(redisLine.contains("\(port)") && redisLine.contains("--redis"), "\(redisLine)")
        #expect(failing.stderr.contains("1 of 5 checks failed"))
    }
}
