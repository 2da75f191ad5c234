import Foundation

/// Why a fetch failed. Every text in it has passed through a `Redactor`: it names the
/// source and the request without its credentials.
public struct FetchError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure; growable.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// No response: connection refused or reset, DNS failure, timeout.
        public static let transport = Code("transport")
        /// A response whose status is neither success nor a rate limit.
        public static let httpStatus = Code("http-status")
        /// The request could not be built (bad base URL, bad path).
        public static let invalidRequest = Code("invalid-request")
        /// A source needs an API key and none is configured.
        public static let missingCredentials = Code("missing-credentials")
        /// The quota ledger could not be read or written.
        public static let ledger = Code("ledger")
    }

    public let code: Code
    /// The source, e.g. `alpha_vantage`, or `http` for a bare fetcher.
    public let source: String
    /// Method and URL with credentials masked.
    public let request: String
    /// The HTTP status for `.httpStatus`.
    public let status: Int?
    /// What went wrong, already redacted (the transport's own text, or a body excerpt).
    public let detail: String
    /// How many attempts were made before giving up.
    public let attempts: Int
    /// The body of an `.httpStatus` response, kept for the quarantine; never printed.
    public var responseBody: [UInt8] = []

    public init(code: Code, source: String, request: String, status: Int? = nil, detail: String, attempts: Int = 1) {
        self.code = code
        self.source = source
        self.request = request
        self.status = status
        self.detail = detail
        self.attempts = attempts
    }

    public var description: String {
        var text = "\(source): \(code) failure for \(request)"
        if let status { text += ": HTTP \(status)" }
        if !detail.isEmpty { text += ": \(detail)" }
        if attempts > 1 { text += " (after \(attempts) attempts)" }
        return text
    }
}
