import ArgumentParser
import Dispatch
import Foundation
import Ingest
import Logging

/// `tickfold fixtures …`: recorded API responses served over loopback HTTP, so the ingest
/// path runs offline exactly as against the internet.
struct FixturesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fixtures",
        abstract: "Recorded API responses over loopback HTTP.",
        subcommands: [Serve.self]
    )

    /// `tickfold fixtures serve DIR [--port P] [--record URL | --record SOURCE=URL …]`.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve a fixture directory on 127.0.0.1 until SIGINT or SIGTERM.",
            discussion: """
            Layout and matching rules: Sources/Ingest/FIXTURES.md. Point fetchers at it with \
            TICKFOLD_FIXTURES_URL=http://127.0.0.1:PORT (each source is then served under /SOURCE/).
            """
        )

        @Argument(help: "The fixture directory.")
        var directory: String

        @Option(name: .long, help: "Port on 127.0.0.1; 0 picks a free one and prints it.")
        var port: UInt16 = 0

        @Option(name: .long, help: ArgumentHelp(
            "Record missing fixtures from upstream: URL (whole path forwarded) or SOURCE=URL (requests under /SOURCE/). Repeatable.",
            valueName: "url"))
        var record: [String] = []

        func run() async throws {
            let upstreams = try record.map { argument in
                guard let upstream = FixtureServer.Upstream(argument: argument) else {
                    throw CLIError("--record \(argument): expected an http(s) URL or SOURCE=URL")
                }
                return upstream
            }
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
                guard !upstreams.isEmpty else { throw CLIError("fixture directory \(directory) does not exist") }
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } else if !isDirectory.boolValue {
                throw CLIError("\(directory) is not a directory")
            }
            let server = FixtureServer(directory: directory, port: port, upstreams: upstreams, logger: Logger(label: "tickfold.fixtures"))
            do { try server.start() } catch { throw CLIError("\(error)") }
            print("serving \(directory) on \(server.baseURL.absoluteString)")
            for upstream in upstreams {
                print("recording missing fixtures\(upstream.prefix.map { " under /\($0)/" } ?? "") from \(upstream.baseURL.scheme ?? "https")://\(upstream.baseURL.host ?? "")")
            }
            fflush(nil)
            await Self.waitForTerminationSignal()
            server.stop()
            let statistics = server.statistics
            print("stopped: \(statistics.served) served, \(statistics.missed) unmatched, \(statistics.recorded) recorded")
        }

        /// Suspends until SIGINT or SIGTERM arrives.
        private static func waitForTerminationSignal() async {
            let signals = [SIGINT, SIGTERM]
            for number in signals { signal(number, SIG_IGN) }
            let queue = DispatchQueue(label: "tickfold.fixtures.signals")
            let once = ResumeOnce()
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                once.set(continuation)
                let sources = signals.map { number in
                    let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                    source.setEventHandler { once.resume() }
                    source.resume()
                    return source
                }
                once.keep(sources)
            }
        }
    }
}

/// Resumes a continuation at most once, whichever signal comes first, and keeps the
/// signal sources alive until then.
private final class ResumeOnce: @unchecked Sendable {
    // @unchecked Sendable: every field is only touched while holding `lock`.
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?
    private var sources: [any DispatchSourceSignal] = []

    func set(_ continuation: CheckedContinuation<Void, Never>) { lock.withLock { self.continuation = continuation } }
    func keep(_ sources: [any DispatchSourceSignal]) { lock.withLock { self.sources = sources } }

    func resume() {
        let pending: CheckedContinuation<Void, Never>? = lock.withLock {
            defer { continuation = nil; sources.forEach { $0.cancel() } ; sources = [] }
            return continuation
        }
        pending?.resume()
    }
}
