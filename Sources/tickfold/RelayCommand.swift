import ArgumentParser
import Events
import Kafka
import Logging

/// `tickfold relay`: publishes the event log to Kafka.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Publish the event log to Kafka in seq order, resuming from its checkpoint.",
        discussion: """
            Runs beside the process that appends (it takes no writer lock) and keeps its checkpoint \
            in the log's LMDB environment. When the broker lost acknowledged events (a restarted \
            in-memory broker, a deleted topic), the affected topics are published again. \
            SIGTERM or SIGINT: finish the step, wait for acknowledgements, checkpoint, exit 0.
            """)

    @OptionGroup(title: "Connections") var connection: ConnectionOptions

    @Flag(help: "One pass to the end of the log, then exit.")
    var once = false

    @Option(help: "Partitions of topics the relay creates.")
    var partitions = 6

    func run() async throws {
        let log = try connection.openLog(.checkpointer)
        let servers = try connection.kafkaServers()
        let prefix = try connection.topicPrefix().value
        let logger = Logger(label: "tickfold.relay")
        let relay: KafkaRelay
        do {
            relay = try KafkaRelay(
                log: log, kafka: KafkaConfig(bootstrapServers: servers.value),
                options: KafkaRelay.Options(naming: TopicNaming(prefix: prefix), partitions: partitions), logger: logger)
        } catch {
            throw CLIError("Kafka at \(servers): \(error)")
        }
        let shutdown = ShutdownSignal()
        let report: KafkaRelay.Report
        do {
            report = try await relay.run(following: !once, until: { shutdown.isRequested })
        } catch {
            throw CLIError("relay to Kafka at \(servers): \(error)")
        }
        var line = "relayed \(report.published) events; checkpoint \(report.checkpoint)"
        if !report.lostTopics.isEmpty {
            line += "; broker had lost \(report.lostTopics.joined(separator: ", ")): \(report.republished) re-published"
        }
        print(line)
    }
}
