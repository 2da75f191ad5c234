import HTTPServing

/// Why the telemetry server could not start, e.g. "telemetry server cannot listen on
/// 127.0.0.1:9464: Address already in use".
public struct TelemetryError: Error, CustomStringConvertible, Sendable {
    /// The listener's failure: its code, the `host:port` and the system's own text.
    public let listenerError: HTTPListenerError

    public init(_ listenerError: HTTPListenerError) {
        self.listenerError = listenerError
    }

    /// `.resolve`, `.socket` or `.bind` (the port is in use, or the address is not local).
    public var code: HTTPListenerError.Code { listenerError.code }

    public var description: String { "telemetry server \(listenerError)" }
}
