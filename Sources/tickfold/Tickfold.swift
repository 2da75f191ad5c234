import ArgumentParser

@main
struct Tickfold: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tickfold",
        abstract: "An event-sourced stream processor for market data.",
        subcommands: []
    )
}
