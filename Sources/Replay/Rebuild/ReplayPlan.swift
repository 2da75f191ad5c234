import Foundation
import Projections

/// What a replay needs to know: where the servers are, which live output it rebuilds and
/// which projections (versions) it folds.
public struct ReplayOptions: Sendable {
    /// libpq connection string of the database holding the live schema.
    public var conninfo: String
    /// Redis URL; nil rebuilds PostgreSQL only.
    public var redisURL: String?
    /// The live schema the rebuild replaces.
    public var schema = "tickfold"
    /// The logical Redis namespace of the live keys (what the projector is configured with).
    public var namespace = ""
    /// The projections to fold, in the versions this build has: every projection that writes
    /// into the schema (the shadow holds only their tables).
    public var projections: [any Projection]
    /// Key patterns (after the prefix) the projections write, besides their derived hashes;
    /// copied by a middle replay and removed with a retired namespace.
    public var keyFamilies = ["latest:*"]
    /// Events per folded batch (one PostgreSQL transaction each).
    public var batchSize = 50_000
    /// Catching up stops chasing the head and starts the swap once the shadow is at most
    /// this many events behind it; the rest is folded while holding the swap lock.
    public var swapLag: UInt64 = 50_000
    /// How long the swap waits for a live batch to release the swap lock.
    public var lockTimeout: Duration = .seconds(30)
    /// Polled after every batch until the swap commits; true abandons the replay (SIGINT):
    /// the shadow is dropped and live is untouched.
    public var shouldStop: @Sendable () -> Bool = { false }
    /// Distinguishes this replay's shadow names (`tickfold_r<ID>`, `tickfold:ns:<ID>:`):
    /// lowercase letters and digits.
    public var id: String

    public init(conninfo: String, redisURL: String?, projections: [any Projection]) {
        self.conninfo = conninfo
        self.redisURL = redisURL
        self.projections = projections
        id = Self.newID()
    }

    /// A fresh replay id: seconds since 2020 in base 36 and 4 random base-36 digits.
    public static func newID() -> String {
        let seconds = max(0, Int(Date().timeIntervalSince1970) - 1_577_836_800)
        return String(seconds, radix: 36) + String(Int.random(in: 0..<1_679_616), radix: 36)
    }
}

/// What a replay will do, decided before it changes anything; `--dry-run` prints it.
///
/// **`--from` a middle position N** (N > 1) means *refold the affected keys*: the shadow
/// starts as a copy of the live rows and keys whose last writer came before N (`seq < N`),
/// and events N… are folded into it. A key whose last writer is at or after N is rebuilt
/// from those events alone, which is exact because every row and key holds the state of its
/// highest-seq event (SPEC §2 convergence): the events before N that touched it were all
/// superseded. The result equals a rebuild from 1 whenever events before N fold as they did
/// when the live rows were written — the case of a fix or a new version that changes only
/// what events from N on produce, or of damage to rows written since N. Rows written before
/// N are taken as they are; to rebuild those, replay from 1. A live projection that has not
/// yet reached N−1 has no complete state to copy below N; the replay then starts refolding
/// right after its checkpoint (or from 1 when it has none) and says so in `notes`.
public struct ReplayPlan: Sendable, Hashable {
    /// The first seq asked for.
    public let requestedFrom: UInt64
    /// The first seq folded.
    public let foldFrom: UInt64
    /// The last seq folded when `--to` was given (no swap then); nil chases the log head.
    public let through: UInt64?
    /// The newest seq when planned.
    public let head: UInt64
    /// Live rows and keys with `seq` below this are copied into the shadow (nil: none).
    public let copyBelow: UInt64?
    /// The live projections' common log checkpoint, if they have one.
    public let liveCheckpoint: UInt64?
    public let liveSchema: String
    public let liveSchemaExists: Bool
    public let shadowSchema: String
    /// The name the live schema takes during the swap, dropped afterwards.
    public let retiredSchema: String
    /// The active live key prefix (after following the namespace pointer); nil without Redis.
    public let liveKeyPrefix: String?
    public let shadowKeyPrefix: String?
    /// The pointer key flipped by the swap.
    public let pointerKey: String?
    /// `name@vN` of the projections folded.
    public let projections: [String]
    /// Versions the live schema records (empty when it records none).
    public let liveVersions: [String: Int]
    /// Whether the shadow replaces the live output at the end.
    public var swaps: Bool { through == nil }
    /// Decisions worth telling the operator.
    public let notes: [String]

    /// Events to fold, as far as the log goes now.
    public var events: UInt64 {
        let last = through ?? head
        return last >= foldFrom ? last - foldFrom + 1 : 0
    }
}

/// Where a running replay is, reported after each batch and phase.
public struct ReplayProgress: Sendable {
    public enum Phase: String, Sendable {
        case copying = "copying live state"
        case folding
        case catchingUp = "catching up"
        case swapping
        case dropping = "dropping old copy"
        case done
    }

    public let phase: Phase
    /// Events folded so far.
    public let folded: UInt64
    /// Events to fold to reach the position known now (grows while the log grows).
    public let target: UInt64
    /// Seconds since the replay started folding.
    public let seconds: Double

    public var eventsPerSecond: Double { seconds > 0 ? Double(folded) / seconds : 0 }

    /// Seconds left at the current rate, when it can be told.
    public var eta: Double? {
        guard eventsPerSecond > 0, target >= folded else { return nil }
        return Double(target - folded) / eventsPerSecond
    }
}

/// What a finished replay did.
public struct ReplayResult: Sendable {
    public let plan: ReplayPlan
    /// Events folded into the shadow.
    public let folded: UInt64
    /// Rows and keys copied from live (middle replays).
    public let copiedRows: Int
    public let copiedKeys: Int
    /// The seq the shadow covered when it was swapped in (nil for `--to` replays).
    public let swappedAt: UInt64?
    /// Old keys removed after the swap.
    public let droppedKeys: Int
    public let seconds: Double
}
