import Synchronization

/// Where a long-running service stands, as its health endpoints report it.
public enum HealthStatus: Sendable, Equatable, CustomStringConvertible {
    /// Started, not yet connected or caught up; alive but not ready.
    case starting
    /// Working normally.
    case healthy
    /// Alive but not doing its job, e.g. "PostgreSQL unreachable, retrying (attempt 4)".
    case degraded(reason: String)
    /// Shutting down; neither live nor ready any more.
    case stopping

    /// `starting`, `healthy`, `degraded` or `stopping`.
    public var name: String {
        switch self {
        case .starting: return "starting"
        case .healthy: return "healthy"
        case .degraded: return "degraded"
        case .stopping: return "stopping"
        }
    }

    /// Liveness: the process is working or trying to (everything but `.stopping`).
    public var isLive: Bool {
        switch self {
        case .starting, .healthy, .degraded: return true
        case .stopping: return false
        }
    }

    /// Readiness: only `.healthy`.
    public var isReady: Bool { self == .healthy }

    public var description: String {
        if case .degraded(let reason) = self { return "degraded: \(reason)" }
        return name
    }
}

/// The current `HealthStatus` of a service, updated by the service from any thread and read
/// by the telemetry server at each probe.
public final class HealthState: Sendable {
    private let current: Mutex<HealthStatus>

    public init(_ status: HealthStatus = .starting) {
        current = Mutex(status)
    }

    /// The status now.
    public var status: HealthStatus { current.withLock { $0 } }

    /// Replaces the status.
    public func update(_ status: HealthStatus) {
        current.withLock { $0 = status }
    }
}
