import Synchronization

/// A monotonic count (events applied, errors, bytes) that a hot path bumps without any
/// lookup: the registry hands out the handle once, updates are one relaxed atomic add.
public final class Counter: Sendable {
    private let count = Atomic<UInt64>(0)

    init() {}

    /// Adds `amount` (wrapping at 2^64, which a real count never reaches).
    public func increment(by amount: UInt64 = 1) {
        count.wrappingAdd(amount, ordering: .relaxed)
    }

    /// The count so far.
    public var value: UInt64 { count.load(ordering: .relaxed) }
}

/// A value that goes up and down (queue depth, lag, connection state), kept as the bit
/// pattern of a `Double` in one atomic word so updates take no lock.
public final class Gauge: Sendable {
    private let bits = Atomic<UInt64>(0.0.bitPattern)

    init() {}

    /// Replaces the value.
    public func set(_ value: Double) {
        bits.store(value.bitPattern, ordering: .relaxed)
    }

    /// Adds `delta` (negative to subtract); concurrent adds all count.
    public func add(_ delta: Double) {
        var current = bits.load(ordering: .relaxed)
        while true {
            let next = (Double(bitPattern: current) + delta).bitPattern
            let (exchanged, original) = bits.weakCompareExchange(expected: current, desired: next, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// The current value.
    public var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }
}
