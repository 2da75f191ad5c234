import ArgumentParser
import Events
import Foundation
import Ingest
import Logging

extension IngestCommand {
    /// `tickfold ingest run --plan NAME [--as-of DATE] [--json]`.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run an ingest plan: fetch, parse, append to the event log.",
            discussion: """
            Plans, lists, per-source limits and key variables come from the "ingest" section of the \
            configuration file (see tickfold.example.json); base URLs from "endpoints", \
            TICKFOLD_FIXTURES_URL or TICKFOLD_ENDPOINT_<SOURCE>; keys only from the environment \
            variables (or NAME_FILE files) the configuration names. Every date in a run (query \
            dates, day-of-week plans, snapshot dates, cursors) comes from --as-of, default today \
            (UTC). Malformed responses are quarantined beside the log and recorded as \
            ingest.rejected events. Exit status: 0 unless every due request failed (1); 2 for \
            configuration, log or usage errors.
            """
        )

        @Option(name: .long, help: "Plan to run: etf-daily, holdings, stocks, news, social, crypto, macro, earnings, another configured plan, or all.")
        var plan: String

        @Option(name: .customLong("as-of"), help: "The run's date YYYY-MM-DD (default: today, UTC).")
        var asOf: String?

        @Flag(name: .long, help: "Print one JSON object instead of a table.")
        var json = false

        @OptionGroup(title: "Connection")
        var connection: ConnectionOptions

        func run() async throws {
            let environment = try IngestEnvironment(connection: connection)
            guard !environment.configuration.plans.isEmpty else {
                throw CLIError("no ingest plans configured\(environment.configurationPath.map { " in \($0)" } ?? " (no configuration file: pass --config, set TICKFOLD_CONFIG or create ./tickfold.json)"); see tickfold.example.json")
            }
            do { _ = try environment.configuration.plans(named: plan) } catch { throw CLIError(error.description) }
            let asOf = try resolveAsOf(asOf)
            let log: EventLog
            do { log = try EventLog(directory: environment.logPath) } catch { throw CLIError("event log \(environment.logPath): \(error)") }
            defer { log.close() }
            let ledger: QuotaLedger
            do { ledger = try QuotaLedger(directory: environment.stateDirectory) } catch { throw CLIError("quota ledger \(environment.stateDirectory): \(error)") }
            let logger = Logger(label: "tickfold.ingest")
            let runner = IngestRunner(
                configuration: environment.configuration, endpoints: environment.endpoints, secrets: SecretSource(),
                transport: URLSessionTransport(), clock: SystemWallClock(), ledger: ledger, log: log,
                quarantine: environment.quarantine, logger: logger)
            let report: IngestRunReport
            do { report = try await runner.run(plan: plan, asOf: asOf) } catch { throw CLIError("ingest run --plan \(plan): \(error)") }
            if json {
                try printJSON(report)
            } else {
                printReport(report)
            }
            if report.everythingFailed { throw ExitCode(1) }
        }

        private func printReport(_ report: IngestRunReport) {
            var rows = [["PLAN", "SOURCE", "REQUESTS", "APPENDED", "DUPLICATE", "REJECTED", "STOPPED", "FAILED", "ISSUES"]]
            func cells(_ row: IngestRunReport.Row) -> [String] {
                [row.plan, row.source, "\(row.requests)", "\(row.appended)", "\(row.duplicates)", "\(row.rejected)", "\(row.stopped)",
                 "\(row.failed)", "\(row.issues)"]
            }
            rows += report.rows.map(cells)
            if report.rows.count > 1 { rows.append(cells(report.total)) }
            print("ingest run --plan \(plan) as of \(report.asOf)")
            printAlignedTable(rows, textColumns: 2)
            for note in report.notes { print("  \(note)") }
        }
    }
}
