import Events
@testable import Projections
import Testing
import TickfoldTesting

@Suite("sink encodings", .onTestThreads)
struct SinkEncodingTests {
    static let id = EventID(hex: "00ff10ab" + String(repeating: "5a", count: 28))!

    @Test("a COPY row tail is tab, seq in decimal, tab, the id in lowercase hex", arguments: [UInt64(0), 7, 10, 1_234_567_890_123, .max])
    func copyTail(seq: UInt64) {
        var buffer = [UInt8](repeating: 0, count: 86)
        let length = PostgresSink.writeTail(seq: seq, id: Self.id, into: &buffer)
        #expect(String(decoding: buffer[..<length], as: UTF8.self) == "\t\(seq)\t\(Self.id.hex)")
    }

    @Test("parameter arrays quote every element, escape quotes and backslashes, and send NULL bare")
    func columnArrays() {
        let rows = [
            RowUpsert(table: "t", values: ["a\"b", nil], seq: 7, eventID: Self.id),
            RowUpsert(table: "t", values: ["c\\d", "NULL"], seq: 12, eventID: Self.id),
            RowUpsert(table: "t", values: ["skipped", "x"], seq: 1, eventID: Self.id),
        ]
        let arrays = PostgresSink.columnArrays(rows: rows, indices: [1, 0], columns: 2)
        #expect(arrays == ["{\"c\\\\d\",\"a\\\"b\"}", "{\"NULL\",NULL}", "{12,7}", "{\(Self.id.hex),\(Self.id.hex)}"])
    }

    @Test("the parameter-array merge casts each column to its type and keeps the merge's conflict rule")
    func arrayMergeStatement() throws {
        let types = ["symbol": "text", "timestamp_ms": "bigint", "price": "numeric", "size": "numeric", "conditions": "text[]", "seq": "bigint", "event_id": "text"]
        let statement = try TableStatements(CollectedTables.trades, schema: "\"s\"", types: types)
        let sql = try #require(statement.arrayMerge)
        #expect(sql.contains(#"FROM (SELECT u."symbol"::text AS "symbol", u."timestamp_ms"::bigint AS "timestamp_ms", u."price"::numeric AS "price""#))
        #expect(sql.contains(#"u."conditions"::text[] AS "conditions""#))
        #expect(sql.contains(#"FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])"#))
        #expect(sql.hasSuffix(statement.merge[statement.merge.range(of: " ORDER BY")!.lowerBound...]))
        var partial = types
        partial["conditions"] = nil
        #expect(try TableStatements(CollectedTables.trades, schema: "\"s\"", types: partial).arrayMerge == nil)
    }

    @Test("a prefixed key sends prefix and name back to back; a decimal argument sends the digits", arguments: [UInt64(0), 7, 10, 1_234_567_890_123, .max])
    func keyAndSeqArguments(seq: UInt64) {
        #expect(PrefixedKey(prefix: KeyPrefix("ns:é:"), key: "latest:crypto:KRW-BTC").withRedisBytes { Array($0) } == Array("ns:é:latest:crypto:KRW-BTC".utf8))
        #expect(PrefixedKey(prefix: KeyPrefix(""), key: "k").withRedisBytes { Array($0) } == Array("k".utf8))
        #expect(DecimalArgument(seq).withRedisBytes { Array($0) } == Array(String(seq).utf8))
    }

    @Test("a batch keeps each key's highest seq (the first of equal ones), in batch order")
    func newestPerKey() {
        func write(_ key: String, _ seq: UInt64) -> KeyWrite { KeyWrite(key: key, fields: [], seq: seq, eventID: Self.id) }
        #expect(RedisSink.newestPerKey([]) == [])
        #expect(RedisSink.newestPerKey([write("a", 1)]) == [0])
        #expect(RedisSink.newestPerKey([write("a", 1), write("b", 2), write("c", 3)]) == [0, 1, 2])
        let batch = [write("a", 5), write("b", 2), write("a", 7), write("c", 1), write("b", 2), write("a", 6), write("b", 1)]
        #expect(RedisSink.newestPerKey(batch) == [1, 2, 3])
        // Many keys colliding in a small table still resolve by key, not by slot.
        let many = (0..<5000).map { write("latest:crypto:K\($0 % 1234)", UInt64($0)) }
        let kept = RedisSink.newestPerKey(many)
        #expect(kept == Array(5000 - 1234..<5000))
    }

    @Test("a latest:* value is canonical JSON whose guard members come first, the seq at the offset the key script reads")
    func latestValue() throws {
        let fields = [
            RedisField("volume", "12.5"), RedisField("price", "1.10"), RedisField("timestamp", integer: 1_741_982_400_000),
            RedisField("symbol", "Q\"\u{1}é\u{10437}"), RedisField("zz", integer: -9_007_199_254_740_991),
        ]
        let value = RedisLayout.value(fields: fields, seq: 9_007_199_254_740_991, eventID: Self.id)
        #expect(try CanonicalJSON.canonicalize(value) == value)
        let object = try #require(try JSONValue.parse(value).objectValue)
        #expect(object.keys == ["_event_id", "_seq", "price", "symbol", "timestamp", "volume", "zz"])
        #expect(object["_event_id"] == .string(Self.id.hex))
        #expect(object["_seq"] == .number(9_007_199_254_740_991))
        #expect(object["symbol"] == "Q\"\u{1}é\u{10437}" && object["price"] == "1.10" && object["timestamp"] == 1_741_982_400_000)
        let text = String(decoding: value, as: UTF8.self)
        #expect(text.hasPrefix(#"{"_event_id":"\#(Self.id.hex)","_seq":9007199254740991,"price""#))
        #expect(Array(value[(RedisLayout.seqOffset - 1)...].prefix(16)) == Array("9007199254740991".utf8))
        // The fold's order (already sorted) and any other order give the same bytes.
        #expect(RedisLayout.value(fields: fields.sorted { $0.name < $1.name }, seq: 9_007_199_254_740_991, eventID: Self.id) == value)
        #expect(KeyWrite(key: "k", fields: fields.reversed(), seq: 9_007_199_254_740_991, eventID: Self.id).value == value)
        #expect(String(decoding: RedisLayout.value(fields: [], seq: 1, eventID: Self.id), as: UTF8.self) == #"{"_event_id":"\#(Self.id.hex)","_seq":1}"#)
    }

    @Test("a batch's rows collapse to one per key: the highest seq, the later row on equal seqs, in first-seen key order")
    func collapse() {
        func row(_ key: String?, _ second: String?, seq: UInt64, value: String) -> RowUpsert {
            RowUpsert(table: "t", values: [key, second, value], seq: seq, eventID: Self.id)
        }
        let rows = [
            row("a", "1", seq: 5, value: "a5"),
            row("b", "1", seq: 3, value: "b3"),
            row("a", "1", seq: 9, value: "a9"),
            row("a", "1", seq: 7, value: "a7"),
            row("b", "1", seq: 3, value: "b3 again"),
            row("a", nil, seq: 1, value: "a-null"),
            row("a", "", seq: 2, value: "a-empty"),
            row("a", "1", seq: 1, value: "skipped: not in indices"),
        ]
        let collapsed = CollapsedRows(rows, indices: Array(0..<7), keyCount: 2)
        #expect(collapsed.indices.map { rows[$0].values[2] } == ["a9", "b3 again", "a-null", "a-empty"])
        #expect(collapsed.hashes == collapsed.indices.map { CollapsedRows.keyHash(rows[$0].values, keyCount: 2) })
        #expect(Set(collapsed.hashes).count == 4, "NULL, the empty string and \"1\" are different keys")
        #expect(CollapsedRows(rows, indices: [], keyCount: 2).indices.isEmpty)
        #expect(CollapsedRows(rows, indices: [3, 0], keyCount: 1).indices == [3], "one key column: a7 beats a5")
    }

    @Test("a large batch collapses like a dictionary of the highest seq per key")
    func collapseMany() {
        var generator = SystemRandomNumberGenerator()
        let rows = (0..<20_000).map { index in
            RowUpsert(table: "t", values: ["K\(Int.random(in: 0..<3_000, using: &generator))", index % 3 == 0 ? nil : "d\(index % 2)", "v\(index)"],
                      seq: UInt64.random(in: 1...50_000, using: &generator), eventID: Self.id)
        }
        var best: [[String?]: Int] = [:]
        for (index, row) in rows.enumerated() {
            let key = Array(row.values[..<2])
            if let kept = best[key], rows[kept].seq > row.seq { continue }
            best[key] = index
        }
        let collapsed = CollapsedRows(rows, indices: Array(rows.indices), keyCount: 2)
        #expect(collapsed.indices.count == best.count)
        #expect(Set(collapsed.indices) == Set(best.values))
    }

    @Test("grouping by key sorts text key columns bytewise (COLLATE \"C\"), other types as they are")
    func groupingCollation() throws {
        let types = ["ticker": "text", "trade_date": "date"]
        let statement = try TableStatements(CollectedTables.dailyBars, schema: "\"s\"", types: types)
        #expect(statement.merge.contains(#"SELECT DISTINCT ON ("ticker" COLLATE "C", "trade_date")"#))
        #expect(statement.merge.contains(#"ORDER BY "ticker" COLLATE "C", "trade_date", seq DESC"#))
        #expect(statement.merge.contains(#"ON CONFLICT ("ticker", "trade_date")"#))
        let highest = #"SELECT "ticker" COLLATE "C" AS k0, "trade_date" AS k1, max(seq) AS seq FROM "s"."collected_daily_bars" GROUP BY 1, 2"#
        let sameKey = #"t."ticker" COLLATE "C" = w.k0 AND t."trade_date" = w.k1"#
        #expect(statement.highestSeqRows == #"SELECT t.* FROM "s"."collected_daily_bars" t JOIN ("# + highest + ") w ON " + sameKey + " AND t.seq = w.seq")
        #expect(statement.lowerSeqRows == #"DELETE FROM "s"."collected_daily_bars" t USING ("# + highest + " HAVING count(*) > 1) w WHERE " + sameKey + " AND t.seq < w.seq")
        #expect(statement.repeatedRows.contains(#"PARTITION BY "ticker" COLLATE "C", "trade_date" ORDER BY seq DESC"#))
        let untyped = try TableStatements(CollectedTables.dailyBars, schema: "\"s\"")
        #expect(untyped.merge.contains(#"SELECT DISTINCT ON ("ticker", "trade_date")"#))
    }
}
