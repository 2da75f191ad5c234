import Foundation

/// The base URL of every source, from configuration, so tests and the offline demo point
/// the very same fetchers at a fixture server.
///
/// For source `ID`, the first of these wins: the environment variable
/// `TICKFOLD_ENDPOINT_<ID in upper case>`; `TICKFOLD_FIXTURES_URL` + `/ID` (one fixture
/// server for all sources); the configuration file's `endpoints.ID`; its `endpoints.fixtures`
/// + `/ID`; the real host.
public struct SourceEndpoints: Sendable {
    /// A resolved base URL and the setting it came from (for error messages).
    public struct Endpoint: Sendable {
        public let url: URL
        public let origin: String
    }

    public private(set) var endpoints: [String: Endpoint]

    /// The real hosts.
    public init(descriptors: [SourceDescriptor] = SourceDescriptor.all) {
        var endpoints: [String: Endpoint] = [:]
        for descriptor in descriptors { endpoints[descriptor.id] = Endpoint(url: descriptor.defaultBaseURL, origin: "default") }
        self.endpoints = endpoints
    }

    /// The base URL for `source`, nil for a source nobody described.
    public func baseURL(_ source: String) -> URL? { endpoints[source]?.url }

    /// Resolves every source's base URL from `environment` and the configuration file's
    /// `endpoints` section (`configuration`, string values). A value that is not an
    /// absolute http(s) URL is an error naming the setting.
    public static func resolve(environment: [String: String], configuration: [String: String] = [:],
                               descriptors: [SourceDescriptor] = SourceDescriptor.all) throws -> SourceEndpoints {
        var result = SourceEndpoints(descriptors: descriptors)
        for descriptor in descriptors {
            let id = descriptor.id
            let variable = "TICKFOLD_ENDPOINT_\(id.uppercased())"
            let candidates: [(String?, String)] = [
                (environment[variable], "environment variable \(variable)"),
                (environment["TICKFOLD_FIXTURES_URL"].map { join($0, id) }, "environment variable TICKFOLD_FIXTURES_URL"),
                (configuration[id], "configuration endpoints.\(id)"),
                (configuration["fixtures"].map { join($0, id) }, "configuration endpoints.fixtures"),
            ]
            guard let (value, origin) = candidates.first(where: { $0.0.map { !$0.isEmpty } ?? false }) else { continue }
            guard let url = URL(string: value!), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
                throw FetchError(code: .invalidRequest, source: id, request: origin, detail: "not an absolute http(s) URL: \(Redactor().redact(value!))")
            }
            result.endpoints[id] = Endpoint(url: url, origin: origin)
        }
        return result
    }

    private static func join(_ base: String, _ id: String) -> String {
        base.hasSuffix("/") ? base + id : base + "/" + id
    }
}
