import ArgumentParser

/// `tickfold bench …`: benchmarks are commands that print figures, never timed tests.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput and latency against the real log, broker and databases.",
        subcommands: [BenchLogCommand.self, BenchProjectCommand.self, BenchRebuildCommand.self]
    )
}
