import Events
import Foundation

/// Where ingest reads the time for rate limiting, backoff and quota days. Injected so tests
/// and simulations run without sleeping, and so no component reads the wall clock behind
/// the caller's back (wall-clock time must never leak into events).
public protocol WallClock: Sendable {
    /// The current instant.
    func now() -> Date
    /// Suspends until `deadline` (or returns at once when it has passed).
    func sleep(until deadline: Date) async throws
}

/// The real clock: `Date()` and `Task.sleep`.
public struct SystemWallClock: WallClock {
    public init() {}

    public func now() -> Date { Date() }

    public func sleep(until deadline: Date) async throws {
        let seconds = deadline.timeIntervalSinceNow
        guard seconds > 0 else { return }
        try await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
    }
}

/// A clock that only moves when told to, or when someone sleeps on it: `sleep(until:)`
/// jumps straight to the deadline. Makes backoff and spacing observable without waiting.
public final class ManualClock: WallClock, @unchecked Sendable {
    // @unchecked Sendable: `current` and `sleeps` are only touched while holding `lock`.
    private let lock = NSLock()
    private var current: Date
    private var sleeps: [Date] = []

    public init(_ start: Date) { current = start }

    public func now() -> Date { lock.withLock { current } }

    public func sleep(until deadline: Date) async throws {
        try Task.checkCancellation()
        lock.withLock {
            sleeps.append(deadline)
            if deadline > current { current = deadline }
        }
    }

    /// Moves the clock forward by `seconds`.
    public func advance(by seconds: TimeInterval) {
        lock.withLock { current += seconds }
    }

    /// Every deadline anyone slept until, in order: what a test inspects to see the backoff.
    public var sleepDeadlines: [Date] { lock.withLock { sleeps } }
}

/// A source of uniform numbers in [0, 1) for backoff jitter; injected so retries are
/// reproducible in tests.
public protocol RandomUnitSource: Sendable {
    func nextUnit() -> Double
}

/// The system generator, for production.
public struct SystemRandomUnitSource: RandomUnitSource {
    public init() {}
    public func nextUnit() -> Double { Double.random(in: 0..<1) }
}

/// A seeded source (SplitMix64), so a given seed always yields the same jitter.
public final class SeededRandomUnitSource: RandomUnitSource, @unchecked Sendable {
    // @unchecked Sendable: `random` is only touched while holding `lock`.
    private let lock = NSLock()
    private var random: SplitMix64

    public init(seed: UInt64) { random = SplitMix64(seed: seed) }

    public func nextUnit() -> Double {
        let bits = lock.withLock { random.next() }
        return Double(bits >> 11) / Double(1 << 53)
    }
}

/// A calendar day in UTC, the unit of daily quotas ("2026-11-23").
public struct UTCDay: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let year: Int, month: Int, day: Int

    /// The UTC day containing `instant`.
    public init(_ instant: Date) {
        let components = UTCDay.calendar.dateComponents([.year, .month, .day], from: instant)
        year = components.year!
        month = components.month!
        day = components.day!
    }

    /// Parses `YYYY-MM-DD`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              (1...12).contains(m), (1...31).contains(d) else { return nil }
        year = y
        month = m
        day = d
    }

    /// Midnight UTC at the start of this day.
    public var start: Date {
        UTCDay.calendar.date(from: DateComponents(year: year, month: month, day: day))!
    }

    /// Midnight UTC at the end of this day: when a daily quota resets.
    public var end: Date { UTCDay.calendar.date(byAdding: .day, value: 1, to: start)! }

    public var description: String {
        func pad(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (a: UTCDay, b: UTCDay) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let day = UTCDay(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a YYYY-MM-DD day: \(text)"))
        }
        self = day
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
