import CRdKafka

/// librdkafka configuration properties, applied in order with `rd_kafka_conf_set`
/// (a later value for the same key replaces the earlier one).
///
/// Property names and values are librdkafka's own (CONFIGURATION.md), e.g.
/// `KafkaConfig(bootstrapServers: "127.0.0.1:9092", ["linger.ms": "5"])`.
public struct KafkaConfig: Sendable {
    /// The properties in the order they are applied.
    public private(set) var properties: [(key: String, value: String)]

    public init(bootstrapServers: String, _ properties: KeyValuePairs<String, String> = [:]) {
        self.properties = [("bootstrap.servers", bootstrapServers)]
        for (key, value) in properties { self[key] = value }
    }

    /// The broker list clients first connect to; named in unreachable-broker errors.
    public var bootstrapServers: String {
        get { self["bootstrap.servers"] ?? "" }
        set { self["bootstrap.servers"] = newValue }
    }

    /// The value of a property, or nil; setting nil removes it.
    public subscript(key: String) -> String? {
        get { properties.first { $0.key == key }?.value }
        set {
            if let index = properties.firstIndex(where: { $0.key == key }) {
                if let newValue { properties[index].value = newValue } else { properties.remove(at: index) }
            } else if let newValue {
                properties.append((key, newValue))
            }
        }
    }

    /// `defaults` for keys this configuration leaves unset, then this configuration.
    func withDefaults(_ defaults: KeyValuePairs<String, String>) -> KafkaConfig {
        var merged = self
        for (key, value) in defaults where merged[key] == nil { merged[key] = value }
        return merged
    }

    /// A new `rd_kafka_conf_t` holding these properties; the caller owns it.
    func makeNativeConfig() throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorText = [CChar](repeating: 0, count: 512)
        for (key, value) in properties {
            let result = rd_kafka_conf_set(conf, key, value, &errorText, errorText.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                let text = String(cText: errorText)
                let what = result == RD_KAFKA_CONF_UNKNOWN ? "unknown property" : "invalid value for property"
                throw KafkaError(
                    code: .invalidConfiguration, operation: "configure",
                    message: "\(what) \"\(key)\": \(text)")
            }
        }
        return conf
    }
}
