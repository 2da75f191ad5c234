import Foundation

/// A message received on a subscribed channel.
public struct RedisMessage: Sendable, Hashable {
    public let channel: String
    public let payload: [UInt8]

    /// The payload decoded as UTF-8.
    public var text: String { String(decoding: payload, as: UTF8.self) }
}

/// A connection in Redis subscriber mode (it can only subscribe, unsubscribe and receive),
/// so it is separate from `RedisConnection`. After an I/O error the failing call throws
/// `connectionLost`; the next call reconnects and subscribes to the same channels again.
/// Messages published while disconnected are lost, as pub/sub promises no delivery.
///
/// `@unchecked Sendable`: the hiredis context and the queue are only touched under `lock`.
public final class RedisSubscriber: @unchecked Sendable {
    private let lock = NSLock()
    private let context: RedisContext
    private var channels: [String] = []
    /// Messages that arrived while waiting for (un)subscribe confirmations.
    private var queued: [RedisMessage] = []
    private var queuedHead = 0

    /// Connects to `url`; `timeout` bounds the connect and the wait for confirmations;
    /// `clientName` (CLIENT SETNAME) makes the connection recognisable in `CLIENT LIST`.
    public convenience init(url: String, timeout: Duration = .seconds(5), clientName: String? = nil) throws {
        try self.init(try RedisURL(url), timeout: timeout, clientName: clientName)
    }

    /// Connects to `url`; `timeout` bounds the connect and the wait for confirmations;
    /// `clientName` is set with CLIENT SETNAME on every (re)connect.
    public init(_ url: RedisURL, timeout: Duration = .seconds(5), clientName: String? = nil) throws {
        context = try RedisContext(url: url, timeout: timeout, clientName: clientName)
    }

    /// The channels currently subscribed to.
    public var subscribedChannels: [String] { locked { channels } }

    /// Subscribes to `channels` and returns once the server has confirmed each of them.
    public func subscribe(_ channels: [String]) throws {
        guard !channels.isEmpty else { return }
        try locked {
            try resubscribeIfReconnecting()
            try send("SUBSCRIBE", channels, confirmations: channels.count)
            for channel in channels where !self.channels.contains(channel) { self.channels.append(channel) }
        }
    }

    /// Unsubscribes from `channels` (all of them when empty) and returns once confirmed.
    public func unsubscribe(_ channels: [String] = []) throws {
        try locked {
            let leaving = channels.isEmpty ? self.channels : channels
            self.channels.removeAll { leaving.contains($0) }
            // A lost connection has no subscriptions left to cancel.
            guard context.isConnected, !leaving.isEmpty else { return }
            try send("UNSUBSCRIBE", leaving, confirmations: leaving.count)
        }
    }

    /// The next message, waiting up to `timeout`; `nil` if none arrived in time.
    public func nextMessage(timeout: Duration) throws -> RedisMessage? {
        try locked {
            if let message = dequeue() { return message }
            try resubscribeIfReconnecting()
            let deadline = ContinuousClock.now + timeout
            while true {
                while let reply = try context.bufferedReply(operation: "nextMessage") {
                    if let message = try message(in: reply) { return message }
                }
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero else { return nil }
                try context.receive(within: remaining, operation: "nextMessage")
            }
        }
    }

    /// Sends SUBSCRIBE or UNSUBSCRIBE and reads replies until `confirmations` arrived,
    /// queueing messages that come in between.
    private func send(_ verb: String, _ channels: [String], confirmations: Int) throws {
        let operation = verb.lowercased()
        try context.append([verb] + channels, operation: operation)
        var remaining = confirmations
        while remaining > 0 {
            let reply = try context.readReply(operation: operation)
            if let message = try message(in: reply) {
                queued.append(message)
            } else {
                remaining -= 1
            }
        }
    }

    /// The message a reply carries, `nil` for a (un)subscribe confirmation.
    private func message(in reply: RedisReply) throws -> RedisMessage? {
        guard let parts = reply.array, let kind = parts.first?.string else {
            throw RedisError(.protocolError, operation: "nextMessage", message: "unexpected reply in subscriber mode: \(reply)")
        }
        switch kind {
        case "message" where parts.count == 3:
            return RedisMessage(channel: parts[1].string ?? "", payload: parts[2].bytes ?? [])
        case "subscribe", "unsubscribe":
            return nil
        default:
            throw RedisError(.protocolError, operation: "nextMessage", message: "unexpected \(kind) reply in subscriber mode")
        }
    }

    private func resubscribeIfReconnecting() throws {
        guard !context.isConnected else { return }
        _ = try context.connected()
        if !channels.isEmpty { try send("SUBSCRIBE", channels, confirmations: channels.count) }
    }

    private func dequeue() -> RedisMessage? {
        guard queuedHead < queued.count else { return nil }
        let message = queued[queuedHead]
        queuedHead += 1
        if queuedHead == queued.count {
            queued.removeAll(keepingCapacity: true)
            queuedHead = 0
        }
        return message
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
