/// Why an `HTTPListener` could not start.
public struct HTTPListenerError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; a struct so new codes do not break callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        /// The host is neither an address nor a name the resolver knows.
        public static let resolve = Code(name: "resolve")
        /// No socket could be created (e.g. out of file descriptors).
        public static let socket = Code(name: "socket")
        /// The address could not be bound or listened on (e.g. the port is in use).
        public static let bind = Code(name: "bind")
    }

    public let code: Code
    /// `host:port` as requested.
    public let address: String
    /// The system's own text (`strerror` or `gai_strerror`).
    public let message: String

    public init(_ code: Code, address: String, message: String) {
        self.code = code
        self.address = address
        self.message = message
    }

    public var description: String {
        switch code {
        case .resolve: return "cannot resolve \(address): \(message)"
        case .socket: return "cannot create a socket for \(address): \(message)"
        default: return "cannot listen on \(address): \(message)"
        }
    }
}
