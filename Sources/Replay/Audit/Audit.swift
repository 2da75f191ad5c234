import Dispatch
import Foundation
import Postgres
import Projections
import Redis

/// The opened connections of one audit target.
public struct AuditSource: Sendable {
    public let target: AuditTarget
    public let postgres: PostgresConnection?
    public let redis: RedisConnection?

    public init(target: AuditTarget, postgres: PostgresConnection?, redis: RedisConnection?) {
        self.target = target
        self.postgres = postgres
        self.redis = redis
    }

    /// Connects to what `target` names, using `defaultPostgres` (libpq conninfo) and
    /// `defaultRedis` (redis:// URL) for parts that name no server of their own.
    public static func open(_ target: AuditTarget, defaultPostgres: String, defaultRedis: String) throws(AuditError) -> AuditSource {
        var postgres: PostgresConnection?
        var redis: RedisConnection?
        if let part = target.postgres {
            do {
                postgres = try PostgresConnection(part.conninfo ?? defaultPostgres)
            } catch {
                throw AuditError(.postgres, operation: "connect for \(target)", message: "\(error)", underlying: error as? PostgresError)
            }
        }
        var resolved = target
        if let part = target.redis {
            do {
                let connection = try RedisConnection(url: part.url ?? defaultRedis, clientName: "tickfold-audit")
                if part.prefix.hasPrefix("@") {
                    // `redis:@NAMESPACE`: wherever the namespace pointer says the keys are now.
                    let pointer = RedisNamespacePointer(namespace: String(part.prefix.dropFirst()))
                    resolved.redis?.prefix = try pointer.resolve(connection)
                }
                redis = connection
            } catch {
                throw AuditError(.redis, operation: "connect for \(target)", message: "\(error)", underlying: error as? RedisError)
            }
        }
        return AuditSource(target: resolved, postgres: postgres, redis: redis)
    }
}

/// Digests, diffs and traces of projection outputs (SPEC §6). Every call is synchronous
/// and blocks on the servers; async callers run it off the cooperative pool.
public enum Audit {
    /// Digests every table with a primary key in the target's schema and every key family
    /// under its Redis prefix, inside one read-only snapshot per database.
    public static func digest(_ source: AuditSource, options: AuditOptions = AuditOptions()) throws(AuditError) -> DigestReport {
        try options.validate()
        let started = ContinuousClock.now
        var tables: [TableDigest] = []
        var skipped: [SkippedTable] = []
        var checkpoints: [[String: String?]]?
        var families: [FamilyDigest] = []
        if let part = source.target.postgres, let connection = source.postgres {
            let session = try PostgresAuditSession(connection: connection)
            defer { session.close() }
            let shapes = try session.tables(in: part.schema)
            for name in try selectedTables(Array(shapes.keys), options: options, reportMissing: true) {
                let shape = shapes[name]!
                guard !shape.primaryKey.isEmpty else {
                    skipped.append(SkippedTable(table: name, reason: "no primary key"))
                    continue
                }
                let tableStarted = ContinuousClock.now
                let columns = shape.compared(excluding: options.excludedColumns)
                let level = try session.leaves(
                    schema: part.schema, table: shape, columns: columns,
                    seqColumn: seqColumn(of: columns, options: options), bits: options.leafBits)
                tables.append(TableDigest(
                    table: name, rows: level.rowCount, root: level.root(scheme: PostgresAuditSession.scheme),
                    buckets: 1 << options.leafBits, maxSeq: level.maxSeq, columns: columns.map(\.name),
                    primaryKey: shape.primaryKey, seconds: seconds(since: tableStarted)))
            }
            checkpoints = try session.checkpoints(schema: part.schema, table: AuditOptions.checkpointTable)
        }
        if let part = source.target.redis, let connection = source.redis {
            let session = RedisAuditSession(connection: connection, prefix: part.prefix, options: options)
            for family in options.families {
                let familyStarted = ContinuousClock.now
                let level = try session.leaves(of: family, bits: options.leafBits)
                families.append(FamilyDigest(
                    family: family, keys: level.rowCount, root: level.root(scheme: RedisAuditSession.scheme),
                    buckets: 1 << options.leafBits, maxSeq: level.maxSeq, seconds: seconds(since: familyStarted)))
            }
        }
        let positions = tables.compactMap(\.maxSeq) + families.compactMap(\.maxSeq)
        return DigestReport(
            target: source.target.description, schema: source.target.postgres?.schema, tables: tables,
            skippedTables: skipped, redisPrefix: source.target.redis?.prefix, families: families,
            maxSeq: positions.max(), checkpoints: checkpoints, digestSeconds: seconds(since: started))
    }

    /// Compares two targets table by table and family by family: roots first, then the
    /// leaves of tables whose roots differ, descending to finer leaves while differing
    /// leaves hold more than `fetchThreshold` rows, and fetching only the rows of differing
    /// leaves. Identical tables ship no rows at all.
    public static func diff(_ a: AuditSource, _ b: AuditSource, options: AuditOptions = AuditOptions()) throws(AuditError) -> DiffReport {
        try options.validate()
        let started = ContinuousClock.now
        var comparisons: [Comparison] = []
        switch (a.target.postgres, b.target.postgres) {
        case let (partA?, partB?):
            guard let connectionA = a.postgres, let connectionB = b.postgres else {
                throw AuditError(.invalidTarget, operation: "diff", message: "a pg: part has no open connection")
            }
            let sessionA = try PostgresAuditSession(connection: connectionA)
            defer { sessionA.close() }
            let sessionB = connectionA === connectionB ? sessionA : try PostgresAuditSession(connection: connectionB)
            defer { if sessionB !== sessionA { sessionB.close() } }
            let differ = PostgresDiffer(
                a: (sessionA, partA.schema), b: (sessionB, partB.schema), options: options,
                parallel: sessionA !== sessionB)
            comparisons += try differ.compareSchemas()
        case (nil, nil):
            break
        case (_?, nil), (nil, _?):
            throw AuditError(.invalidTarget, operation: "diff", message: "only one of \(a.target) and \(b.target) has a pg: part")
        }
        switch (a.target.redis, b.target.redis) {
        case let (partA?, partB?):
            guard let connectionA = a.redis, let connectionB = b.redis else {
                throw AuditError(.invalidTarget, operation: "diff", message: "a redis: part has no open connection")
            }
            let differ = RedisDiffer(
                a: RedisAuditSession(connection: connectionA, prefix: partA.prefix, options: options),
                b: RedisAuditSession(connection: connectionB, prefix: partB.prefix, options: options),
                options: options, parallel: connectionA !== connectionB)
            comparisons += try differ.compareFamilies()
        case (nil, nil):
            break
        case (_?, nil), (nil, _?):
            throw AuditError(.invalidTarget, operation: "diff", message: "only one of \(a.target) and \(b.target) has a redis: part")
        }
        return DiffReport(
            a: a.target.description, b: b.target.description, comparisons: comparisons,
            rowsFetched: comparisons.reduce(0) { $0 + $1.rowsFetched }, seconds: seconds(since: started))
    }

    static func selectedTables(_ names: [String], options: AuditOptions, reportMissing: Bool) throws(AuditError) -> [String] {
        if let wanted = options.tables {
            if reportMissing, let missing = wanted.first(where: { !names.contains($0) }) {
                throw AuditError(.notFound, operation: "select tables", message: "table \(missing) does not exist in the schema")
            }
            return wanted.filter { names.contains($0) }.sorted()
        }
        return names.filter { !options.excludedTables.contains($0) }.sorted()
    }

    static func seqColumn(of columns: [AuditColumn], options: AuditOptions) -> String? {
        options.seqFields.first { name in columns.contains { $0.name == name } }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// Runs `a` and `b` on two threads when `parallel` (two connections), else one after the
/// other, and returns both results or the first error.
func onBothSides<T: Sendable>(
    parallel: Bool, _ a: @Sendable () throws(AuditError) -> T, _ b: @Sendable () throws(AuditError) -> T
) throws(AuditError) -> (T, T) {
    guard parallel else { return (try a(), try b()) }
    let results = BothResults<T>()
    DispatchQueue.concurrentPerform(iterations: 2) { index in
        let result: Result<T, AuditError>
        do throws(AuditError) { result = .success(index == 0 ? try a() : try b()) } catch { result = .failure(error) }
        results.set(index, result)
    }
    return try results.get()
}

/// The two results of `onBothSides`.
private final class BothResults<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `results` is only touched while holding `lock`.
    private let lock = NSLock()
    private var results: [Result<T, AuditError>?] = [nil, nil]

    func set(_ index: Int, _ result: Result<T, AuditError>) { lock.withLock { results[index] = result } }

    func get() throws(AuditError) -> (T, T) {
        let (a, b) = lock.withLock { (results[0]!, results[1]!) }
        return (try a.get(), try b.get())
    }
}
