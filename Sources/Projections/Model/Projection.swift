import Events

/// A named, versioned pure fold from events to row and key changes (SPEC §2).
///
/// A fold reads nothing but the event: no clock, no randomness, no environment, no state
/// kept between events (the sinks hold the state and resolve conflicts by `seq`), so the
/// same events always produce the same changes. A changed fold is a new `version`, rebuilt
/// side by side and swapped in.
public protocol Projection: Sendable {
    /// Stable name, the key of checkpoints and rejects (`collected`).
    var name: String { get }
    var version: Int { get }
    /// The tables this projection owns.
    var tables: [TableSchema] { get }
    /// Redis hashes derived in SQL from this projection's tables.
    var derivedHashes: [DerivedHash] { get }
    /// Appends what `event` (logged at `seq`) changes; an event it cannot apply becomes a
    /// `Reject` in `changes.rejects`, never a thrown error.
    func fold(_ event: Event, seq: UInt64, into changes: inout ProjectionChanges)
}

extension Projection {
    public var derivedHashes: [DerivedHash] { [] }

    /// `name` and `version`, as shown to humans (`collected@v1`).
    public var label: String { "\(name)@v\(version)" }
}

/// The projections Tickfold knows, by name.
public struct ProjectionRegistry: Sendable {
    public let projections: [any Projection]

    public init(_ projections: [any Projection]) {
        var names = Set<String>()
        var tables = Set<String>()
        for projection in projections {
            precondition(names.insert(projection.name).inserted, "projection \(projection.name) registered twice")
            for table in projection.tables {
                precondition(tables.insert(table.name).inserted, "table \(table.name) owned by two projections")
            }
        }
        self.projections = projections
    }

    /// Every projection the projector runs by default.
    public static let standard = ProjectionRegistry([CollectedProjection()])

    /// The projection called `name`, if registered.
    public func projection(named name: String) -> (any Projection)? {
        projections.first { $0.name == name }
    }

    /// The projections called `names`, in registry order; throws naming an unknown one.
    public func select(_ names: [String]) throws(ProjectionError) -> [any Projection] {
        for name in names where projection(named: name) == nil {
            throw ProjectionError(.invalidArgument, operation: "select projections", message: "no projection named \"\(name)\" (known: \(projections.map { $0.name }.joined(separator: ", ")))")
        }
        return projections.filter { names.contains($0.name) }
    }

    /// The tables of all registered projections.
    public var tables: [TableSchema] { projections.flatMap { $0.tables } }
}

/// How far a projection got in one source partition: the next batch starts after `position`.
/// For the LMDB log `source` is `log` and `partition` 0, `position` the last applied seq;
/// for Kafka, the topic, its partition and the last applied offset, with `seq` the event seq
/// of the message at that offset (its `seq` header), by which a resuming projector recognises
/// a partition the broker lost and the relay wrote again (`KafkaEventSource`).
public struct CheckpointPosition: Sendable, Hashable {
    public let source: String
    public let partition: Int
    public let position: Int64
    /// The seq of the event at `position` in a Kafka partition; nil for the log (the position
    /// is the seq) and for a message without a readable `seq` header.
    public let seq: UInt64?

    public init(source: String, partition: Int, position: Int64, seq: UInt64? = nil) {
        self.source = source
        self.partition = partition
        self.position = position
        self.seq = seq
    }

    public var key: CheckpointKey { CheckpointKey(source: source, partition: partition) }
}

/// A source partition, the key of a checkpoint.
public struct CheckpointKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let source: String
    public let partition: Int

    public init(source: String, partition: Int) {
        self.source = source
        self.partition = partition
    }

    public static func < (lhs: CheckpointKey, rhs: CheckpointKey) -> Bool {
        (lhs.source, lhs.partition) < (rhs.source, rhs.partition)
    }

    public var description: String { "\(source)/\(partition)" }
}
