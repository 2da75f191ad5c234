import Events
@testable import Projections
import Testing

@Suite("sink encodings")
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

    @Test("an event id argument sends the same 64 hex digits as EventID.hex")
    func hexArgument() {
        let bytes = HexArgument(Self.id).withRedisBytes { Array($0) }
        #expect(String(decoding: bytes, as: UTF8.self) == Self.id.hex)
        #expect(bytes.count == 64)
    }
}
