import Foundation

/// The `tickfold` binary that `swift build` put in this checkout's `.build/debug`, for tests of
/// the command line.
public enum TickfoldBinary {
    /// Its path, found from this file up to the package root; nil before the first build.
    public static let path: String? = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                let binary = url.appendingPathComponent(".build/debug/tickfold").path
                return FileManager.default.isExecutableFile(atPath: binary) ? binary : nil
            }
            url.deleteLastPathComponent()
        }
        return nil
    }()

    public static var isAvailable: Bool { path != nil }

    /// How a run ended and what it printed.
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
        /// From launch to exit, measured on the waiting thread (an awaiting test may resume later).
        public let elapsed: Duration

        public init(status: Int32, stdout: String, stderr: String, elapsed: Duration = .zero) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
            self.elapsed = elapsed
        }
    }

    /// The binary is missing: `swift build` has not run.
    public struct NotBuilt: Error, CustomStringConvertible {
        public var description: String { "no .build/debug/tickfold: run swift build first" }
    }

    /// Runs the binary to completion with `input` on standard input, in `directory`, with this
    /// process's environment minus the variables `removing` selects (by default
    /// `TICKFOLD_CONFIG`, so a developer's configuration file never leaks into a test) plus
    /// `environment`.
    /// The wait happens on a thread of its own (see `ChildProcess`).
    public static func run(
        _ arguments: [String], input: [UInt8] = [], environment: [String: String] = [:],
        removing: @escaping @Sendable (String) -> Bool = { $0 == "TICKFOLD_CONFIG" }, directory: String? = nil
    ) async throws -> Result {
        guard let path else { throw NotBuilt() }
        return try await ChildProcess.run(path, arguments, input: input, environment: environment, removing: removing, directory: directory)
    }
}

/// Runs a program to completion, waiting on a thread of its own: tests run on Swift's
/// cooperative pool (a thread per core), and tests blocking it while a child ran for seconds
/// starved the others into their time limits.
public enum ChildProcess {
    public static func run(
        _ path: String, _ arguments: [String], input: [UInt8] = [], environment: [String: String] = [:],
        removing: @escaping @Sendable (String) -> Bool = { $0 == "TICKFOLD_CONFIG" }, directory: String? = nil
    ) async throws -> TickfoldBinary.Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    try runWaiting(path, arguments, input: input, environment: environment, removing: removing, directory: directory)
                })
            }.start()
        }
    }

    private static func runWaiting(
        _ path: String, _ arguments: [String], input: [UInt8], environment: [String: String],
        removing: (String) -> Bool, directory: String?
    ) throws -> TickfoldBinary.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var variables = ProcessInfo.processInfo.environment.filter { !removing($0.key) }
        variables.merge(environment) { $1 }
        process.environment = variables
        let (stdin, stdout, stderr) = (Pipe(), Pipe(), Pipe())
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let started = ContinuousClock.now
        try process.run()
        let output = OutputCollector(stdout: stdout, stderr: stderr)
        stdin.fileHandleForWriting.write(Data(input))
        try stdin.fileHandleForWriting.close()
        let (out, err) = output.wait()
        process.waitUntilExit()
        return TickfoldBinary.Result(status: process.terminationStatus, stdout: out, stderr: err, elapsed: ContinuousClock.now - started)
    }
}

/// Reads a child's standard output and standard error to their ends at the same time, from
/// the moment it is made: a child that fills a pipe nobody reads blocks forever (a service
/// logging a broker outage fills 64 KiB of standard error in seconds).
public final class OutputCollector: @unchecked Sendable {  // `output` and `errors` are written before `done` is signalled and read after waiting on it
    private var output = Data()
    private var errors = Data()
    private let done = DispatchSemaphore(value: 0)

    /// Starts draining both pipes, each on a thread of its own.
    public init(stdout: Pipe, stderr: Pipe) {
        Thread { [self] in
            output = stdout.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }.start()
        Thread { [self] in
            errors = stderr.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }.start()
    }

    /// Both streams' text once the child has closed them.
    public func wait() -> (stdout: String, stderr: String) {
        done.wait()
        done.wait()
        return (String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
    }
}
