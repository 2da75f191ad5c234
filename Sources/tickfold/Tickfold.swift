import ArgumentParser
import Foundation
import Logging

/// The `tickfold` command: one root with a subcommand per concern.
struct Tickfold: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tickfold",
        abstract: "An event-sourced stream processor for market data.",
        subcommands: [LogCommand.self, RelayCommand.self, IngestCommand.self, ProjectCommand.self, ReplayCommand.self, AuditCommand.self, BenchCommand.self, DoctorCommand.self, FixturesCommand.self]
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
        do {
            var command = try Tickfold.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            fail(error)
        } catch {
            // Argument errors, help and explicit exit codes keep ArgumentParser's handling;
            // anything else is a runtime error: one line, exit status 2.
            if error is ExitCode || Tickfold.exitCode(for: error) != .failure {
                Tickfold.exit(withError: error)
            }
            fail(error)
        }
    }

    private static func fail(_ error: any Error) -> Never {
        printError("error: \(error)")
        exit(2)
    }
}
