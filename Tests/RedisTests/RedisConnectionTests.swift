import Foundation
import Testing
import TickfoldTesting
@testable import Redis

/// A connection to the test server and a key prefix of its own; every key under the prefix
/// is deleted afterwards.
private func withPrefix<T>(_ body: (RedisConnection, String) throws -> T) throws -> T {
    let connection = try RedisConnection(url: try #require(TestServices.redis))
    let prefix = TestServices.uniqueName("redistest") + ":"
    defer {
        if let keys = try? connection.command("KEYS", prefix + "*").array, !keys.isEmpty {
            _ = try? connection.command(["DEL"] + keys.compactMap(\.bytes))
        }
    }
    return try body(connection, prefix)
}

@Suite("Redis URLs", .onTestThreads)
struct RedisURLTests {
    @Test("a full URL parses into its parts and prints without the password")
    func parses() throws {
        let url = try RedisURL("redis://user:p%40ss@[::1]:6380/3")
        #expect(url == RedisURL(host: "::1", port: 6380, database: 3, username: "user", password: "p@ss"))
        #expect(url.description == "redis://[::1]:6380/3")
        #expect(try RedisURL("redis://cache") == RedisURL(host: "cache"))
        #expect(try RedisURL("redis://127.0.0.1:7000/") == RedisURL(host: "127.0.0.1", port: 7000))
        #expect(try RedisURL("redis://:secret@h").password == "secret")
    }

    @Test("bad URLs are rejected with invalidURL naming the bad part", arguments: [
        "http://127.0.0.1:6379/0", "redis://", "redis://host:abc/0", "redis://host:99999",
        "redis://host:6379/-1", "redis://host:6379/zero", "redis://host/0?timeout=1", "redis://[::1/0",
        "127.0.0.1:6379",
    ])
    func rejects(_ text: String) throws {
        let error = try #require(throws: RedisError.self) { try RedisURL(text) }
        #expect(error.code == .invalidURL)
        let connectError = try #require(throws: RedisError.self) { try RedisConnection(url: text) }
        #expect(connectError.code == .invalidURL)
    }

    @Test("an invalid URL's error does not repeat its password")
    func hidesPassword() throws {
        let error = try #require(throws: RedisError.self) { try RedisURL("redis://:s3cret-pw@host:port/0") }
        #expect(error.message.contains("port"))
        #expect(!error.description.contains("s3cret-pw"))
    }
}

@Suite("Redis connection", .onTestThreads, .serialized, .enabled(if: TestServices.hasRedis), .timeLimit(.minutes(5)))
struct RedisConnectionTests {
    @Test("values and keys are binary safe: NUL, CR and LF survive SET and GET")
    func binarySafe() throws {
        try withPrefix { redis, prefix throws in
            let value: [UInt8] = [0x00, 0x0D, 0x0A, 0x24, 0x2A, 0xFF, 0x00] + Array("\r\n$-1\r\n".utf8)
            let key = Array((prefix + "bin\0key\r\n").utf8)
            #expect(try redis.command("SET", key, value) == .status("OK"))
            #expect(try redis.command("GET", key) == .bulk(value))
            #expect(try redis.command("STRLEN", key).integer == Int64(value.count))
            #expect(try redis.command("GET", prefix + "missing") == .null)
            #expect(try redis.command("SET", prefix + "empty", "") == .status("OK"))
            #expect(try redis.command("GET", prefix + "empty") == .bulk([]))
            #expect(try redis.command("INCRBY", prefix + "n", 41).integer == 41)
            #expect(try redis.command(["INCR", prefix + "n"]).integer == 42)
            #expect(try redis.command("MGET", prefix + "n", prefix + "missing") == .array([.bulk(Array("42".utf8)), .null]))
        }
    }

    @Test("a pipeline of 10k SETs then 10k GETs returns every reply in order")
    func pipelined() throws {
        try withPrefix { redis, prefix throws in
            let count = 10_000
            let started = ContinuousClock.now
            let sets = try redis.pipeline((0..<count).map { ["SET", prefix + "k\($0)", "value-\($0)"] })
            let gets = try redis.pipeline((0..<count).map { ["GET", prefix + "k\($0)"] })
            print("Redis: \(count) SETs + \(count) GETs pipelined in \(ContinuousClock.now - started)")
            #expect(sets.count == count)
            #expect(sets.allSatisfy { $0 == .status("OK") })
            #expect(gets.count == count)
            #expect(gets.enumerated().allSatisfy { $0.element.string == "value-\($0.offset)" })
            #expect(try redis.command("DBSIZE").integer ?? 0 >= Int64(count))
        }
    }

    @Test("an error reply inside a pipeline is a value and leaves the other replies intact")
    func errorInPipeline() throws {
        try withPrefix { redis, prefix throws in
            let replies = try redis.pipeline([
                ["SET", prefix + "a", "1"],
                ["LPUSH", prefix + "a", "x"],
                ["NO-SUCH-COMMAND", "x"],
                ["INCR", prefix + "a"],
                ["GET", prefix + "a"],
            ])
            #expect(replies.count == 5)
            #expect(replies[0] == .status("OK"))
            #expect(replies[1].errorMessage?.hasPrefix("WRONGTYPE") == true)
            #expect(replies[2].errorMessage?.contains("unknown command") == true)
            #expect(replies[3] == .integer(2))
            #expect(replies[4].string == "2")

            let single = try #require(throws: RedisError.self) { try redis.command("LPUSH", prefix + "a", "x") }
            #expect(single.code == .serverError)
            #expect(single.message.hasPrefix("WRONGTYPE"))
            #expect(try redis.command("PING") == .status("PONG"))
        }
    }

    @Test("EVAL runs a Lua script: a keyed write applies only with a newer seq")
    func eval() throws {
        let script = """
            local current = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
            if tonumber(ARGV[1]) > current then
              redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'value', ARGV[2])
              return 1
            end
            return 0
            """
        try withPrefix { redis, prefix throws in
            let key = prefix + "latest:AAPL"
            #expect(try redis.command("EVAL", script, 1, key, 5, "a").integer == 1)
            #expect(try redis.command("EVAL", script, 1, key, 3, "stale").integer == 0)
            #expect(try redis.command("EVAL", script, 1, key, 7, "b").integer == 1)
            #expect(try redis.command("HGET", key, "value").string == "b")
            let broken = try #require(throws: RedisError.self) { try redis.command("EVAL", "return redis.call('NOPE')", 0) }
            #expect(broken.code == .serverError)
        }
    }

    @Test("versions: hiredis 0.14 built in, server version read from INFO")
    func versions() throws {
        #expect(RedisConnection.hiredisVersion == "0.14.1")
        let redis = try RedisConnection(url: try #require(TestServices.redis))
        let version = try redis.serverVersion()
        #expect(version.split(separator: ".").count == 3)
        #expect(Int(version.split(separator: ".")[0]) ?? 0 >= 5)
    }
}

@Suite("Redis pub/sub", .onTestThreads, .serialized, .enabled(if: TestServices.hasRedis), .timeLimit(.minutes(5)))
struct RedisPubSubTests {
    @Test("published messages reach the subscriber; unsubscribed channels stop delivering")
    func roundTrip() throws {
        let url = try #require(TestServices.redis)
        let publisher = try RedisConnection(url: url)
        let subscriber = try RedisSubscriber(url: url)
        let first = TestServices.uniqueName("chan")
        let second = TestServices.uniqueName("chan")
        try subscriber.subscribe([first, second])
        #expect(subscriber.subscribedChannels == [first, second])

        let payload: [UInt8] = Array("{\"symbol\":\"AAPL\"}".utf8) + [0, 13, 10]
        #expect(try publisher.command("PUBLISH", first, payload).integer == 1)
        #expect(try publisher.command("PUBLISH", second, "two").integer == 1)
        #expect(try subscriber.nextMessage(timeout: .seconds(10)) == RedisMessage(channel: first, payload: payload))
        #expect(try subscriber.nextMessage(timeout: .seconds(10))?.text == "two")

        let started = ContinuousClock.now
        #expect(try subscriber.nextMessage(timeout: .milliseconds(150)) == nil)
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(140) && waited < .seconds(5))

        try subscriber.unsubscribe([first])
        #expect(subscriber.subscribedChannels == [second])
        #expect(try publisher.command("PUBLISH", first, "nobody").integer == 0)
        #expect(try publisher.command("PUBLISH", second, "still").integer == 1)
        #expect(try subscriber.nextMessage(timeout: .seconds(10))?.text == "still")

        try subscriber.unsubscribe()
        #expect(subscriber.subscribedChannels.isEmpty)
        #expect(try publisher.command("PUBLISH", second, "gone").integer == 0)
    }
}

@Suite("Redis failures", .onTestThreads, .serialized, .enabled(if: TestServices.hasRedis), .timeLimit(.minutes(5)))
struct RedisFailureTests {
    @Test("an unreachable port fails with connectionFailed naming host:port")
    func unreachable() throws {
        let port = try closedLocalPort()
        let error = try #require(throws: RedisError.self) {
            try RedisConnection(url: "redis://127.0.0.1:\(port)/0", timeout: .seconds(2))
        }
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("127.0.0.1:\(port)"))
        #expect(error.message.lowercased().contains("refused"))
        #expect(throws: RedisError.self) { try RedisSubscriber(url: "redis://127.0.0.1:\(port)") }
    }

    @Test("after CLIENT KILL the call fails with connectionLost and the next one reconnects to the same database")
    func reconnectAfterKill() throws {
        let base = try RedisURL(try #require(TestServices.redis))
        var url = base
        url.database = 3
        let victim = try RedisConnection(url)
        let killer = try RedisConnection(base)
        let key = TestServices.uniqueName("redistest:reconnect")
        defer { _ = try? victim.command("DEL", key) }
        try victim.command("SET", key, "in-db-3")
        let id = try #require(try victim.command("CLIENT", "ID").integer)
        #expect(try killer.command("CLIENT", "KILL", "ID", Int(id)).integer == 1)

        let lost = try #require(throws: RedisError.self) { try victim.command("PING") }
        #expect(lost.code == .connectionLost)
        #expect(lost.message.contains(base.endpoint))

        #expect(try victim.command("GET", key).string == "in-db-3", "SELECT 3 is repeated on reconnect")
        let secondID = try #require(try victim.command("CLIENT", "ID").integer)
        #expect(secondID != id)
        #expect(try killer.command("EXISTS", key).integer == 0, "the key lives in database 3, not 0")

        #expect(try killer.command("CLIENT", "KILL", "ID", Int(secondID)).integer == 1)
        let lostPipeline = try #require(throws: RedisError.self) {
            try victim.pipeline([["SET", key, "lost"], ["GET", key]])
        }
        #expect(lostPipeline.code == .connectionLost)
        #expect(try victim.pipeline([["GET", key]]) == [.bulk(Array("in-db-3".utf8))], "unsent commands are not replayed")
    }

    @Test("a killed subscriber throws connectionLost, then reconnects and resubscribes on the next call")
    func subscriberReconnects() throws {
        let url = try #require(TestServices.redis)
        let name = TestServices.uniqueName("subscriber")
        let subscriber = try RedisSubscriber(url: url, clientName: name)
        let publisher = try RedisConnection(url: url)
        let channel = TestServices.uniqueName("chan")
        try subscriber.subscribe([channel])

        let clients = try #require(try publisher.command("CLIENT", "LIST").string)
        let line = try #require(clients.split(separator: "\n").first { $0.contains(" name=\(name) ") })
        let id = try #require(line.split(separator: " ").first { $0.hasPrefix("id=") }?.dropFirst(3))
        #expect(try publisher.command("CLIENT", "KILL", "ID", id).integer == 1)

        let lost = try #require(throws: RedisError.self) { try subscriber.nextMessage(timeout: .seconds(10)) }
        #expect(lost.code == .connectionLost)
        #expect(try subscriber.nextMessage(timeout: .milliseconds(50)) == nil)
        #expect(try publisher.command("PUBLISH", channel, "after").integer == 1)
        #expect(try subscriber.nextMessage(timeout: .seconds(10))?.text == "after")
    }

    @Test("a read that outlasts the timeout fails with connectionLost, then the connection recovers")
    func timeout() throws {
        let redis = try RedisConnection(url: try #require(TestServices.redis), timeout: .milliseconds(300))
        let error = try #require(throws: RedisError.self) {
            try redis.command("BLPOP", TestServices.uniqueName("redistest:empty"), 3)
        }
        #expect(error.code == .connectionLost)
        #expect(try redis.command("PING") == .status("PONG"))
    }

    @Test("AUTH with a password the server does not expect is refused at connect")
    func refusedAuth() throws {
        var url = try RedisURL(try #require(TestServices.redis))
        url.password = "not-the-password"
        let error = try #require(throws: RedisError.self) { try RedisConnection(url) }
        // A refusal, not an unreachable server: callers that wait for a server do not retry it.
        #expect(error.code == .serverError)
        #expect(error.message.contains("AUTH"))
        #expect(!error.description.contains("not-the-password"))
    }

    @Test("SELECT of a database index the server does not have is refused at connect, as a refusal")
    func refusedDatabase() throws {
        var url = try RedisURL(try #require(TestServices.redis))
        url.database = 999
        let error = try #require(throws: RedisError.self) { try RedisConnection(url) }
        #expect(error.code == .serverError)
        #expect(error.message.contains("SELECT 999 was refused"))
    }
}
