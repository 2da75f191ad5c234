import Testing
@testable import Replay

@Suite("Freed memory")
struct FreedMemoryTests {
    @Test("the resident set is read from /proc, and nothing is trimmed below the limit")
    func residentLimit() throws {
        let resident = try #require(FreedMemory.residentBytes())
        #expect(resident > 1 << 20 && resident < 1 << 40, "\(resident) bytes")
        // Touch 64 MB, then free it: the resident set grows past what it was.
        var block = [UInt8](repeating: 1, count: 64 << 20)
        block[block.count - 1] = 2
        let grown = try #require(FreedMemory.residentBytes())
        #expect(grown >= resident + (60 << 20), "\(resident) → \(grown) bytes")
        block = []
        #expect(!FreedMemory.release(whenResidentAbove: .max))
    }
}
