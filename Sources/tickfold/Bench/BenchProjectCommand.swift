import ArgumentParser
import Events
import Foundation
import Logging
import Postgres
import Projections
import Redis

/// `tickfold bench project`: projection throughput into PostgreSQL and Redis beside the
/// servers' own limits (`psql \copy`, raw pipelined SET), and append→visible latency.
///
/// Everything happens in a temporary log directory, a uniquely named PostgreSQL schema
/// (migrated with `Migrator`, dropped afterwards) and a unique Redis key namespace (deleted
/// afterwards), so it can run against shared servers.
struct BenchProjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Measure projection throughput into PostgreSQL and Redis, and append→visible latency.",
        discussion: """
        Continuous mode (first, on a quiet server): trades appended at --rate events/s for \
        --latency-seconds while a projector (`project run --follow`, in this process) tails the \
        log (latency_p50_ms, latency_p99_ms). \
        Rebuild: --events daily bars are appended to a temporary log, then read back, decoded, \
        folded on one thread and written on another, in batches, into a fresh schema: \
        pg_rows_per_s. The same rows then go through `psql \\copy` into a table of the same \
        shape: pg_vs_copy_ratio. A re-delivery of revised bars measures the merge path. \
        Seed pattern: --seed-events of the same bars through the replaced system's consumer \
        (per message: autocommit INSERT and two Redis SETs), its own Python code reading them \
        from Kafka (TICKFOLD_PYTHON): vs_seed_ratio; and the same round trips from Swift: \
        vs_seed_pattern_ratio. \
        Redis: --redis-keys crypto tickers, each a distinct latest:crypto key, through the \
        seq-guarded sink: first writes (redis_first_writes_per_s), then every key replaced by a \
        newer ticker (redis_updates_per_s), beside raw pipelined SETs replacing the same values.
        """
    )

    @OptionGroup(title: "Connections")
    var connections: ConnectionOptions

    @Option(name: .long, help: "Daily-bar events for the PostgreSQL rebuild.")
    var events: Int = 2_000_000

    @Option(name: .long, help: "Events per applied batch during the rebuild.")
    var batch: Int = 100_000

    @Option(name: .long, help: "Revised bars re-delivered to measure the merge path (0 skips it).")
    var mergeEvents: Int = 500_000

    @Option(name: .long, help: "Daily bars sent through the seed system's per-message consumer pattern (0 skips it).")
    var seedEvents: Int = 20_000

    @Option(name: .long, help: "Distinct Redis keys written (0 skips the Redis part).")
    var redisKeys: Int = 500_000

    @Option(name: .long, help: "RedisSink pipelineDepth: keys sent per round trip.")
    var redisPipelineDepth: Int = 1000

    @Option(name: .long, help: "RedisSink keysPerCall: keys per call of the key script.")
    var redisKeysPerCall: Int = 100

    @Option(name: .long, help: "Offered load of the continuous-mode measurement, events/s.")
    var rate: Int = 10_000

    @Option(name: .long, help: "Duration of the continuous-mode measurement (0 skips it).")
    var latencySeconds: Double = 5

    @Option(name: .long, help: "Least milliseconds between the continuous mode's fsync'ed appends; each carries every event arrived since the last one.")
    var appendTickMs: Int = 1

    @Option(name: .long, help: "PostgresSink stagingMinimumRows: smaller per-table batches merge from parameter arrays (0 = always staging tables).")
    var stagingMinimumRows: Int = 500

    @Flag(name: .long, help: "Print the report as one JSON object.")
    var json = false

    func validate() throws {
        guard events >= 1000 else { throw ValidationError("--events must be at least 1000") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard appendTickMs >= 1 else { throw ValidationError("--append-tick-ms must be at least 1") }
        guard mergeEvents >= 0, mergeEvents <= events else { throw ValidationError("--merge-events must be between 0 and --events") }
        guard seedEvents >= 0, seedEvents <= events else { throw ValidationError("--seed-events must be between 0 and --events") }
        guard redisKeys >= 0 else { throw ValidationError("--redis-keys must not be negative") }
        guard redisPipelineDepth >= 1, redisKeysPerCall >= 1 else { throw ValidationError("--redis-pipeline-depth and --redis-keys-per-call must be positive") }
        guard redisKeysPerCall <= RedisSink.maximumKeysPerCall else { throw ValidationError("--redis-keys-per-call must be at most \(RedisSink.maximumKeysPerCall)") }
        guard rate >= 1 else { throw ValidationError("--rate must be positive") }
        guard latencySeconds >= 0 else { throw ValidationError("--latency-seconds must not be negative") }
    }

    func run() throws {
        let pg = try connections.postgres()
        let redisURL = try connections.redisURL()
        let seedPython = seedEvents > 0 ? try Self.seedPython() : ""
        var report = BenchReport(name: "project")
        report.describe("events", String(events))
        report.describe("staging_minimum_rows", String(stagingMinimumRows))
        report.describe("build", BenchEnvironment.build)
        report.describe("load_average_before", BenchEnvironment.loadAverage())
        let scratch = try BenchScratch(conninfo: pg, redisURL: redisURL, stagingMinimumRows: stagingMinimumRows)
        defer { scratch.cleanUp() }
        report.describe("schema", scratch.schema)
        report.describe("redis_namespace", scratch.namespace)

        // Continuous mode first: after the bulk phases the server is busy checkpointing
        // millions of fresh rows, which would measure the bulk load rather than the follower.
        if latencySeconds > 0 { try continuous(scratch, into: &report) }
        try rebuild(scratch, into: &report)
        if seedEvents > 0 { try seedPattern(scratch, python: seedPython, into: &report) }
        if redisKeys > 0 { try redisThroughput(scratch, into: &report) }
        report.describe("load_average_after", BenchEnvironment.loadAverage())
        print(json ? try report.json() : report.text(), terminator: "")
    }

    private func rebuild(_ scratch: BenchScratch, into report: inout BenchReport) throws {
        let log = try scratch.openLog("rebuild")
        defer { log.close() }
        let tickers = max(1, events / 1000)
        let clock = ContinuousClock()
        let appendTime = try clock.measure {
            var start = 0
            while start < events {
                let count = min(100_000, events - start)
                _ = try log.appendBlocking(events: try BenchEvents.parallel(start..<start + count) { try BenchEvents.dailyBar($0, tickers: tickers, revision: 0) })
                start += count
            }
        }
        report.describe("log_generate_and_append_s", String(format: "%.2f", appendTime.seconds))

        let engine = try scratch.engine()
        let last = UInt64(events)
        // The product's path: a Projector over the log (read and fold one batch ahead of the
        // sinks), as `project run` and `replay` use it.
        let projector = Projector(
            engine: engine, source: LogEventSource(log: log),
            options: Projector.Options(stopAfter: last, batch: BatchSizing(minimum: batch, maximum: batch), progressInterval: .seconds(86_400)),
            logger: BenchEnvironment.quietLogger("tickfold.bench.projector"))
        let cpuBefore = BenchEnvironment.processCPUSeconds()
        var run: ProjectorRun?
        let rebuildTime = try clock.measure { run = try projector.runBlocking() }
        guard let run, run.progress.rowsWritten == events else {
            throw CLIError("rebuild wrote \(run?.progress.rowsWritten ?? 0) rows for \(events) bars")
        }
        let rowsPerSecond = Double(events) / rebuildTime.seconds
        report.record("pg_rows_per_s", rowsPerSecond, unit: "rows/s", note: "rebuild with the Projector: read log, decode, fold, write; batches of \(batch)")
        report.record("pg_rebuild_s", rebuildTime.seconds, unit: "s")
        report.record("rebuild_client_cpu_us_per_row", (BenchEnvironment.processCPUSeconds() - cpuBefore) * 1e6 / Double(events), unit: "µs", note: "this process, all threads: read, decode, fold, COPY text")
        // Where the client's time goes, each stage alone on one thread, over the first batch.
        var decoder = EventDecoder()
        var sample: [Event] = []
        let sampleSize = min(events, max(batch, 100_000))
        let decodeTime = try clock.measure {
            try log.forEach(from: 1, through: UInt64(sampleSize)) { view in
                var event = try decoder.decode(view.canonicalJSON, verification: .trustStored)
                event.seq = view.seq
                sample.append(event)
            }
        }
        let foldTime = try clock.measure { _ = try ProjectionEngine.fold(sample, projections: engine.projections) }
        report.record("decode_events_per_s", Double(sampleSize) / decodeTime.seconds, unit: "events/s", note: "log read + envelope decode alone, one thread, first \(sampleSize) events")
        report.record("fold_events_per_s", Double(sampleSize) / foldTime.seconds, unit: "events/s", note: "ProjectionEngine.fold alone, one thread (typed payload decoding)")
        sample = []

        // The same rows, through psql's \copy, into a table of the same shape.
        let rowsFile = scratch.directory + "/bars.copy"
        let exported = try scratch.exportRows(table: CollectedTables.dailyBars.name, to: rowsFile)
        guard exported == events else { throw CLIError("exported \(exported) rows, expected \(events)") }
        let psqlTime = try scratch.psqlCopy(likeTable: CollectedTables.dailyBars.name, file: rowsFile)
        try? FileManager.default.removeItem(atPath: rowsFile)
        let copyRate = Double(events) / psqlTime.seconds
        report.record("psql_copy_rows_per_s", copyRate, unit: "rows/s", note: "psql \\copy of the same rows into a table of the same shape")
        report.record("pg_vs_copy_ratio", rowsPerSecond / copyRate, unit: "")

        guard mergeEvents > 0 else { return }
        // Revised bars for keys already stored: every row goes through the staging merge.
        let revised = try BenchEvents.parallel(0..<mergeEvents) { index in
            var event = try BenchEvents.dailyBar(index, tickers: tickers, revision: 1)
            event.seq = last + UInt64(index) + 1
            return event
        }
        let changes = try stride(from: 0, to: revised.count, by: batch).map {
            try ProjectionEngine.fold(Array(revised[$0..<min($0 + batch, revised.count)]), projections: engine.projections)
        }
        var merged = 0
        let mergeTime = try clock.measure {
            for (index, batchChanges) in changes.enumerated() {
                merged += try Self.write(batchChanges, through: last + UInt64(min((index + 1) * batch, mergeEvents)), engine: engine)
            }
        }
        guard merged == mergeEvents else {
            throw CLIError("merge wrote \(merged) rows for \(mergeEvents) revised bars")
        }
        report.record("pg_merge_rows_per_s", Double(mergeEvents) / mergeTime.seconds, unit: "rows/s", note: "\(mergeEvents) revised bars replacing stored rows: staging COPY + merge (folded beforehand)")
        let refusedTime = try clock.measure {
            for batchChanges in changes { _ = try Self.write(batchChanges, through: last + UInt64(mergeEvents), engine: engine) }
        }
        report.record("pg_redelivery_rows_per_s", Double(mergeEvents) / refusedTime.seconds, unit: "rows/s", note: "the same revised bars again: every row refused by the seq guard")
    }

    /// The seed system's per-message pattern on the same bars, against the rebuild's rate:
    /// its own Python consumer (`vs_seed_ratio`), and the same round trips from Swift.
    private func seedPattern(_ scratch: BenchScratch, python: String, into report: inout BenchReport) throws {
        let pattern = BenchSeedPattern(scratch: scratch, tickers: max(1, events / 1000))
        let messages = try pattern.messages(count: seedEvents)
        let seed = try pattern.pythonMessagesPerSecond(messages, python: python, kafka: try connections.kafkaServers().value)
        report.record("seed_python_msgs_per_s", seed, unit: "msgs/s", note: "the replaced consumer as it ran: Python, confluent-kafka consumer, per message json decode, autocommit INSERT (psycopg), two SET EX (redis-py); \(seedEvents) bars from Kafka")
        let stand = try pattern.swiftMessagesPerSecond(messages)
        report.record("seed_pattern_msgs_per_s", stand, unit: "msgs/s", note: "the same per-message round trips from Swift, no Kafka: a stand-in faster than the seed; \(seedEvents) bars")
        if let rebuild = report.value("pg_rows_per_s") {
            report.record("vs_seed_ratio", rebuild / seed, unit: "", note: "pg_rows_per_s over the seed consumer's rate, same events (SPEC §9: ≥ 60)")
            report.record("vs_seed_pattern_ratio", rebuild / stand, unit: "", note: "pg_rows_per_s over the Swift stand-in's rate: a lower bound")
        }
    }

    /// The Python that runs the seed's consumer (checked before any measurement starts).
    private static func seedPython() throws -> String {
        guard let python = ProcessInfo.processInfo.environment["TICKFOLD_PYTHON"], !python.isEmpty else {
            throw CLIError("the seed comparison runs the seed's Python consumer: set TICKFOLD_PYTHON to a python with confluent-kafka, psycopg and redis (eval \"$(./dev env)\" does), or pass --seed-events 0")
        }
        return python
    }

    /// Writes folded changes with the engine, checkpointing `seq`; returns rows written.
    private static func write(_ changes: ProjectionChanges, through seq: UInt64, engine: ProjectionEngine) throws -> Int {
        try engine.apply(
            changes: changes, events: 0, positions: [CheckpointPosition(source: "log", partition: 0, position: Int64(seq))]
        ).postgres.rowsWritten
    }

    private func redisThroughput(_ scratch: BenchScratch, into report: inout BenchReport) throws {
        let tickers = try (0..<redisKeys).map { index in
            var event = try BenchEvents.cryptoTicker(market: "KRW-C\(index)", price: index, milliseconds: Int64(index))
            event.seq = UInt64(index + 1)
            return event
        }
        let writes = try ProjectionEngine.fold(tickers, projections: [CollectedProjection()]).keys
        guard writes.count == redisKeys else { throw CLIError("folded \(writes.count) key writes from \(redisKeys) tickers") }
        let sink = try RedisSink(url: scratch.redisURL, namespace: scratch.namespace, pipelineDepth: redisPipelineDepth, keysPerCall: redisKeysPerCall)
        report.describe("redis_pipeline_depth", String(redisPipelineDepth))
        report.describe("redis_keys_per_call", String(redisKeysPerCall))
        let clock = ContinuousClock()
        /// Writes `writes` through the sink `batchSize` at a time; nil `expectChanged` checks nothing.
        func timedWrites(_ writes: [KeyWrite], batchSize: Int? = nil, expectChanged: Int?, _ what: String) throws -> (seconds: Double, cpuPerKey: Double) {
            let batchSize = batchSize ?? batch
            var summary = RedisWriteSummary()
            let cpuBefore = BenchEnvironment.processCPUSeconds()
            let time = try clock.measure {
                for start in stride(from: 0, to: writes.count, by: batchSize) {
                    summary.add(try sink.write(Array(writes[start..<min(start + batchSize, writes.count)])))
                }
            }
            if let expectChanged, summary.changed != expectChanged {
                throw CLIError("Redis sink changed \(summary.changed) of \(writes.count) keys \(what), expected \(expectChanged)")
            }
            return (time.seconds, (BenchEnvironment.processCPUSeconds() - cpuBefore) * 1e6 / Double(writes.count))
        }
        let describe = "\(redisKeys) distinct latest:crypto keys, \(writes[0].value.count)-byte JSON values, seq-guarded, with notifications"
        let first = try timedWrites(writes, expectChanged: redisKeys, "written first")
        report.record("redis_first_writes_per_s", Double(redisKeys) / first.seconds, unit: "keys/s", note: "\(describe); keys new to the server, so its keyspace and memory grow")
        // The steady state of `latest:*` keys: each key replaced by a newer event.
        let newer = try ProjectionEngine.fold(tickers.map { ticker in
            var newer = ticker
            newer.seq = ticker.seq.map { $0 + UInt64(redisKeys) }
            return newer
        }, projections: [CollectedProjection()]).keys
        let update = try timedWrites(newer, expectChanged: redisKeys, "replaced")
        let rate = Double(redisKeys) / update.seconds
        report.record("redis_updates_per_s", rate, unit: "keys/s", note: "\(describe); every key replaced by a higher seq")
        report.record("redis_client_cpu_us_per_key", update.cpuPerKey, unit: "µs", note: "this process during the replacing writes (the server runs on the same cores here)")
        let refused = try timedWrites(newer, expectChanged: 0, "re-delivered")
        report.record("redis_redelivery_per_s", Double(redisKeys) / refused.seconds, unit: "keys/s", note: "the same writes again, all refused")

        // The server's limit for the same values: plain pipelined SETs, no guard, no script,
        // replacing values already there as the guarded updates did.
        let connection = try RedisConnection(url: scratch.redisURL)
        let rawNamespace = scratch.namespace + "raw:"
        func rawSets(_ writes: [KeyWrite]) throws {
            for start in stride(from: 0, to: writes.count, by: redisPipelineDepth) {
                _ = try connection.pipeline(writes[start..<min(start + redisPipelineDepth, writes.count)].map { ["SET", rawNamespace + $0.key, $0.value] })
            }
        }
        try rawSets(writes)
        let rawCPUBefore = BenchEnvironment.processCPUSeconds()
        let rawTime = try clock.measure { try rawSets(newer) }
        let rawRate = Double(redisKeys) / rawTime.seconds
        report.record("redis_raw_set_per_s", rawRate, unit: "keys/s", note: "the replacing values as plain pipelined SETs over existing keys, depth \(redisPipelineDepth): the server's limit for this layout")
        report.record("redis_raw_client_cpu_us_per_key", (BenchEnvironment.processCPUSeconds() - rawCPUBefore) * 1e6 / Double(redisKeys), unit: "µs", note: "this process during the raw SETs")
        report.record("redis_vs_set_ratio", rate / rawRate, unit: "")

        // A trade-like stream: many updates of few keys, as `latest:*` keys see in practice.
        let symbols = 500
        let stream = try ProjectionEngine.fold((0..<redisKeys).map { index in
            var ticker = tickers[index % symbols]
            ticker.seq = UInt64(2 * redisKeys + index + 1)
            return ticker
        }, projections: [CollectedProjection()]).keys
        let streamBatch = 10_000
        let streamed = try timedWrites(stream, batchSize: streamBatch, expectChanged: nil, "streamed")
        report.record("redis_stream_updates_per_s", Double(redisKeys) / streamed.seconds, unit: "updates/s", note: "\(redisKeys) updates of \(symbols) keys in batches of \(streamBatch); only each key's newest per batch reaches Redis")
    }

    /// Appends trades at the offered rate while a real `Projector` follows the log (the
    /// `project run --follow` service, in this process), and times each event from its append
    /// call to the projector's report that its batch committed.
    ///
    /// First a warm-up: the log's first 10k events train its zstd dictionary, about a second
    /// of CPU on a thread of its own that a live log spent long ago, and the projector folds
    /// them, so the timed part sees a log and tables in their steady state.
    private func continuous(_ scratch: BenchScratch, into report: inout BenchReport) throws {
        let log = try scratch.openLog("continuous", durability: .fsync)
        defer { log.close() }
        let warmUp = Self.continuousWarmUp
        _ = try log.appendBlocking(events: (0..<warmUp).map { try BenchEvents.trade($0, symbols: 500) })
        // A training that fails is not retried (`EventLogOptions`): then the timed part runs
        // without a dictionary, and the report says so.
        let trainingDeadline = ContinuousClock.now + .seconds(60)
        while log.activeDictionaryID == nil, ContinuousClock.now < trainingDeadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        let latencies = LatencyRecorder()
        let projector = Projector(
            engine: try scratch.engine(), source: LogEventSource(log: log),
            options: Projector.Options(follow: true, progressInterval: .seconds(86_400)) { progress in
                latencies.visible(through: progress.lastSeq ?? 0, batches: progress.batches)
            },
            logger: BenchEnvironment.quietLogger("tickfold.bench.projector"))
        let run = BlockingTask { try await projector.run() }
        guard latencies.waitUntilVisible(UInt64(warmUp), timeout: .seconds(120)) else {
            projector.requestStop()
            _ = try? run.value()
            throw CLIError("the projector did not fold the \(warmUp) warm-up events within 120 s")
        }
        let warmUpBatches = latencies.batches
        let total = Int(Double(rate) * latencySeconds)
        // Event i arrives at i / rate seconds. Each append carries every event that has
        // arrived and is not yet appended, as an ingest with group commit does, so an fsync
        // slower than the tick delays the next call, never the offered load; calls start at
        // most once a tick.
        let tick = Duration.milliseconds(appendTickMs)
        let clock = ContinuousClock()
        var appended = 0
        var lastSeq: UInt64 = 0
        var appendCalls: [Double] = []
        var callSizes: [Double] = []
        let appendingStarted = clock.now
        func arrival(_ index: Int) -> ContinuousClock.Instant { appendingStarted + .seconds(Double(index) / Double(rate)) }
        var appendingSeconds = 0.0
        do {
            while appended < total {
                let arrived = min(total, Int((clock.now - appendingStarted).seconds * Double(rate)) + 1)
                guard arrived > appended else {
                    Thread.sleep(forTimeInterval: max(0, (arrival(appended) - clock.now).seconds))
                    continue
                }
                let chunk = try (appended..<arrived).map { try BenchEvents.trade(warmUp + $0, symbols: 500) }
                let started = clock.now
                let outcomes = try log.appendBlocking(events: chunk)
                appendCalls.append((clock.now - started).seconds)
                callSizes.append(Double(chunk.count))
                lastSeq = outcomes.last?.seq ?? lastSeq
                latencies.appended(through: lastSeq, count: chunk.count, at: started, firstArrival: arrival(appended), rate: rate)
                appended = arrived
                let nextCall = started + tick
                if nextCall > clock.now { Thread.sleep(forTimeInterval: (nextCall - clock.now).seconds) }
            }
            appendingSeconds = (clock.now - appendingStarted).seconds
            guard latencies.waitUntilVisible(lastSeq, timeout: .seconds(120)) else {
                throw CLIError("the projector did not make seq \(lastSeq) visible within 120 s")
            }
        } catch {
            projector.requestStop()
            _ = try? run.value()
            throw error
        }
        projector.requestStop()
        let progress = try run.value().progress
        // The rebuild folds another log into the same schema, from its beginning.
        try scratch.admin.execute("DELETE FROM \(scratch.schema).projection_checkpoints")
        let samples = latencies.samples
        report.record("latency_p50_ms", Self.percentile(samples, 0.50) * 1000, unit: "ms", note: "append call → the projector's batch committed in PostgreSQL and written to Redis")
        report.record("latency_p99_ms", Self.percentile(samples, 0.99) * 1000, unit: "ms", note: "\(rate) trades/s offered for \(latencySeconds) s, appended (fsync) as they arrive, at most one call per \(appendTickMs) ms")
        report.record("latency_max_ms", Self.percentile(samples, 1) * 1000, unit: "ms")
        let fromArrival = latencies.samplesFromArrival
        report.record("latency_from_arrival_p99_ms", Self.percentile(fromArrival, 0.99) * 1000, unit: "ms",
                      note: "the event's arrival (i / rate) → visible: adds the wait for the append call (p50 \(String(format: "%.1f", Self.percentile(fromArrival, 0.5) * 1000)) ms)")
        report.record("continuous_batches", Double(progress.batches - warmUpBatches), unit: "", note: "projector batches after the warm-up (adaptive size, tailing the log)")
        report.record("continuous_appended_events_per_s", Double(total) / appendingSeconds, unit: "events/s",
                      note: "achieved by the one appending thread (\(rate) offered); each call carries what has arrived, so a slow disk shows as latency")
        report.record("continuous_append_call_p99_ms", Self.percentile(appendCalls, 0.99) * 1000, unit: "ms",
                      note: "one fsync'ed append (p50 \(String(format: "%.2f", Self.percentile(appendCalls, 0.5) * 1000)) ms), carrying \(Int(Self.percentile(callSizes, 0.5))) events at the median, \(Int(Self.percentile(callSizes, 1))) at most")
        report.describe("continuous_mode", "Projector(follow: true) over LogEventSource, in this process, after \(warmUp) warm-up events"
                        + (log.activeDictionaryID == nil ? " (no zstd dictionary: its training failed)" : ""))
    }

    /// Events appended and folded before the continuous mode's timed part: the log's
    /// dictionary training threshold (`EventLogOptions`).
    static let continuousWarmUp = EventLogOptions().dictionaryTrainingThreshold ?? 10_000

    /// The nearest-rank percentile of `values`, in their unit (`fraction` 1 is the maximum).
    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let rank = Int((Double(sorted.count) * fraction).rounded(.up))
        return sorted[min(sorted.count, max(rank, 1)) - 1]
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Facts about the run that make figures comparable.
enum BenchEnvironment {
    static var build: String {
        #if DEBUG
        "debug"
        #else
        "release"
        #endif
    }

    /// User + system CPU time of this process so far, all threads.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// A logger that lets only warnings and errors through, so progress lines of the measured
    /// services do not interleave with the figures.
    static func quietLogger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        return logger
    }

    /// The three load averages from /proc/loadavg (other builds share the cores).
    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "unknown" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }
}

/// Deterministic benchmark events.
enum BenchEvents {
    /// `make(index)` for every index of `range`, in order, computed on every core.
    static func parallel(_ range: Range<Int>, _ make: @Sendable (Int) throws -> Event) throws -> [Event] {
        let slices = max(1, min(ProcessInfo.processInfo.activeProcessorCount, range.count / 1000))
        let results = BenchSlices(count: slices)
        DispatchQueue.concurrentPerform(iterations: slices) { slice in
            let lower = range.lowerBound + range.count * slice / slices
            let upper = range.lowerBound + range.count * (slice + 1) / slices
            results.set(slice, Result { try (lower..<upper).map(make) })
        }
        return try results.joined()
    }

    /// Bar `index`: ticker `index % tickers`, a day per `index / tickers`; `revision` changes
    /// the prices (a re-fetch with revised content is a new event for the same key).
    static func dailyBar(_ index: Int, tickers: Int, revision: Int) throws -> Event {
        let ticker = "TK\(index % tickers)"
        let day = LocalDate(daysSinceEpoch: 10_000 + Int64(index / tickers))
        let cents = 10_000 + (index * 7919 + revision * 13) % 90_000
        let close = DecimalString("\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100)")!
        return try Event.make(
            DailyBar(date: day, open: "101.25", high: "203.50", low: "99.75", close: close, adjClose: close, volume: 1_000_000 + index % 977),
            source: "yahoo", subject: ticker, occurredAt: Timestamp(millisecondsSinceEpoch: (10_000 + Int64(index / tickers)) * 86_400_000 + 72_000_000))
    }

    static func cryptoTicker(market: String, price: Int, milliseconds: Int64) throws -> Event {
        try Event.make(
            CryptoTicker(venue: .bithumb, market: market, base: String(market.dropFirst(4)), quote: "KRW", lastPrice: DecimalString("\(1000 + price)")!,
                         volume24h: "12345.678", changePrice24h: "-1500", changeRate24h: "-0.0121", timestampMs: 1_741_982_400_000 + milliseconds),
            source: "bithumb", subject: String(market.dropFirst(4)), occurredAt: Timestamp(millisecondsSinceEpoch: 1_741_982_400_000 + milliseconds))
    }

    /// Trade `index` of `symbols` symbols, a millisecond apart.
    static func trade(_ index: Int, symbols: Int) throws -> Event {
        let milliseconds = 1_741_982_400_000 + Int64(index)
        return try Event.make(
            Trade(price: DecimalString("\(100 + index % 50).\(index % 100 < 10 ? "0" : "")\(index % 100)")!, size: "10", timestampMs: milliseconds, conditions: ["1"]),
            source: "finnhub", subject: "SYM\(index % symbols)", occurredAt: Timestamp(millisecondsSinceEpoch: milliseconds))
    }
}

/// Per-slice results of `BenchEvents.parallel`.
///
/// `@unchecked Sendable`: `slices` is only touched under `lock`.
private final class BenchSlices: @unchecked Sendable {
    private let lock = NSLock()
    private var slices: [Result<[Event], any Error>?]

    init(count: Int) { slices = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<[Event], any Error>) { lock.withLock { slices[index] = result } }

    func joined() throws -> [Event] {
        try lock.withLock { try slices.flatMap { try $0!.get() } }
    }
}

/// The bench's own schema, key namespace and directory, removed by `cleanUp()`.
final class BenchScratch {
    let conninfo: String
    let redisURL: String
    let schema: String
    let namespace: String
    let directory: String
    let admin: PostgresConnection
    private let settingOrigin: String

    let stagingMinimumRows: Int

    init(conninfo: Setting, redisURL: Setting, stagingMinimumRows: Int) throws {
        self.stagingMinimumRows = stagingMinimumRows
        let unique = "\(ProcessInfo.processInfo.processIdentifier)_\(UInt64(Date().timeIntervalSince1970 * 1000))"
        self.conninfo = conninfo.value
        self.redisURL = redisURL.value
        settingOrigin = "\(conninfo.origin)"
        schema = "bench_project_\(unique)"
        namespace = "bench:project:\(unique):"
        directory = NSTemporaryDirectory() + "tickfold-bench-project-\(unique)"
        do {
            admin = try PostgresConnection(conninfo.value)
            _ = try Migrator().migrate(admin, schema: schema)
        } catch {
            throw CLIError("PostgreSQL (connection string from \(conninfo.origin)): \(error)")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func openLog(_ name: String, durability: EventLogOptions.Durability = .noSync) throws -> EventLog {
        try EventLog(directory: directory + "/" + name, options: EventLogOptions(durability: durability))
    }

    func engine() throws -> ProjectionEngine {
        let postgres = try PostgresSink(conninfo: conninfo, schema: schema, tables: CollectedTables.all, stagingMinimumRows: stagingMinimumRows)
        let redis = try RedisSink(url: redisURL, namespace: namespace)
        return ProjectionEngine(projections: [CollectedProjection()], postgres: postgres, redis: redis)
    }

    /// Writes `table`'s rows as COPY text to `file`; returns how many.
    func exportRows(table: String, to file: String) throws -> Int {
        guard FileManager.default.createFile(atPath: file, contents: nil), let handle = FileHandle(forWritingAtPath: file) else {
            throw CLIError("cannot create \(file)")
        }
        defer { try? handle.close() }
        var pending: [UInt8] = []
        pending.reserveCapacity(1 << 20)
        let rows = try admin.copyOut("COPY \(schema).\(table) TO STDOUT") { bytes in
            pending.append(contentsOf: bytes)
            if pending.count >= 1 << 20 {
                try handle.write(contentsOf: pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
        try handle.write(contentsOf: pending)
        return rows
    }

    /// Creates `copy_<table>` like `table` (keys and all) and times `psql \copy` of `file` into it.
    func psqlCopy(likeTable table: String, file: String) throws -> Duration {
        let target = "\(schema).copy_\(table)"
        try admin.execute("CREATE TABLE \(target) (LIKE \(schema).\(table) INCLUDING ALL)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.psqlPath())
        process.arguments = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", "\\copy \(target) FROM '\(file)'"]
        let errors = Pipe()
        process.standardError = errors
        let clock = ContinuousClock()
        let started = clock.now
        try process.run()
        process.waitUntilExit()
        let elapsed = clock.now - started
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw CLIError("psql \\copy failed (connection string from \(settingOrigin)): \(message)")
        }
        return elapsed
    }

    /// `psql` on PATH, else the newest PostgreSQL's (as ./dev finds it).
    static func psqlPath() throws -> String {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/psql"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        if let newest = versions.compactMap(Int.init).max() {
            let candidate = "/usr/lib/postgresql/\(newest)/bin/psql"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw CLIError("psql not found on PATH nor under /usr/lib/postgresql/*/bin")
    }

    func cleanUp() {
        _ = try? admin.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        if let redis = try? RedisConnection(url: redisURL) {
            var cursor = "0"
            repeat {
                guard let reply = try? redis.command("SCAN", cursor, "MATCH", namespace + "*", "COUNT", "10000").array else { break }
                cursor = reply.first?.string ?? "0"
                let keys = (reply.last?.array ?? []).compactMap(\.string)
                if !keys.isEmpty { _ = try? redis.command(["UNLINK"] + keys) }
            } while cursor != "0"
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Append instants waiting for the projector to make their events visible, and the latencies
/// measured so far.
///
/// `@unchecked Sendable`: all state is touched under `condition`.
final class LatencyRecorder: @unchecked Sendable {
    private let condition = NSCondition()
    private struct Call {
        let seq: UInt64
        let count: Int
        let at: ContinuousClock.Instant
        let firstArrival: ContinuousClock.Instant
        let rate: Int
    }

    private var pending: [Call] = []
    private var latest: UInt64 = 0
    private var latencies: [Double] = []
    private var fromArrival: [Double] = []
    private var committedBatches = 0

    /// Events up to `seq` (`count` of them) were appended by a call that started `at`; the
    /// first of them arrived at `firstArrival`, the others one every 1 / `rate` s after it.
    /// The projector may have committed them before the call returned: they count as visible
    /// now, not at its next commit.
    func appended(through seq: UInt64, count: Int, at instant: ContinuousClock.Instant, firstArrival: ContinuousClock.Instant, rate: Int) {
        let now = ContinuousClock.now
        condition.withLock {
            pending.append(Call(seq: seq, count: count, at: instant, firstArrival: firstArrival, rate: rate))
            takeVisible(at: now)
        }
    }

    /// The projector committed everything up to `seq`, in `batches` batches so far.
    func visible(through seq: UInt64, batches: Int) {
        let now = ContinuousClock.now
        condition.withLock {
            latest = max(latest, seq)
            committedBatches = max(committedBatches, batches)
            takeVisible(at: now)
            condition.broadcast()
        }
    }

    /// Samples the pending calls the projector has committed (called holding the lock).
    private func takeVisible(at now: ContinuousClock.Instant) {
        while let call = pending.first, call.seq <= latest {
            latencies.append(contentsOf: repeatElement((now - call.at).seconds, count: call.count))
            let waited = (now - call.firstArrival).seconds
            fromArrival.append(contentsOf: (0..<call.count).map { waited - Double($0) / Double(call.rate) })
            pending.removeFirst()
        }
    }

    /// Batches the projector had committed at its latest report.
    var batches: Int { condition.withLock { committedBatches } }

    /// Waits until `seq` is visible; false after `timeout`.
    func waitUntilVisible(_ seq: UInt64, timeout: Duration) -> Bool {
        let deadline = Date().addingTimeInterval(timeout.seconds)
        condition.lock()
        defer { condition.unlock() }
        while latest < seq {
            guard condition.wait(until: deadline) else { return latest >= seq }
        }
        return true
    }

    /// One latency (seconds) per event made visible, from the start of its append call.
    var samples: [Double] { condition.withLock { latencies } }

    /// One latency (seconds) per event made visible, from its arrival.
    var samplesFromArrival: [Double] { condition.withLock { fromArrival } }
}
