import ArgumentParser
import Events
import Foundation
import Postgres
import Projections
import Redis
import Replay

/// `tickfold bench rebuild [--events N] [--json]`: a full rebuild of a generated log into
/// PostgreSQL and Redis through `tickfold replay`'s code path, then a digest of the result.
struct BenchRebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Full rebuild of N mixed events into PostgreSQL and Redis (SPEC §9: 5M in ≤ 60 s, ≤ 300 MB RSS).",
        discussion: """
        Appends N deterministic mixed events (bars, trades, tickers, macro, news, posts) to a \
        temporary log (no fsync), replays them --from 1 into a fresh schema and key namespace \
        (shadow, then swap, as `tickfold replay` does), digests the result with `tickfold audit \
        digest`, and drops everything it created. The log is written, closed, and reopened \
        read-only for the replay, as `tickfold replay` opens it. rebuild_seconds covers the \
        replay only; peak_rss_mb is the process's high-water mark (VmHWM) during rebuild and \
        digest (reset after generation through /proc/self/clear_refs; generation included \
        where that fails).
        """)

    @OptionGroup(title: "Connections") var connections: ConnectionOptions

    @Option(name: .long, help: "Events to generate and rebuild.")
    var events = 5_000_000

    @Option(name: .long, help: "Events per folded batch.")
    var batchSize = 50_000

    @Option(name: .long, help: ArgumentHelp(
        "Keep the generated log in this directory and reuse it in later runs with the same --events.",
        discussion: "Generating 5M events takes longer than rebuilding them; the log is only read by the rebuild."))
    var logCache: String?

    @Flag(name: .long, help: "Print one canonical JSON object.")
    var json = false

    func run() async throws {
        guard events > 0, batchSize > 0 else { throw ValidationError("--events and --batch-size must be positive") }
        let conninfo = try connections.postgres().value
        let redisURL = try connections.redisURL().value
        let count = events
        let batch = batchSize
        let cache = logCache
        let report = try await runBenchmark { try measure(count: count, batch: batch, logCache: cache, conninfo: conninfo, redisURL: redisURL) }
        print(json ? try report.json() : report.text(), terminator: "")
    }
}

private func measure(count: Int, batch: Int, logCache: String?, conninfo: String, redisURL: String) throws -> BenchReport {
    let id = ReplayOptions.newID()
    let directory = logCache.map { $0 + "/events-\(count)" } ?? FileManager.default.temporaryDirectory.path + "/tickfold-bench-rebuild-\(id)"
    let schema = "bench_rebuild_\(id)"
    let namespace = "bench:\(id):"
    let admin = try PostgresConnection(conninfo)
    let redis = try RedisConnection(url: redisURL, clientName: "tickfold-bench")
    defer {
        _ = try? admin.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        try? removeKeys(redis, pattern: namespace + "*")
        if logCache == nil { try? FileManager.default.removeItem(atPath: directory) }
    }
    let generated = ContinuousClock.now
    let reused = logCache != nil && (try? EventLog(directory: directory, options: .readOnly).lastSeq()) == UInt64(count)
    if !reused {
        try? FileManager.default.removeItem(atPath: directory)
        try generate(count: count, directory: directory)
    }
    let generateSeconds = seconds(since: generated)
    let generatePeak = peakRSSMegabytes()
    // Like `tickfold replay`, which reads the log another process writes.
    let log = try EventLog(directory: directory, options: .readOnly)
    defer { log.close() }
    let head = try log.lastSeq()
    // Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0), so the figure is the rebuild's own.
    let resetPeak = (try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)) != nil

    var options = ReplayOptions(conninfo: conninfo, redisURL: redisURL, projections: ProjectionRegistry.standard.projections)
    options.schema = schema
    options.namespace = namespace
    options.batchSize = batch
    options.id = id
    let replayer = try Replayer(log: log, options: options)
    let plan = try replayer.plan(from: 1, through: nil)
    let result = try replayer.run(plan)

    let target = AuditTarget(postgres: .init(schema: schema), redis: .init(prefix: try RedisNamespacePointer(namespace: namespace).resolve(redis)))
    let digest = try Audit.digest(AuditSource(target: target, postgres: admin, redis: redis))

    var report = BenchReport(name: "rebuild")
    report.describe("events_generated", String(count))
    report.describe("distinct_events_logged", String(head))
    report.describe("batch_size", String(batch))
    report.describe("rows", String(digest.tables.reduce(0) { $0 + $1.rows }))
    report.describe("keys", String(digest.families.reduce(0) { $0 + $1.keys }))
    report.describe("generate_seconds", reused ? "0 (log reused from \(directory))" : String(format: "%.1f", generateSeconds))
    report.describe("generate_peak_rss_mb", String(format: "%.0f", generatePeak))
    report.describe("load_average", loadAverage())
    report.record("rebuild_events_per_s", Double(result.folded) / result.seconds, unit: "events/s", note: "fold + PostgreSQL + Redis, shadow then swap")
    report.record("rebuild_seconds", result.seconds, unit: "s")
    report.record("peak_rss_mb", peakRSSMegabytes(), unit: "MB", note: resetPeak ? "VmHWM of rebuild and digest" : "VmHWM, generation included")
    report.record("digest_seconds", digest.digestSeconds, unit: "s", note: "every table and key family")
    return report
}

/// Appends `count` deterministic mixed events to a new log in `directory` (no fsync), a chunk
/// at a time, then closes it and returns the generator's freed memory to the system, so that
/// neither the writer's pages nor the generator's heap count in the rebuild's resident set.
private func generate(count: Int, directory: String) throws {
    let log = try EventLog(directory: directory, options: EventLogOptions(access: .writer, durability: .noSync))
    defer {
        log.close()
        FreedMemory.release()
    }
    var seed: UInt64 = 0x7_1c4f
    var appended = 0
    while appended < count {
        let chunk = min(20_000, count - appended)
        _ = try log.appendBlocking(events: try EventCodecBenchmark.sampleEvents(count: chunk, seed: seed))
        seed &+= 1
        appended += chunk
    }
}

/// The process's peak resident set (VmHWM) in MB, NaN when /proc cannot tell.
private func peakRSSMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kilobytes = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({ Double($0) })
    else { return .nan }
    return kilobytes / 1024
}

private func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "unknown"
}

private func removeKeys(_ redis: RedisConnection, pattern: String) throws {
    var cursor = "0"
    repeat {
        let reply = try redis.command("SCAN", cursor, "MATCH", pattern, "COUNT", "1000").array ?? []
        cursor = reply.first?.string ?? "0"
        let keys = (reply.last?.array ?? []).compactMap(\.string)
        if !keys.isEmpty { _ = try redis.command(["UNLINK"] + keys.map { $0 as any RedisArgument }) }
    } while cursor != "0"
}

private func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

/// Runs blocking `body` on its own thread, never on the cooperative pool.
private func runBenchmark(_ body: @escaping @Sendable () throws -> BenchReport) async throws -> BenchReport {
    let result: Result<BenchReport, any Error> = await withCheckedContinuation { continuation in
        let thread = Thread {
            do { continuation.resume(returning: .success(try body())) } catch { continuation.resume(returning: .failure(error)) }
        }
        thread.stackSize = 4 << 20
        thread.start()
    }
    do { return try result.get() } catch { throw CLIError("bench rebuild: \(error)") }
}
