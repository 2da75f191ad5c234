import ArgumentParser
import Events
import Foundation

/// `tickfold log …`: append to and inspect the LMDB event log.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Append to and inspect the event log.",
        subcommands: [Append.self, Read.self, Get.self, Stats.self, Verify.self]
    )

    struct Append: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append JSON lines of envelopes (no seq; an id is optional) to the log.",
            discussion: """
                Prints `SEQ ID` for each appended event and `duplicate SEQ ID` for events already in \
                the log. An envelope may carry its id (64 hex digits, either case, as log get \
                takes it): it must be the id its content hashes to. \
                A malformed line is reported as FILE:LINE: reason; a file is appended \
                all-or-nothing (exit 1, nothing appended). With --commit-every N, input is committed \
                every N lines as it arrives (for streams); a malformed line ends the stream: every \
                line before it is committed, nothing from it on (exit 1). Exit 2 when the log \
                cannot be opened or written. With --json, one object at the end instead of the \
                lines: {"appended", "duplicates", "lastSeq" (the log's), "malformed", "problems" \
                (the FILE:LINE: reason texts, also on stderr)}.
                """)

        @OptionGroup(title: "Connections") var connection: ConnectionOptions

        @Argument(help: "File of JSON lines, or - for standard input.")
        var file: String = "-"

        @Flag(help: "Commit without fsync (MDB_NOSYNC): survives a process crash, not a machine crash.")
        var nosync = false

        @Option(help: "Commit every N lines as they arrive instead of the whole input at once.")
        var commitEvery: Int?

        @Flag(help: "Print one JSON summary object instead of a line per event.")
        var json = false

        @Option(help: ArgumentHelp(
            "New events kept out of the id index before they are merged into it in key order, at least (more memory, fewer index pages written per event).",
            valueName: "events"))
        var indexMergeRun = EventLogOptions().indexMergeRun

        func validate() throws {
            guard indexMergeRun > 0 else { throw ValidationError("--index-merge-run must be positive") }
            if let commitEvery, commitEvery <= 0 { throw ValidationError("--commit-every must be positive") }
        }

        func run() throws {
            // The input first: a missing file must not leave a new, empty log behind.
            let input = try LineInput(path: file)
            let log = try connection.openLog(.writer, durability: nosync ? .noSync : .fsync, indexMergeRun: indexMergeRun)
            let name = file == "-" ? "<stdin>" : file
            var output = AppendReport(json: json)
            if let commitEvery {
                var batch: [LogRecord] = []
                var lineNumber = 0
                var committed = 0
                while let line = try input.nextLine() {
                    lineNumber += 1
                    guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) else { continue }
                    do { batch.append(try Self.record(fromLine: line)) } catch {
                        // Malformed input, as in whole-file mode (exit 1); what came before stays.
                        try Self.commit(batch, to: log, output: &output)
                        output.reject("\(name):\(lineNumber): \(error)")
                        printError("\(name): stopped at line \(lineNumber); the \(committed + batch.count) event(s) before it are committed, nothing after it")
                        try output.finish(log)
                        throw ExitCode(1)
                    }
                    if batch.count >= commitEvery {
                        try Self.commit(batch, to: log, output: &output)
                        committed += batch.count
                        batch.removeAll(keepingCapacity: true)
                    }
                }
                try Self.commit(batch, to: log, output: &output)
                try output.finish(log)
                return
            }
            // Records, not events, are held until the one commit: a record is the canonical
            // bytes and the id, about half of what a decoded event keeps.
            var records: [LogRecord] = []
            var lineNumber = 0
            while let line = try input.nextLine() {
                lineNumber += 1
                guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) else { continue }
                do { records.append(try Self.record(fromLine: line)) } catch {
                    output.reject("\(name):\(lineNumber): \(error)")
                }
            }
            guard output.problems.isEmpty else {
                printError("\(name): \(output.problems.count) malformed line(s); nothing appended")
                try output.finish(log)
                throw ExitCode(1)
            }
            try Self.commit(records, to: log, output: &output)
            try output.finish(log)
        }

        /// The log record of one input line: the event it holds, in canonical form.
        private static func record(fromLine line: some Collection<UInt8>) throws -> LogRecord {
            try EventLog.record(for: try EventSubmission.event(fromLine: line))
        }

        private static func commit(_ records: [LogRecord], to log: EventLog, output: inout AppendReport) throws {
            guard !records.isEmpty else { return }
            output.record(records, try log.appendBlocking(records))
        }
    }

    /// What `log append` prints: `SEQ ID` (or `duplicate SEQ ID`) as events are committed, or
    /// with `--json` one summary object at the end. Malformed lines go to stderr either way.
    struct AppendReport {
        struct Summary: Encodable {
            let appended: Int
            let duplicates: Int
            let lastSeq: UInt64
            let malformed: Int
            let problems: [String]
        }

        let json: Bool
        private var output = StandardOutput()
        private var appended = 0
        private var duplicates = 0
        private(set) var problems: [String] = []

        init(json: Bool) { self.json = json }

        mutating func record(_ records: [LogRecord], _ outcomes: [AppendOutcome]) {
            for (record, outcome) in zip(records, outcomes) {
                switch outcome {
                case .appended(let seq):
                    appended += 1
                    if !json { output.write("\(seq) \(record.id.hex)\n") }
                case .duplicate(let seq):
                    duplicates += 1
                    if !json { output.write("duplicate \(seq) \(record.id.hex)\n") }
                }
            }
            output.flush()
        }

        mutating func reject(_ problem: String) {
            printError(problem)
            problems.append(problem)
        }

        /// Prints the summary (`--json`); the lines are already out otherwise.
        mutating func finish(_ log: EventLog) throws {
            guard json else { return }
            let summary = Summary(appended: appended, duplicates: duplicates, lastSeq: try log.lastSeq(), malformed: problems.count, problems: problems)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            output.write(try encoder.encode(summary).map { $0 })
            output.write("\n")
            output.flush()
        }
    }

    struct Read: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print events from a seq on, optionally filtered.")

        @OptionGroup(title: "Connections") var connection: ConnectionOptions
        @Option(help: "First seq to read.") var from: UInt64 = 1
        @Option(help: "Last seq to read (inclusive).") var to: UInt64?
        @Option(help: "Only events of this type.") var type: String?
        @Option(help: "Only events about this subject.") var subject: String?
        @Flag(help: "Print canonical JSON envelopes (with seq), one per line.") var json = false

        func validate() throws {
            if let to, to < max(from, 1) { throw ValidationError("--to \(to) is before --from \(from): nothing to read") }
        }

        func run() throws {
            let log = try connection.openLog(.readOnly)
            var output = StandardOutput()
            var decoder = EventDecoder()
            if !json { output.write("seq\toccurredAt\ttype\tsource\tsubject\tid\n") }
            try log.forEach(from: max(from, 1), through: to ?? .max) { view in
                var event = try decoder.decode(view.canonicalJSON, verification: .trustStored)
                event.seq = view.seq
                if let type, event.type != type { return }
                if let subject, event.subject != subject { return }
                if json {
                    output.write(try event.canonicalBytes(includingSeq: true))
                    output.write("\n")
                } else {
                    output.write("\(view.seq)\t\(event.occurredAt)\t\(event.type)\t\(event.source)\t\(event.subject)\t\(event.id.hex)\n")
                }
            }
            output.flush()
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the event with this id (exit 1 if absent).")

        @OptionGroup(title: "Connections") var connection: ConnectionOptions
        @Argument(help: "The event id: 64 hex digits.") var id: String

        func run() throws {
            guard let eventID = EventID(hex: id) else { throw ValidationError("an event id is 64 hex digits") }
            let log = try connection.openLog(.readOnly)
            guard let seq = try log.seq(of: eventID), let stored = try log.event(at: seq) else {
                printError("no event \(id) in \(log.directory)")
                throw ExitCode(1)
            }
            var event = try Event.decode(stored.canonicalJSON, verification: .recompute)
            event.seq = seq
            var output = StandardOutput()
            output.write(try event.canonicalBytes(includingSeq: true))
            output.write("\n")
            output.flush()
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Count, last seq, bytes and compression ratio.")

        @OptionGroup(title: "Connections") var connection: ConnectionOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let log = try connection.openLog(.readOnly)
            let stats = try log.stats()
            let ratio = (stats.compressionRatio * 1000).rounded() / 1000
            if json {
                print(#"{"bytesOnDisk":\#(stats.fileBytes),"compressionRatio":\#(ratio),"count":\#(stats.count),"indexedThrough":\#(stats.indexedThrough),"lastSeq":\#(stats.lastSeq),"rawBytes":\#(stats.rawBytes),"storedBytes":\#(stats.storedBytes)}"#)
            } else {
                print("""
                    log               \(log.directory)
                    events            \(stats.count)
                    last seq          \(stats.lastSeq)
                    indexed through   \(stats.indexedThrough) (later events are found through their stored ids until merged)
                    canonical bytes   \(stats.rawBytes)
                    stored bytes      \(stats.storedBytes)
                    file bytes        \(stats.fileBytes)
                    compression ratio \(ratio)
                    """)
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-hash every event and check the id index both ways (exit 1 on any inconsistency).",
            discussion: """
                Exit 0: consistent; 1: inconsistencies (listed); 2: the log could not be opened or read, \
                so nothing was verified. With --json, one object: {"events", "inconsistencies", "log" \
                (the directory), "problems" (one text each)}; the exit status is the same.
                """)

        @OptionGroup(title: "Connections") var connection: ConnectionOptions
        @Flag(help: "Print one JSON object.") var json = false

        struct Summary: Encodable {
            let events: Int
            let inconsistencies: Int
            let log: String
            let problems: [String]
        }

        func run() throws {
            let log = try connection.openLog(.readOnly)
            let problems = try log.verify()
            let count = try log.count()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let summary = Summary(events: count, inconsistencies: problems.count, log: log.directory, problems: problems.map { "\($0)" })
                print(String(decoding: try encoder.encode(summary), as: UTF8.self))
                if !problems.isEmpty { throw ExitCode(1) }
                return
            }
            guard problems.isEmpty else {
                for problem in problems { print(problem) }
                printError("\(log.directory): \(problems.count) inconsistenc\(problems.count == 1 ? "y" : "ies") in \(count) events")
                throw ExitCode(1)
            }
            print("\(log.directory): \(count) events verified, no inconsistency")
        }
    }
}

extension ConnectionOptions {
    /// Opens the event log at the configured path with a precise error when it cannot.
    func openLog(_ access: EventLogOptions.Access, durability: EventLogOptions.Durability = .fsync,
                 indexMergeRun: Int = EventLogOptions().indexMergeRun) throws -> EventLog {
        let path = try logPath()
        do {
            return try EventLog(directory: path.value, options: EventLogOptions(access: access, durability: durability, indexMergeRun: indexMergeRun))
        } catch {
            throw CLIError("event log \(path): \(error)")
        }
    }
}
