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

    @Test("an event id argument sends the same 64 hex digits as EventID.hex")
    func hexArgument() {
        let bytes = HexArgument(Self.id).withRedisBytes { Array($0) }
        #expect(String(decoding: bytes, as: UTF8.self) == Self.id.hex)
        #expect(bytes.count == 64)
    }
}
