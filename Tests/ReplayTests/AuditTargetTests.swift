import Replay
import Testing
import TickfoldTesting

@Suite("Audit target syntax", .onTestThreads)
struct AuditTargetTests {
    @Test("pg:, redis: and combined parts parse; commas inside connection strings stay put")
    func parsing() throws {
        #expect(try AuditTarget(parsing: "pg:live") == AuditTarget(postgres: .init(schema: "live")))
        #expect(try AuditTarget(parsing: "pg:postgresql://u@h:5/db#rebuild")
            == AuditTarget(postgres: .init(conninfo: "postgresql://u@h:5/db", schema: "rebuild")))
        #expect(try AuditTarget(parsing: "redis:") == AuditTarget(redis: .init(prefix: "")))
        #expect(try AuditTarget(parsing: "redis:redis://h:6/1#ns:") == AuditTarget(redis: .init(url: "redis://h:6/1", prefix: "ns:")))
        #expect(try AuditTarget(parsing: "pg:postgresql://h1:5,h2:5/db#s,redis:r:")
            == AuditTarget(postgres: .init(conninfo: "postgresql://h1:5,h2:5/db", schema: "s"), redis: .init(prefix: "r:")))
    }

    @Test("names resolve through the caller; unknown names, empty schemas and duplicates are errors")
    func namesAndErrors() throws {
        let names = ["live": "pg:tickfold,redis:", "loop": "live"]
        #expect(try AuditTarget(parsing: "live") { names[$0] } == AuditTarget(postgres: .init(schema: "tickfold"), redis: .init(prefix: "")))
        for bad in ["", "nobody", "loop", "pg:", "pg:a,pg:b", "redis:redis://h:1/0"] {
            #expect(throws: AuditError.self, "\(bad)") { try AuditTarget(parsing: bad) { names[$0] } }
        }
    }

    @Test("descriptions never show passwords")
    func redaction() throws {
        let uri = try AuditTarget(parsing: "pg:postgresql://me:hunter2@h:5/db#s,redis:redis://:pw9@h:6/0#p:")
        #expect(uri.description == "pg:postgresql://me:****@h:5/db#s,redis:redis://:****@h:6/0#p:")
        let keywords = try AuditTarget(parsing: "pg:host=h password=hunter2 dbname=d#s")
        #expect(keywords.description == "pg:host=h password=**** dbname=d#s")
    }
}
