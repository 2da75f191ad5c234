/// The adaptive batch size of a projector: doubles while reads come back full (the projector
/// is behind, and big batches amortise a transaction and a COPY), halves when a read finds the
/// source caught up (small batches keep append→visible latency low), always within bounds.
public struct BatchSizing: Sendable, Hashable {
    public let minimum: Int
    public let maximum: Int
    /// The size of the next read.
    public private(set) var current: Int

    public init(minimum: Int = 256, maximum: Int = 50_000, initial: Int? = nil) {
        precondition(minimum > 0 && minimum <= maximum, "batch bounds need 0 < minimum <= maximum")
        self.minimum = minimum
        self.maximum = maximum
        current = Swift.min(Swift.max(initial ?? minimum, minimum), maximum)
    }

    /// Adjusts the size after a read that returned `count` messages with `status`.
    public mutating func adjust(read count: Int, status: SourceBatch.Status) {
        switch status {
        case .more where count >= current:
            current = Swift.min(current * 2, maximum)
        case .caughtUp:
            current = Swift.max(current / 2, minimum)
        case .more, .reachedStop:
            break
        }
    }
}
