import ArgumentParser
import Events
import Foundation
import Ingest

extension IngestCommand {
    /// `tickfold ingest file --source S --endpoint E [--subject X] [--as-of D] [--param k=v …] FILE…`.
    struct File: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "file",
            abstract: "Import saved raw API responses through the same parsers as ingest run (backfills).",
            discussion: """
            Each FILE is one response body of SOURCE's ENDPOINT (see the endpoint list below). What \
            the body does not state comes from the options: --subject (ticker, series id, user id), \
            --as-of (the date of snapshots such as holdings and coin lists; default today, UTC) and \
            --param for request parameters a parser reads (vs_currency, interval, maturity). A body \
            that cannot be parsed is quarantined beside the log and recorded as an ingest.rejected \
            event. Exit status: 0 all files parsed, 1 some rejected, 2 usage, file or log error.

            Endpoints: \(EndpointCatalog.standard.entries.map { "\($0.source) \($0.endpoint)" }.joined(separator: "; ")).
            """
        )

        @Option(name: .long, help: "Source id (yahoo_finance, alpha_vantage, finnhub, fred, coingecko, bithumb, x_twitter, truth_social, newsapi, wikipedia) or event source name.")
        var source: String

        @Option(name: .long, help: "Endpoint name (chart, quoteSummary, NEWS_SENTIMENT, series/observations …).")
        var endpoint: String

        @Option(name: .long, help: "What the responses are about when the body does not say.")
        var subject: String?

        @Option(name: .customLong("as-of"), help: "Date YYYY-MM-DD for snapshot data (default: today, UTC).")
        var asOf: String?

        @Option(name: .customLong("param"), help: ArgumentHelp("A request parameter the parser reads, NAME=VALUE (repeatable).", valueName: "name=value"))
        var parameters: [String] = []

        @Flag(name: .long, help: "Print one JSON object instead of a table.")
        var json = false

        @OptionGroup(title: "Connection")
        var connection: ConnectionOptions

        @Argument(help: "Response body files.")
        var files: [String]

        func run() async throws {
            let catalog = EndpointCatalog.standard
            guard let entry = catalog.entry(source: source, endpoint: endpoint) else {
                let known = catalog.entries.map { "\($0.source) \($0.endpoint)" }.joined(separator: ", ")
                throw CLIError("no parser for --source \(source) --endpoint \(endpoint); known: \(known)")
            }
            var parameterValues: [String: String] = [:]
            for parameter in parameters {
                guard let equals = parameter.firstIndex(of: "="), equals != parameter.startIndex else {
                    throw CLIError("--param \(parameter): expected NAME=VALUE")
                }
                parameterValues[String(parameter[..<equals])] = String(parameter[parameter.index(after: equals)...])
            }
            let asOf = try resolveAsOf(asOf)
            let environment = try IngestEnvironment(connection: connection)
            let quarantine = environment.quarantine
            let log: EventLog
            do { log = try EventLog(directory: environment.logPath) } catch { throw CLIError("event log \(environment.logPath): \(error)") }
            defer { log.close() }

            var reports: [FileReport] = []
            var status: Int32 = 0
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    printError("\(file): cannot read the file")
                    reports.append(FileReport(file: file, error: "cannot read the file"))
                    status = 2
                    continue
                }
                let body = [UInt8](data)
                let fingerprint = "\(entry.source) file \((file as NSString).lastPathComponent)"
                let context = ParseContext(source: entry.source, endpoint: entry.endpoint, subject: subject, asOf: asOf,
                                           parameters: parameterValues, requestFingerprint: fingerprint, observedAt: currentTimestamp())
                var report = FileReport(file: file, error: nil)
                do {
                    let result = try catalog.parse(body, context: context)
                    let outcomes = try await log.append(events: result.events)
                    report.appended = outcomes.filter { if case .appended = $0 { return true } else { return false } }.count
                    report.duplicates = outcomes.count - report.appended
                    report.events = outcomes.count
                    report.issues = result.issues.map(\.description)
                    for issue in result.issues { printError("\(file): \(issue)") }
                } catch let error as ParseError {
                    printError("\(file): \(error)")
                    let hash: String
                    do { hash = try quarantine.keep(body) } catch { throw CLIError("\(error)") }
                    let rejected = IngestRejected(source: entry.source, request: fingerprint, error: error.description, bodySha256: hash, bodySize: body.count)
                    let event = try Event.make(rejected, source: "tickfold", subject: entry.source, occurredAt: asOf.startOfDay,
                                               observedAt: currentTimestamp(), provenance: Provenance(request: fingerprint))
                    do { _ = try await log.append(events: [event]) } catch { throw CLIError("event log \(environment.logPath): \(error)") }
                    report.rejected = true
                    report.error = error.description
                    report.quarantined = quarantine.path(forSHA256: hash)
                    status = max(status, 1)
                } catch {
                    throw CLIError("event log \(environment.logPath): \(error)")
                }
                reports.append(report)
            }
            if json {
                try printJSON(reports)
            } else {
                var rows = [["FILE", "EVENTS", "APPENDED", "DUPLICATE", "ISSUES", "REJECTED"]]
                for report in reports {
                    rows.append([report.file, "\(report.events)", "\(report.appended)", "\(report.duplicates)", "\(report.issues.count)",
                                 report.rejected ? "yes" : (report.error == nil ? "no" : "error")])
                }
                printAlignedTable(rows, textColumns: 1)
            }
            if status != 0 { throw ExitCode(status) }
        }

        private struct FileReport: Encodable {
            let file: String
            var events = 0
            var appended = 0
            var duplicates = 0
            var issues: [String] = []
            var rejected = false
            var quarantined: String?
            var error: String?

            init(file: String, error: String?) {
                self.file = file
                self.error = error
            }
        }
    }
}
