import Events
import Foundation
import Postgres
import Redis

/// The consumer pattern of the system Tickfold replaces (SPEC §9, seeds' "이중 저장소 공통
/// 패턴"): for every message, decode it, one autocommit `INSERT … ON CONFLICT DO NOTHING`
/// with bound parameters, then two Redis `SET … EX` (the seed's `realtime:*:{timestamp}` and
/// `latest:*` JSON strings with its 5-day TTL), each its own round trip, nothing batched.
/// Run on the rebuild's own daily bars, so `vs_seed_ratio` compares the same events.
struct BenchSeedPattern {
    let scratch: BenchScratch
    let tickers: Int

    /// Messages per second through the seed's pattern, over the first `count` bars.
    func messagesPerSecond(count: Int) throws -> Double {
        let tickers = self.tickers
        let messages = try BenchEvents.parallel(0..<count) { try BenchEvents.dailyBar($0, tickers: tickers, revision: 0) }
            .map { try $0.canonicalBytes(includingSeq: false) }
        let table = "\(scratch.schema).seed_pattern_bars"
        try scratch.admin.execute("""
            CREATE TABLE \(table) (symbol text, date date, open numeric, high numeric, low numeric, close numeric,
                                   adj_close numeric, volume bigint, PRIMARY KEY (symbol, date))
            """)
        let postgres = try PostgresConnection(scratch.conninfo)
        let redis = try RedisConnection(url: scratch.redisURL)
        let insert = "INSERT INTO \(table) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"
        var decoder = EventDecoder()
        let elapsed = try ContinuousClock().measure {
            for message in messages {
                let event = try decoder.decode(message, verification: .trustStored)
                let bar = try event.payload(as: DailyBar.self)
                _ = try postgres.query(insert, [
                    event.subject, bar.date.description, bar.open.description, bar.high.description, bar.low.description,
                    bar.close.description, bar.adjClose?.description, String(bar.volume),
                ])
                let value = #"{"symbol":"\#(event.subject)","date":"\#(bar.date)","close":"\#(bar.close)","volume":\#(bar.volume),"source":"yahoo"}"#
                try Self.expectOK(redis.command("SET", scratch.namespace + "seed:realtime:\(event.subject):\(bar.date)", value, "EX", "432000"))
                try Self.expectOK(redis.command("SET", scratch.namespace + "seed:latest:\(event.subject)", value, "EX", "432000"))
            }
        }
        let stored = try scratch.admin.query("SELECT count(*) FROM \(table)").value(0, 0)
        guard stored == String(count) else { throw CLIError("the seed pattern stored \(stored ?? "no") rows for \(count) messages") }
        return Double(count) / elapsed.seconds
    }

    private static func expectOK(_ reply: RedisReply) throws {
        if let message = reply.errorMessage { throw CLIError("Redis refused a SET of the seed pattern: \(message)") }
    }
}
