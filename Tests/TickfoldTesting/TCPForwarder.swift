import Foundation

/// A TCP forwarder (a Python asyncio script) from a loopback port to a real server, started
/// when a test chooses: before it starts, the port refuses connections, as a server that is
/// down does. Tests point a service at `port`, let it fail, start the forwarder and watch
/// the service catch up.
public final class TCPForwarder: @unchecked Sendable {  // `process` is only touched by the owning test
    public let port: Int
    private let target: (host: String, port: Int)
    private var process: Process?

    private static let script = """
        import asyncio, sys
        listen_port, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
        async def pipe(reader, writer):
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    writer.write(data)
                    await writer.drain()
            except Exception:
                pass
            finally:
                writer.close()
        async def handle(client_reader, client_writer):
            try:
                server_reader, server_writer = await asyncio.open_connection(host, port)
            except Exception:
                client_writer.close()
                return
            await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
        async def main():
            server = await asyncio.start_server(handle, '127.0.0.1', listen_port)
            print('ready', flush=True)
            await server.serve_forever()
        asyncio.run(main())
        """

    /// A forwarder to `host:port`, on a loopback port free now (not listening until `start()`).
    public init(to host: String, port: Int) throws {
        target = (host, port)
        self.port = try closedLocalPort()
    }

    /// Starts forwarding; returns once the port accepts connections.
    public func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestServices.python ?? "/usr/bin/python3")
        process.arguments = ["-c", Self.script, String(port), target.host, String(target.port)]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        guard line.hasPrefix("ready") else { throw POSIXError(.ECONNREFUSED) }
    }

    /// Stops forwarding: open connections drop and the port refuses new ones. SIGKILL, since
    /// a child spawned from a test's thread inherits its blocked SIGTERM.
    public func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }
}
