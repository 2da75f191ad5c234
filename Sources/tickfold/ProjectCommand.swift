import ArgumentParser
import Foundation
import Postgres
import Projections

/// `tickfold project …`: projections into PostgreSQL and Redis.
struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Projections of the event log into PostgreSQL and Redis.",
        subcommands: [Migrate.self, Run.self, Status.self]
    )

    /// `project run`'s exit status when Redis lost a projection's keys (`redisKeysLost`): the
    /// remedy is a replay, which a supervisor restarting the projector would never run.
    static let keysLostStatus: Int32 = 3

    /// `tickfold project migrate [--schema NAME]`.
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or upgrade the projection tables in a PostgreSQL schema.",
            discussion: """
            Applies schemas/postgres/NNN_name.sql (embedded in this binary) in order, recording \
            each in SCHEMA.schema_migrations. Running it again does nothing; a schema migrated \
            by a newer tickfold is refused.
            """
        )

        @OptionGroup(title: "Connections")
        var connections: ConnectionOptions

        @Option(name: .long, help: "Target schema (replays build shadow schemas beside the live one).")
        var schema: String = "tickfold"

        @Flag(name: .long, help: "Print the result as JSON.")
        var json = false

        func run() async throws {
            let postgres = try connections.postgres()
            let report: MigrationReport
            do {
                let connection = try PostgresConnection(postgres.value)
                report = try Migrator().migrate(connection, schema: schema)
            } catch let error as PostgresError {
                throw CLIError("PostgreSQL (connection string from \(postgres.origin)): \(error)")
            } catch let error as ProjectionError {
                throw CLIError("\(error)")
            }
            if json {
                let applied = report.applied.map { "\"\($0.fileName)\"" }.joined(separator: ",")
                print("{\"applied\":[\(applied)],\"schema\":\(ProjectCommand.jsonString(report.schema)),\"version\":\(report.version)}")
            } else if report.applied.isEmpty {
                print("schema \(report.schema) is up to date at version \(report.version)")
            } else {
                for migration in report.applied { print("applied \(migration.fileName)") }
                print("schema \(report.schema) is at version \(report.version)")
            }
        }
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
