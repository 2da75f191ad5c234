import Events
import Foundation
import Logging

/// Runs ingest plans: fetch → parse → append, through the same `SourceClient`s and parsers
/// as production, against the base URLs of `SourceEndpoints` (a fixture server in tests and
/// the demo).
///
/// Everything time-dependent in a run (query dates, day-of-week plans, snapshot dates,
/// cursor days) comes from the `asOf` date; `observedAt` comes from the injected clock.
/// Event ids depend only on response content and `asOf`, so a plan run twice over the same
/// responses appends nothing new.
public final class IngestRunner {
    public let configuration: IngestConfiguration
    public let endpoints: SourceEndpoints
    public let catalog: EndpointCatalog
    private let secrets: SecretSource
    private let transport: any HTTPTransport
    private let clock: any WallClock
    private let ledger: QuotaLedger?
    private let log: EventLog
    private let quarantine: Quarantine
    private let logger: Logger
    private var clients: [String: SourceClient] = [:]
    private var redactor = Redactor()
    private var cursors: CursorLedger?

    /// A runner appending to `log`. `clock` gives `observedAt` and paces requests (a
    /// `ManualClock` in tests); `ledger` keeps daily quotas and stops across runs;
    /// `quarantine` keeps the bodies of rejected responses.
    public init(configuration: IngestConfiguration, endpoints: SourceEndpoints, secrets: SecretSource, transport: any HTTPTransport,
                clock: any WallClock, ledger: QuotaLedger?, log: EventLog, quarantine: Quarantine,
                catalog: EndpointCatalog = .standard, logger: Logger) {
        self.configuration = configuration
        self.endpoints = endpoints
        self.secrets = secrets
        self.transport = transport
        self.clock = clock
        self.ledger = ledger
        self.log = log
        self.quarantine = quarantine
        self.catalog = catalog
        self.logger = logger
    }

    /// Runs the plan `name` (or `all`) for `asOf`. Per-request problems are counted in the
    /// report; only configuration, log and quarantine failures throw.
    public func run(plan name: String, asOf: LocalDate) async throws -> IngestRunReport {
        var report = IngestRunReport(asOf: asOf.description)
        for (planName, plan) in try configuration.plans(named: name) {
            for step in plan.steps {
                try await run(step, plan: planName, asOf: asOf, report: &report)
            }
        }
        return report
    }

    private enum ItemOutcome {
        case done
        case stopped
        case failed
    }

    private func run(_ step: PlanStep, plan: String, asOf: LocalDate, report: inout IngestRunReport) async throws {
        let label = "\(plan).\(step.name)"
        guard step.runs(on: asOf) else {
            report.notes.append("\(label): not scheduled on \(Weekday(asOf)) (days: \(step.days?.joined(separator: ",") ?? ""))")
            return
        }
        let items = configuration.items(of: step)
        let client: SourceClient
        do {
            client = try makeClient(for: step)
        } catch {
            let message = redactor.redact("\(error)")
            report.notes.append("\(label): \(message)")
            report.update(plan: plan, source: step.source) { $0.failed += items.count }
            logger.error("ingest step failed", metadata: ["step": "\(label)", "error": "\(message)"])
            return
        }
        guard step.progressive != nil else {
            for item in items {
                _ = try await collect(item, step: step, plan: plan, client: client, asOf: asOf, report: &report)
            }
            return
        }
        try await runProgressive(step, plan: plan, items: items, client: client, asOf: asOf, report: &report)
    }

    /// Collects at most `batch` items from the recorded cursor on. A rate-limited or
    /// transiently failing item stops the batch and stays next in line; a permanently
    /// failing one is quarantined and passed. The cursor is appended after every item, so a
    /// crash loses at most one item's progress (and re-fetching it only finds duplicates).
    private func runProgressive(_ step: PlanStep, plan: String, items: [PlanItem], client: SourceClient, asOf: LocalDate,
                                report: inout IngestRunReport) async throws {
        let label = "\(plan).\(step.name)"
        let subject = CursorLedger.subject(source: step.source, plan: plan, step: step.name)
        let keys = items.map(\.key)
        guard !keys.isEmpty else { return }
        guard let start = try cursorLedger().start(subject: subject, keys: keys, day: asOf) else {
            report.notes.append("\(label): all \(keys.count) items collected; the next cycle starts after \(asOf)")
            return
        }
        let batch = step.progressive?.batch ?? keys.count
        var position = start
        var stopReason: String?
        while position < keys.count, position - start < batch {
            let outcome = try await collect(items[position], step: step, plan: plan, client: client, asOf: asOf, report: &report)
            switch outcome {
            case .done:
                position += 1
                try await appendCursor(IngestCursor(source: step.source, plan: "\(plan).\(step.name)", position: position,
                                                    total: keys.count, lastKey: keys[position - 1]),
                                       subject: subject, asOf: asOf, plan: plan, report: &report)
            case .stopped:
                stopReason = "rate limited at \(keys[position])"
            case .failed:
                stopReason = "failed at \(keys[position])"
            }
            if stopReason != nil { break }
        }
        let state = stopReason.map { "\($0); resumes there next run" } ?? (position >= keys.count ? "cycle complete" : "batch of \(batch) done")
        report.notes.append("\(label): cursor \(position)/\(keys.count) (from \(start)), \(state)")
    }

    private func appendCursor(_ cursor: IngestCursor, subject: String, asOf: LocalDate, plan: String, report: inout IngestRunReport) async throws {
        let event = try Event.make(cursor, source: "tickfold", subject: subject, occurredAt: asOf.startOfDay, observedAt: now())
        let outcomes = try await log.append(events: [event])
        var ledger = try cursorLedger()
        ledger.record(cursor, subject: subject, day: asOf, seq: outcomes[0].seq)
        cursors = ledger
        report.update(plan: plan, source: "tickfold") { row in
            if case .appended = outcomes[0] { row.appended += 1 } else { row.duplicates += 1 }
        }
    }

    /// Every request of one item; the item is done when each got a response (parsed or
    /// quarantined).
    private func collect(_ item: PlanItem, step: PlanStep, plan: String, client: SourceClient, asOf: LocalDate,
                         report: inout IngestRunReport) async throws -> ItemOutcome {
        let requests: [PlannedRequest]
        do {
            requests = try step.requests(for: item, on: asOf)
        } catch {
            report.notes.append("\(plan).\(step.name): \(error)")
            report.update(plan: plan, source: step.source) { $0.failed += 1 }
            return .failed
        }
        for planned in requests {
            let fingerprint = Self.fingerprint(source: step.source, planned.request)
            let outcome: FetchOutcome
            do {
                outcome = try await client.fetch(planned.request)
            } catch let error as FetchError where error.code == .httpStatus && Self.isPermanent(error.status) {
                report.update(plan: plan, source: step.source) { $0.requests += 1 }
                try await reject(body: error.responseBody, status: error.status, error: error.description, source: step.source,
                                 fingerprint: fingerprint, plan: plan, asOf: asOf, report: &report)
                continue
            } catch let error as FetchError {
                report.update(plan: plan, source: step.source) { row in
                    row.requests += error.attempts
                    row.failed += 1
                }
                report.notes.append("\(plan).\(step.name): \(redactor.redact(error.description))")
                return .failed
            }
            switch outcome {
            case .stopped(let stop):
                report.update(plan: plan, source: step.source) { $0.stopped += 1 }
                report.notes.append("\(plan).\(step.name): \(step.source) stopped until \(ISO8601DateFormatter().string(from: stop.until)) (\(redactor.redact(stop.reason)))")
                return .stopped
            case .fetched(let response, _):
                report.update(plan: plan, source: step.source) { $0.requests += 1 }
                let context = ParseContext(source: step.source, endpoint: step.endpoint, subject: planned.subject, asOf: asOf,
                                           parameters: planned.parameters, requestFingerprint: fingerprint, observedAt: now())
                let result: ParseResult
                do {
                    result = try catalog.parse(response.body, context: context)
                } catch {
                    try await reject(body: response.body, status: response.status, error: error.description, source: step.source,
                                     fingerprint: fingerprint, plan: plan, asOf: asOf, report: &report)
                    continue
                }
                for issue in result.issues {
                    logger.notice("item refused", metadata: ["request": "\(fingerprint)", "issue": "\(redactor.redact(issue.description))"])
                }
                let outcomes = try await log.append(events: result.events)
                let appended = outcomes.filter { if case .appended = $0 { return true } else { return false } }.count
                report.update(plan: plan, source: step.source) { row in
                    row.parsed += 1
                    row.appended += appended
                    row.duplicates += outcomes.count - appended
                    row.issues += result.issues.count
                }
            }
        }
        return .done
    }

    /// Quarantines a body and appends its `ingest.rejected` event (subject = source).
    private func reject(body: [UInt8], status: Int?, error: String, source: String, fingerprint: String, plan: String,
                        asOf: LocalDate, report: inout IngestRunReport) async throws {
        let kept = redactedBody(body)
        let hash = try quarantine.keep(kept)
        let message = redactor.redact(error)
        let payload = IngestRejected(source: source, request: fingerprint, error: message, bodySha256: hash, bodySize: kept.count, httpStatus: status)
        let event = try Event.make(payload, source: "tickfold", subject: source, occurredAt: asOf.startOfDay, observedAt: now(),
                                   provenance: Provenance(request: fingerprint))
        let outcomes = try await log.append(events: [event])
        report.update(plan: plan, source: source) { row in
            row.rejected += 1
            if case .appended = outcomes[0] { row.appended += 1 } else { row.duplicates += 1 }
        }
        logger.warning("response quarantined", metadata: [
            "request": "\(fingerprint)", "error": "\(message)", "body": "\(quarantine.path(forSHA256: hash))",
        ])
    }

    private func redactedBody(_ body: [UInt8]) -> [UInt8] {
        guard let text = String(validating: body, as: UTF8.self) else { return body }
        let redacted = redactor.redact(text)
        return redacted == text ? body : Array(redacted.utf8)
    }

    /// The recorded cursors, read from the log once per runner.
    private func cursorLedger() throws -> CursorLedger {
        if let cursors { return cursors }
        let ledger = try CursorLedger.read(from: log)
        cursors = ledger
        return ledger
    }

    private func makeClient(for step: PlanStep) throws -> SourceClient {
        let settings = configuration.sources[step.source]
        let variable = step.keysVariable ?? settings?.keysVariable
        let limits = step.limits ?? settings?.limits
        let cacheKey = "\(step.source)|\(variable ?? "")|\(limits.map { "\($0)" } ?? "")"
        if let client = clients[cacheKey] { return client }
        guard let descriptor = SourceDescriptor.all.first(where: { $0.id == step.source }) else {
            throw IngestConfigurationError("unknown source \(step.source); known: \(SourceDescriptor.all.map(\.id).joined(separator: ", "))")
        }
        guard let baseURL = endpoints.baseURL(step.source) else {
            throw IngestConfigurationError("no base URL for source \(step.source)")
        }
        var keys: [APIKey] = []
        if descriptor.credential != .none, let name = variable ?? descriptor.keyVariable {
            keys = try secrets.keys(name)
            redactor = redactor.adding(keys)
            if keys.isEmpty {
                throw FetchError(code: .missingCredentials, source: step.source, request: step.name,
                                 detail: "no key: set \(name) or \(name)_FILE")
            }
        }
        let client = try SourceClient(descriptor: descriptor, baseURL: baseURL, keys: keys, policy: limits, ledger: ledger,
                                      transport: transport, retry: settings?.retry ?? RetryPolicy(), clock: clock, logger: logger)
        clients[cacheKey] = client
        return client
    }

    private func now() -> Timestamp {
        Timestamp(millisecondsSinceEpoch: Int64((clock.now().timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// 4xx other than 429 (handled as a rate limit by the client) will not get better by retrying.
    static func isPermanent(_ status: Int?) -> Bool {
        guard let status else { return false }
        return (400..<500).contains(status) && status != 429 && status != 408
    }

    /// `source METHOD /path?query` with the query canonical and credential-free: the same for
    /// production and fixture runs.
    public static func fingerprint(source: String, _ request: SourceRequest) -> String {
        let path = request.path.split(separator: "/").map { "/" + QueryString.percentEncode($0) }.joined()
        let key = FixtureKey(method: request.method, path: path, query: QueryString.encode(request.query))
        return "\(source) \(key?.description ?? "\(request.method) \(path)")"
    }
}
