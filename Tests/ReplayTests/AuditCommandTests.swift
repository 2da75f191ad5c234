import Foundation
import Replay
import Testing
import TickfoldTesting

@Suite("tickfold audit exit codes", .onTestThreads, .serialized, .timeLimit(.minutes(5)))
struct AuditCommandTests {
    @Test("diff exits 0 when equal, 1 when different, 2 on error; digest --json carries roots and max seq",
          .enabled(if: TestServices.hasPostgres && TickfoldBinary.isAvailable))
    func exitCodes() async throws {
        let pair = try SchemaPair("cli")
        try pair.createBars(rows: 3_000)
        let equal = try await TickfoldBinary.run(["audit", "diff", "pg:\(pair.a)", "pg:\(pair.b)"])
        #expect(equal.status == 0, "\(equal.stderr)")
        #expect(equal.stdout.contains("bars: equal"))

        try pair.connection.execute("UPDATE \(pair.b).bars SET close = 0 WHERE seq = 1234")
        let different = try await TickfoldBinary.run(["audit", "diff", "pg:\(pair.a)", "pg:\(pair.b)", "--json"])
        #expect(different.status == 1, "\(different.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(different.stdout.utf8)) as? [String: Any])
        let comparisons = try #require(json["comparisons"] as? [[String: Any]])
        #expect((comparisons.first?["differences"] as? [Any])?.count == 1)

        let missing = try await TickfoldBinary.run(["audit", "diff", "pg:\(pair.a)", "pg:\(pair.b)_missing"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("does not exist"))
        let down = try await TickfoldBinary.run(["audit", "diff", "pg:\(pair.a)", "pg:postgresql://x:pw@127.0.0.1:1/db#s"])
        #expect(down.status == 2)
        #expect(!down.stderr.contains(":pw@"))
        let badTarget = try await TickfoldBinary.run(["audit", "digest", "--target", "nonsense"])
        #expect(badTarget.status == 2)

        let digest = try await TickfoldBinary.run(["audit", "digest", "--target", "pg:\(pair.a)", "--json"])
        #expect(digest.status == 0, "\(digest.stderr)")
        let reports = try #require(try JSONSerialization.jsonObject(with: Data(digest.stdout.utf8)) as? [[String: Any]])
        let table = try #require((reports.first?["tables"] as? [[String: Any]])?.first)
        #expect(table["rows"] as? Int == 3_000)
        #expect(table["maxSeq"] as? Int == 3_000)
        #expect((table["root"] as? String)?.count == 64)
    }
}
