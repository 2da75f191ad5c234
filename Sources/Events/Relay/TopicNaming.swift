/// Kafka topics per event family (SPEC §1.4): `bar.daily` and `bar.intraday` go to
/// `PREFIX.bar`, `news.article` to `PREFIX.news`, and so on.
public struct TopicNaming: Sendable, Hashable {
    public let prefix: String

    public init(prefix: String = "tickfold") { self.prefix = prefix }

    /// The topic events of `type` are published to.
    public func topic(forType type: some StringProtocol) -> String {
        "\(prefix).\(Self.family(of: type))"
    }

    /// The family of a dotted type name: its first component.
    public static func family(of type: some StringProtocol) -> Substring {
        let text = Substring(type)
        return text.firstIndex(of: ".").map { text[..<$0] } ?? text
    }
}
