import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Counts requests per (source, key fingerprint, UTC day) and remembers stops that outlive a
/// run, in a small JSON file rewritten atomically (temp file, fsync, rename; mode 0600), so
/// a restarted collector neither overspends a daily quota nor hammers a source that asked
/// it to wait. Every count is written before its request goes out: a crash can only
/// overcount. The day always comes from the caller's clock.
public final class QuotaLedger: @unchecked Sendable {
    // @unchecked Sendable: `state` is only read or written while holding `lock`.
    /// The ledger file: `<directory>/quota-ledger.json`.
    public let path: String
    private let lock = NSLock()
    private var state: LedgerFile

    struct SpentRow: Codable, Equatable {
        var source: String
        var key: KeyFingerprint
        var day: UTCDay
        var count: Int
    }

    struct StopRow: Codable, Equatable {
        var source: String
        var key: KeyFingerprint
        var until: Date
        var reason: String
    }

    struct LedgerFile: Codable, Equatable {
        var version: Int
        var spent: [SpentRow]
        var stops: [StopRow]
    }

    static let fileName = "quota-ledger.json"
    static let daysKept: TimeInterval = 3 * 86_400

    /// Opens the ledger in `directory` (created 0700 when missing). A ledger file that
    /// cannot be read or parsed is an error, never silently reset: resetting would overspend.
    public init(directory: String) throws {
        path = "\(directory)/\(QuotaLedger.fileName)"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw FetchError(code: .ledger, source: "ledger", request: path, detail: "cannot create state directory \(directory): \(error.localizedDescription)")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            state = LedgerFile(version: 1, spent: [], stops: [])
            return
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FetchError(code: .ledger, source: "ledger", request: path, detail: "cannot read quota ledger")
        }
        do {
            state = try QuotaLedger.decoder.decode(LedgerFile.self, from: data)
        } catch {
            throw FetchError(code: .ledger, source: "ledger", request: path, detail: "quota ledger is corrupt (\(error)); fix or remove it knowingly")
        }
        guard state.version == 1 else {
            throw FetchError(code: .ledger, source: "ledger", request: path, detail: "unsupported quota ledger version \(state.version)")
        }
    }

    /// Requests recorded for `key` of `source` on `day`.
    public func spent(source: String, key: KeyFingerprint, day: UTCDay) -> Int {
        lock.withLock { state.spent.first { $0.source == source && $0.key == key && $0.day == day }?.count ?? 0 }
    }

    /// Counts one request and persists the count before returning.
    public func record(source: String, key: KeyFingerprint, day: UTCDay) throws {
        try update { state in
            if let index = state.spent.firstIndex(where: { $0.source == source && $0.key == key && $0.day == day }) {
                state.spent[index].count += 1
            } else {
                state.spent.append(SpentRow(source: source, key: key, day: day, count: 1))
            }
        }
    }

    /// Raises the day's count to `quota`: the source said the key is spent, whatever we counted.
    public func markSpent(source: String, key: KeyFingerprint, day: UTCDay, quota: Int) throws {
        try update { state in
            if let index = state.spent.firstIndex(where: { $0.source == source && $0.key == key && $0.day == day }) {
                state.spent[index].count = max(state.spent[index].count, quota)
            } else {
                state.spent.append(SpentRow(source: source, key: key, day: day, count: quota))
            }
        }
    }

    /// Remembers that `key` of `source` may not be used before `until` (rounded up to the second).
    public func stop(source: String, key: KeyFingerprint, until: Date, reason: String) throws {
        let rounded = Date(timeIntervalSince1970: until.timeIntervalSince1970.rounded(.up))
        try update { state in
            state.stops.removeAll { $0.source == source && $0.key == key }
            state.stops.append(StopRow(source: source, key: key, until: rounded, reason: reason))
        }
    }

    /// Stops recorded for `source` still in force at `now`.
    public func stops(source: String, now: Date) -> [(key: KeyFingerprint, until: Date, reason: String)] {
        lock.withLock { state.stops.filter { $0.source == source && $0.until > now }.map { ($0.key, $0.until, $0.reason) } }
    }

    /// Drops counts older than a few days and stops that have expired at `now`.
    public func prune(now: Date) throws {
        let oldest = UTCDay(now.addingTimeInterval(-QuotaLedger.daysKept))
        try update { state in
            state.spent.removeAll { $0.day < oldest }
            state.stops.removeAll { $0.until <= now }
        }
    }

    private func update(_ change: (inout LedgerFile) -> Void) throws {
        try lock.withLock {
            var next = state
            change(&next)
            next.spent.sort { ($0.source, $0.key, $0.day) < ($1.source, $1.key, $1.day) }
            next.stops.sort { ($0.source, $0.key) < ($1.source, $1.key) }
            let data = try QuotaLedger.encoder.encode(next)
            try QuotaLedger.writeAtomically([UInt8](data), to: path)
            state = next
        }
    }

    /// Replaces the ledger file (mode 0600): readers see the old file or the new one.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        do {
            try AtomicFile.write(bytes, to: path, permissions: 0o600)
        } catch {
            throw FetchError(code: .ledger, source: "ledger", request: path, detail: error.detail)
        }
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
