import ArgumentParser

/// Where the log and the servers are. Every command that touches one of them pulls this
/// group in; unset values fall back to environment, configuration file, then loopback
/// defaults that match `./dev up`'s conventions.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "Path of the LMDB event log (env TICKFOLD_LOG; default .local/events).")
    var log: String?

    @Option(name: .long, help: "Kafka bootstrap servers host:port (env TICKFOLD_KAFKA).")
    var kafka: String?

    @Option(name: .long, help: "PostgreSQL connection string or URI (env TICKFOLD_PG).")
    var pg: String?

    @Option(name: .long, help: "Redis URL redis://host:port/db (env TICKFOLD_REDIS).")
    var redis: String?

    @Option(name: .long, help: "Configuration file (JSON; env TICKFOLD_CONFIG; default ./tickfold.json if present).")
    var config: String?

    func configurationFile() throws -> ConfigurationFile { try ConfigurationFile.load(explicitPath: config) }

    func logPath() throws -> Setting {
        try configurationFile().resolve(flag: log, flagName: "--log", environment: "TICKFOLD_LOG", key: "log", default: ".local/events")
    }

    func kafkaServers() throws -> Setting {
        try configurationFile().resolve(flag: kafka, flagName: "--kafka", environment: "TICKFOLD_KAFKA", key: "kafka", default: "127.0.0.1:9092")
    }

    func postgres() throws -> Setting {
        try configurationFile().resolve(flag: pg, flagName: "--pg", environment: "TICKFOLD_PG", key: "pg", default: "postgresql://127.0.0.1:5432/tickfold")
    }

    func redisURL() throws -> Setting {
        try configurationFile().resolve(flag: redis, flagName: "--redis", environment: "TICKFOLD_REDIS", key: "redis", default: "redis://127.0.0.1:6379/0")
    }

    func topicPrefix() throws -> Setting {
        try configurationFile().resolve(flag: nil, flagName: "", environment: "TICKFOLD_TOPIC_PREFIX", key: "topicPrefix", default: "tickfold")
    }
}
