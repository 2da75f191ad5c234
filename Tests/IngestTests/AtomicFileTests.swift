import Foundation
import Testing
import TickfoldTesting
@testable import Ingest

@Suite("AtomicFile", .onTestThreads)
struct AtomicFileTests {
    @Test("replaces a file whole with the asked permissions and leaves nothing else in its directory")
    func replaces() throws {
        let directory = try TemporaryDirectory("atomic-file")
        let path = directory.file("ledger.json")
        try AtomicFile.write(Array("first".utf8), to: path, permissions: 0o600)
        try AtomicFile.write(Array("second, longer".utf8), to: path, permissions: 0o600)
        #expect(FileManager.default.contents(atPath: path) == Data("second, longer".utf8))
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["ledger.json"], "no temporary file left beside it")
    }

    @Test("a directory that does not exist fails with an error naming the path; nothing is created")
    func missingDirectory() throws {
        let directory = try TemporaryDirectory("atomic-file")
        let path = directory.file("absent/file.json")
        let error = #expect(throws: AtomicFileError.self) { try AtomicFile.write([1, 2, 3], to: path) }
        #expect(error?.path == path)
        #expect(error?.detail.contains("cannot create") == true, "\(String(describing: error))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
