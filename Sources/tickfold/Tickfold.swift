import ArgumentParser
import Foundation
import Logging

/// The `tickfold` command: one root with a subcommand per concern.
struct Tickfold: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tickfold",
        abstract: "An event-sourced stream processor for market data.",
        subcommands: [FixturesCommand.self, ProjectCommand.self]
    )
}

@main
enum Entry {
    static func main() async {
        let level = ProcessInfo.processInfo.environment["TICKFOLD_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        await Tickfold.main()
    }
}
