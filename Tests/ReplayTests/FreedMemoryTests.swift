import Testing
@testable import Replay
import TickfoldTesting

@Suite("Freed memory", .onTestThreads)
struct FreedMemoryTests {
    @Test("the resident set is read from /proc, and nothing is trimmed below the limit")
    func residentLimit() throws {
        let resident = try #require(FreedMemory.residentBytes())
        #expect(resident > 1 << 20 && resident < 1 << 40, "\(resident) bytes")
        // Touch 64 MB, then free it: the resident set grows past what it was. Tests running
        // beside this one free memory too (and drop mapped log pages), so a few tries.
        var growths: [Int] = []
        for _ in 0..<5 {
            let before = try #require(FreedMemory.residentBytes())
            var block = [UInt8](repeating: 1, count: 64 << 20)
            block[block.count - 1] = 2
            let grown = try #require(FreedMemory.residentBytes())
            block = []
            growths.append(grown - before)
            if grown - before >= 60 << 20 { break }
        }
        #expect(growths.last.map { $0 >= 60 << 20 } == true, "resident set growths: \(growths)")
        #expect(!FreedMemory.release(whenResidentAbove: .max))
    }
}
