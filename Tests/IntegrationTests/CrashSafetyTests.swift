import Events
import Foundation
import Testing
import TickfoldTesting


@Suite("tickfold log append survives SIGKILL", .onTestThreads, .serialized, .enabled(if: TickfoldBinary.path != nil, "build the tickfold binary first: swift build"))
struct CrashSafetyTests {
    @Test("killed at random moments while streaming: the log verifies and every acknowledged seq holds the acknowledged id", arguments: [20_261_123 as UInt64])
    func killWhileAppending(seed: UInt64) async throws {
        // The writer would otherwise die of SIGPIPE when the child is killed mid-write.
        signal(SIGPIPE, SIG_IGN)
        var random = SplitMix64(seed: seed)
        let directory = try TemporaryDirectory("cli-crash")
        let logPath = directory.file("log")
        let events = try RelayFixtures.events(0..<6_000)
        let lines = try events.map { Array((try TickfoldBinary.line($0) + "\n").utf8) }
        var indexByID: [EventID: Int] = [:]
        for (index, event) in events.enumerated() { indexByID[event.id] = index }
        var acknowledged: [UInt64: EventID] = [:]
        var start = 0
        var killedMidStream = 0
        var indexedThrough: UInt64 = 0
        // Kills must land while the child appends, whatever the machine's speed: each round
        // kills after a random number of acknowledgement lines (plus a random few ms), not
        // after a fixed time, which a loaded machine spends on the child's startup.
        try EventLog(directory: logPath).close()

        for round in 0..<20 {
            let count = Int.random(in: 60...600, using: &random)
            let end = min(start + count, lines.count)
            let killAfterLines = Int.random(in: 0..<(end - start), using: &random)
            let extraDelay = UInt32.random(in: 0...3_000, using: &random)
            // Small merge runs: kills also land while ids are merged into the index.
            let arguments = ["log", "append", "-", "--commit-every", "50", "--index-merge-run", "120", "--log", logPath]
            let chunk = Data(lines[start..<end].joined())
            let run = try await onThread {
                try Self.appendThenKill(arguments, input: chunk, afterLines: killAfterLines, thenMicroseconds: extraDelay)
            }
            #expect(run.killed || run.status == 0, "round \(round)")
            if run.killed { killedMidStream += 1 }
            let output = run.output

            // Only complete lines count: the kill may tear the last one.
            var text = String(decoding: output, as: UTF8.self)
            if let lastNewline = text.lastIndex(of: "\n") { text = String(text[...lastNewline]) } else { text = "" }
            var highest = start - 1
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                let (seqText, idText) = fields.count == 3 && fields[0] == "duplicate" ? (fields[1], fields[2]) : (fields[0], fields[fields.count - 1])
                guard let seq = UInt64(seqText), let id = EventID(hex: String(idText)), let index = indexByID[id] else {
                    Issue.record("round \(round): unexpected output line \(line)")
                    continue
                }
                #expect(seq == UInt64(index + 1), "round \(round): \(id.hex) acknowledged at seq \(seq)")
                if let earlier = acknowledged[seq] { #expect(earlier == id, "round \(round): seq \(seq) acknowledged twice with different ids") }
                acknowledged[seq] = id
                highest = max(highest, index)
            }

            let verify = try await TickfoldBinary.run(["log", "verify", "--log", logPath])
            #expect(verify.status == 0, "round \(round): \(verify.stdout)\(verify.stderr)")
            let log = try EventLog(directory: logPath, options: .readOnly)
            for (seq, id) in acknowledged {
                #expect(try log.event(at: seq)?.id == id, "round \(round): acknowledged seq \(seq) lost or changed")
                #expect(try log.seq(of: id) == seq, "round \(round): \(id.hex) not found by id at seq \(seq)")
            }
            indexedThrough = try log.stats().indexedThrough
            log.close()
            // Resume after the last acknowledged line: lines committed but not acknowledged
            // come back as duplicates with their original seq.
            start = highest + 1
        }
        // Otherwise the schedule proved nothing: kills must land while appending, after commits.
        #expect(killedMidStream >= 10, "only \(killedMidStream) of 20 runs were killed")
        #expect(acknowledged.count >= 500, "only \(acknowledged.count) acknowledgements")
        // And runs of ids were merged into the index between the kills.
        #expect(indexedThrough >= 120, "the index covers only \(indexedThrough) events")
    }

    /// Starts `tickfold ARGUMENTS`, streams `input` to it, SIGKILLs it once it has printed
    /// `lines` lines and `delay` µs more have passed (or lets it finish), and returns what it
    /// printed. Blocking: the caller runs it off the cooperative pool.
    private static func appendThenKill(
        _ arguments: [String], input: Data, afterLines lines: Int, thenMicroseconds delay: UInt32
    ) throws -> (output: Data, killed: Bool, status: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(TickfoldBinary.path))
        process.arguments = arguments
        let (stdin, stdout) = (Pipe(), Pipe())
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        let writer = stdin.fileHandleForWriting
        let written = DispatchSemaphore(value: 0)
        // The pipe write blocks while the child reads slowly: a thread of its own. Closing
        // the pipe then lets the child commit (and acknowledge) its last partial batch.
        Thread {
            // Both fail with EPIPE once the child is killed: expected, the test kills it.
            try? writer.write(contentsOf: input)
            try? writer.close()
            written.signal()
        }.start()
        let reader = stdout.fileHandleForReading
        var output = Data()
        var printed = 0
        while printed < lines {
            let chunk = reader.availableData
            if chunk.isEmpty { break }  // the child exited on its own
            printed += chunk.count(where: { $0 == UInt8(ascii: "\n") })
            output += chunk
        }
        usleep(delay)
        kill(process.processIdentifier, SIGKILL)
        output += reader.readDataToEndOfFile()
        process.waitUntilExit()
        written.wait()
        return (output, process.terminationReason == .uncaughtSignal, process.terminationStatus)
    }
}
