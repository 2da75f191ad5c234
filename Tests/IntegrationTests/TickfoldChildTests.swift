import Foundation
import Testing
import TickfoldTesting

@Suite("test child processes", .onTestThreads, .enabled(if: TickfoldBinary.isAvailable, "build the tickfold binary first: swift build"), .timeLimit(.minutes(5)))
struct TickfoldChildTests {
    @Test("finish stops a child that outlives its timeout instead of waiting on its pipes forever")
    func finishTimesOut() throws {
        let directory = try TemporaryDirectory()
        // A fixture server runs until it is signalled.
        let child = try TickfoldChild(["fixtures", "serve", directory.path, "--port", "0"])
        let started = ContinuousClock.now
        let result = try child.finish(timeout: .seconds(1))
        #expect(ContinuousClock.now - started < .seconds(10), "finish returned only after \(ContinuousClock.now - started)")
        #expect(child.process.terminationReason == .uncaughtSignal || result.status == 0, "\(result)")
    }
}
