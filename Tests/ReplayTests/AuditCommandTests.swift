import Foundation
import Replay
import Testing
import TickfoldTesting

/// The built `tickfold` binary beside this package, when `swift build` has produced one.
private let tickfold: String = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug/tickfold").path
}()

private var hasTickfold: Bool { FileManager.default.isExecutableFile(atPath: tickfold) }

@Suite("tickfold audit exit codes", .serialized, .timeLimit(.minutes(2)))
struct AuditCommandTests {
    /// Runs the binary with `arguments`; returns its status, stdout and stderr.
    func run(_ arguments: [String]) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tickfold)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TICKFOLD_CONFIG"] = nil
        process.environment = environment
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    @Test("diff exits 0 when equal, 1 when different, 2 on error; digest --json carries roots and max seq",
          .enabled(if: TestServices.hasPostgres && hasTickfold))
    func exitCodes() throws {
        let pair = try SchemaPair("cli")
        try pair.createBars(rows: 3_000)
        let equal = try run(["audit", "diff", "pg:\(pair.a)", "pg:\(pair.b)"])
        #expect(equal.0 == 0, "\(equal.2)")
        #expect(equal.1.contains("bars: equal"))

        try pair.connection.execute("UPDATE \(pair.b).bars SET close = 0 WHERE seq = 1234")
        let different = try run(["audit", "diff", "pg:\(pair.a)", "pg:\(pair.b)", "--json"])
        #expect(different.0 == 1, "\(different.2)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(different.1.utf8)) as? [String: Any])
        let comparisons = try #require(json["comparisons"] as? [[String: Any]])
        #expect((comparisons.first?["differences"] as? [Any])?.count == 1)

        let missing = try run(["audit", "diff", "pg:\(pair.a)", "pg:\(pair.b)_missing"])
        #expect(missing.0 == 2)
        #expect(missing.2.contains("does not exist"))
        let down = try run(["audit", "diff", "pg:\(pair.a)", "pg:postgresql://x:pw@127.0.0.1:1/db#s"])
        #expect(down.0 == 2)
        #expect(!down.2.contains(":pw@"))
        let badTarget = try run(["audit", "digest", "--target", "nonsense"])
        #expect(badTarget.0 == 2)

        let digest = try run(["audit", "digest", "--target", "pg:\(pair.a)", "--json"])
        #expect(digest.0 == 0, "\(digest.2)")
        let reports = try #require(try JSONSerialization.jsonObject(with: Data(digest.1.utf8)) as? [[String: Any]])
        let table = try #require((reports.first?["tables"] as? [[String: Any]])?.first)
        #expect(table["rows"] as? Int == 3_000)
        #expect(table["maxSeq"] as? Int == 3_000)
        #expect((table["root"] as? String)?.count == 64)
    }
}
