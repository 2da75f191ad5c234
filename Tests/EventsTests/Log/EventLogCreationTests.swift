import Events
import Foundation
import LMDB
import Testing
import TickfoldTesting

/// A reader (a relay, `log read`) may open a log while another process is creating it: the
/// creator has made the directory, `writer.lock` and the data file, but not committed its
/// databases yet. These tests freeze the log at those moments.
@Suite("EventLog creation seen by a reader", .onTestThreads, .serialized)
struct EventLogCreationTests {
    /// The log directory as its creator leaves it between `mdb_env_open` and its first
    /// commit: `writer.lock`, and a data file of meta pages only (`emptyDataFile`: not even those).
    static func frozenCreation(emptyDataFile: Bool = false) throws -> (TemporaryDirectory, String) {
        let (temporary, path) = try LogFixtures.directory()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        #expect(FileManager.default.createFile(atPath: path + "/writer.lock", contents: nil))
        if emptyDataFile {
            #expect(FileManager.default.createFile(atPath: path + "/data.mdb", contents: nil))
        } else {
            let environment = try LMDBEnvironment(path: path, maxDatabases: 4)
            #expect(environment.info().lastTransactionID == 0)
        }
        return (temporary, path)
    }

    @Test("a reader waits a while for a log being created, then says so instead of 'no meta database' or 'truncated'", arguments: [false, true])
    func readerReportsCreation(emptyDataFile: Bool) throws {
        let (temporary, path) = try Self.frozenCreation(emptyDataFile: emptyDataFile)
        for access in [EventLogOptions.Access.readOnly, .checkpointer] {
            let started = ContinuousClock.now
            let error = #expect(throws: EventLogError.self) {
                _ = try EventLog(directory: path, options: EventLogOptions(access: access, creationWait: .seconds(1)))
            }
            #expect(error?.code == .beingCreated, "\(String(describing: error))")
            #expect(error?.description.contains("the log is being created") == true, "\(String(describing: error))")
            #expect(error?.description.contains("still so after 1") == true, "\(String(describing: error))")
            #expect(ContinuousClock.now - started >= .seconds(1))
        }
        // The creator finishes (an empty data file is the creator's own, not left for another
        // writer to adopt: it stands for a truncated log too): the reader opens an empty log.
        if emptyDataFile { try FileManager.default.removeItem(atPath: path + "/data.mdb") }
        try EventLog(directory: path).close()
        let reader = try EventLog(directory: path, options: .readOnly)
        #expect(try reader.lastSeq() == 0)
        reader.close()
        _ = temporary
    }

    @Test("a directory without writer.lock or data file is no log, reported at once")
    func plainDirectoryIsNoLog() throws {
        let (temporary, path) = try LogFixtures.directory()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let started = ContinuousClock.now
        let error = #expect(throws: EventLogError.self) { _ = try EventLog(directory: path, options: .readOnly) }
        #expect(error?.code == .notFound)
        #expect(ContinuousClock.now - started < .seconds(3))  // not the 5-s creation wait
        _ = temporary
    }

    @Test("a reader process started while the log is being created opens it once its creator commits",
          .enabled(if: TickfoldBinary.isAvailable, "build the tickfold binary first: swift build"))
    func readerProcessWaitsForCreator() async throws {
        let (temporary, path) = try Self.frozenCreation()
        let reader = Task { try await TickfoldBinary.run(["log", "stats", "--json", "--log", path]) }
        // The creator commits from a thread of its own: a full parallel run keeps the
        // cooperative threads busy for seconds, longer than the reader's 5-s wait.
        let outcomes = try await onThread {
            Thread.sleep(forTimeInterval: 0.4)
            let writer = try EventLog(directory: path)
            defer { writer.close() }
            return try writer.appendBlocking([LogFixtures.record(1)])
        }
        #expect(outcomes == [.appended(1)])
        let result = try await reader.value
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("database"), "\(result.stderr)")
        _ = temporary
    }
}
