import ArgumentParser
import Events
import Foundation
import Replay

/// `tickfold audit …`: digests, diffs and traces of projection outputs (SPEC §6).
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Digest, compare and trace projection outputs.",
        discussion: """
        A TARGET is one or more comma-separated parts, or a name:
          pg:SCHEMA            schema on the default database (--pg, TICKFOLD_PG)
          pg:CONNINFO#SCHEMA   schema on another database (libpq URI or key=value)
          redis:PREFIX         key namespace on the default Redis (--redis,
                               TICKFOLD_REDIS); the prefix may be empty
          redis:@NAMESPACE     wherever the namespace pointer of NAMESPACE says
                               the keys are (after replays); redis:@ for live
          redis:URL#PREFIX     key namespace on another Redis server
          NAME                 from the configuration file's "auditTargets",
                               e.g. {"auditTargets": {"live": "pg:tickfold,redis:"}}
        Example:
          tickfold audit diff pg:tickfold,redis:@ pg:rebuild,redis:rebuild:
        Exit status: 0 equal (or success), 1 different, 2 error;
        64 for command-line misuse.
        """,
        subcommands: [Digest.self, Diff.self, Trace.self]
    )

    /// What to digest or compare and how finely.
    struct Scope: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("Only this table (repeatable); default: every table with a primary key.", valueName: "name"))
        var table: [String] = []

        @Option(name: .long, help: ArgumentHelp("Redis key family as a glob relative to the prefix (repeatable); default: the latest:* families and sp500_market_data.", valueName: "pattern"))
        var family: [String] = []

        @Option(name: .long, help: ArgumentHelp("Operational column or hash field left out of the canonical form (repeatable); default: applied_at, updated_at, ttl.", valueName: "name"))
        var exclude: [String] = []

        @Option(name: .long, help: "Leaves at the first level are 2^bits key-hash buckets (1…32).")
        var leafBits: Int = 12

        func options() -> AuditOptions {
            var options = AuditOptions(leafBits: leafBits)
            if !table.isEmpty { options.tables = table }
            if !family.isEmpty { options.families = family }
            if !exclude.isEmpty {
                options.excludedColumns = Set(exclude)
                options.excludedFields = Set(exclude)
            }
            return options
        }
    }

    /// `tickfold audit digest [--target T …] [--json]`.
    struct Digest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a Merkle digest per table and per Redis key family, with the log position it covers.",
            discussion: "Operational columns are excluded, so two correct rebuilds print equal roots. See `tickfold audit --help` for TARGET.")

        @OptionGroup(title: "Connections") var connections: ConnectionOptions
        @OptionGroup(title: "Scope") var scope: Scope

        @Option(name: .long, help: ArgumentHelp("What to digest (repeatable).", valueName: "target"))
        var target: [String] = ["pg:tickfold,redis:@"]

        @Flag(name: .long, help: "Machine-readable output.")
        var json = false

        func run() async throws {
            let options = scope.options()
            let (targets, pg, redis) = try resolve(target, connections)
            try await audited {
                var reports: [DigestReport] = []
                for target in targets {
                    let source = try AuditSource.open(target, defaultPostgres: pg, defaultRedis: redis)
                    reports.append(try Audit.digest(source, options: options))
                }
                print(json ? try auditJSON(reports) : reports.map { $0.text() }.joined(separator: "\n\n"))
                return .equal
            }
        }
    }

    /// `tickfold audit diff A B [--json] [--limit N]`.
    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two targets range by range and print each differing row or key.",
            discussion: "Exit status 0 when equal, 1 when different, 2 on error. See `tickfold audit --help` for TARGET.")

        @OptionGroup(title: "Connections") var connections: ConnectionOptions
        @OptionGroup(title: "Scope") var scope: Scope

        @Argument(help: "Side A.") var a: String
        @Argument(help: "Side B.") var b: String

        @Option(name: .long, help: "List at most this many differences per table or family.")
        var limit = 1000

        @Flag(name: .long, help: "Machine-readable output.")
        var json = false

        func run() async throws {
            var scoped = scope.options()
            scoped.maxDifferences = limit
            let options = scoped
            let (targets, pg, redis) = try resolve([a, b], connections)
            try await audited {
                let sourceA = try AuditSource.open(targets[0], defaultPostgres: pg, defaultRedis: redis)
                let sourceB = try AuditSource.open(targets[1], defaultPostgres: pg, defaultRedis: redis)
                let report = try Audit.diff(sourceA, sourceB, options: options)
                print(json ? try auditJSON(report) : report.text())
                return report.isEqual ? .equal : .different
            }
        }
    }

    /// `tickfold audit trace TABLE KEY… [--target T] [--history] [--json]`.
    struct Trace: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the events (seq, id, type, source, occurredAt) that produced a row.",
            discussion: """
            Reads the row's event_id and seq, looks the event up in the log by id and prints it \
            as the last writer. --history also scans the log up to it for earlier events of the \
            same type and subject that wrote the same row or key: each is folded by the \
            registered projections, exactly as the projector would. For a row no fold writes \
            itself (a view, a table of another tool) it falls back to events whose payload \
            mentions every key value, and says so. With a redis: target, TABLE is a key relative \
            to the prefix and no KEY is given.
            """)

        @OptionGroup(title: "Connections") var connections: ConnectionOptions

        @Argument(help: "Table (or Redis key with a redis: target).") var table: String
        @Argument(help: "Primary key values, in key column order.") var key: [String] = []

        @Option(name: .long, help: ArgumentHelp("Where the row lives.", valueName: "target"))
        var target = "pg:tickfold"

        @Flag(name: .long, help: "Also scan the log for earlier events of the row.")
        var history = false

        @Flag(name: .long, help: "Machine-readable output.")
        var json = false

        func run() async throws {
            let (targets, pg, redis) = try resolve([target], connections)
            let logPath = try connections.logPath().value
            try await audited {
                let source = try AuditSource.open(targets[0], defaultPostgres: pg, defaultRedis: redis)
                let log: EventLog
                do {
                    log = try EventLog(directory: logPath, options: .readOnly)
                } catch {
                    throw AuditError(.eventLog, operation: "open log", message: "\(logPath): \(error)")
                }
                defer { log.close() }
                let report = try Audit.trace(source, table: table, key: key, log: log, history: history)
                print(json ? try auditJSON(report) : report.text())
                return .equal
            }
        }
    }
}

/// Parses target specifications (names from the configuration file's `auditTargets`) and
/// resolves the default servers.
private func resolve(_ specifications: [String], _ connections: ConnectionOptions) throws -> ([AuditTarget], String, String) {
    let names: [String: String]
    do {
        names = try configuredTargets(connections)
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(AuditExitStatus.error.rawValue)
    }
    do {
        let targets = try specifications.map { try AuditTarget(parsing: $0) { names[$0] } }
        return (targets, try connections.postgres().value, try connections.redisURL().value)
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(AuditExitStatus.error.rawValue)
    }
}

/// The `auditTargets` object of the configuration file (name → target specification).
private func configuredTargets(_ connections: ConnectionOptions) throws -> [String: String] {
    try connections.configurationFile().section("auditTargets", as: [String: String].self) ?? [:]
}

/// Runs the blocking audit `body` on its own thread (never on the cooperative pool) and
/// exits with its status: errors print one line on stderr and exit 2.
private func audited(_ body: @escaping @Sendable () throws -> AuditExitStatus) async throws {
    let status: AuditExitStatus = await withCheckedContinuation { continuation in
        let thread = Thread {
            do {
                let status = try body()
                fflush(nil)
                continuation.resume(returning: status)
            } catch {
                fflush(nil)
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                continuation.resume(returning: .error)
            }
        }
        thread.stackSize = 4 << 20
        thread.start()
    }
    if status != .equal { throw ExitCode(status.rawValue) }
}
