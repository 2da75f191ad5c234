import Testing
@testable import Events
import TickfoldTesting

@Suite("Decoder robustness", .onTestThreads)
struct DecoderRobustnessTests {
    @Test("Truncated and mutated canonical envelopes either decode or throw, never crash")
    func mutations() throws {
        var samples = EventSamples(seed: 2024)
        let events = try samples.events(EventSamples.kinds * 4)
        var rng = SplitMix64(seed: 5)
        var decoder = EventDecoder()
        var decodedCount = 0
        var rejected = 0
        let interesting: [UInt8] = Array("{}[]\",:\\0123456789.eE-+tfnu ".utf8) + [0x00, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xed, 0xf4, 0xff]
        for event in events {
            let original = try event.canonicalBytes(includingSeq: true)
            var variants: [[UInt8]] = []
            for cut in stride(from: 0, to: original.count, by: max(1, original.count / 12)) {
                variants.append(Array(original[..<cut]))
            }
            for _ in 0..<40 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    let index = Int.random(in: 0..<bytes.count, using: &rng)
                    switch Int.random(in: 0...3, using: &rng) {
                    case 0: bytes[index] = interesting[Int.random(in: 0..<interesting.count, using: &rng)]
                    case 1: bytes[index] ^= UInt8(1 << Int.random(in: 0...7, using: &rng))
                    case 2: bytes.remove(at: index)
                    default: bytes.insert(interesting[Int.random(in: 0..<interesting.count, using: &rng)], at: index)
                    }
                    if bytes.isEmpty { break }
                }
                variants.append(bytes)
            }
            for bytes in variants {
                do {
                    let decoded = try decoder.decode(bytes)
                    decodedCount += 1
                    // Anything accepted must be a consistent event.
                    #expect(try Event.decode(try decoded.canonicalBytes()).id == decoded.id)
                } catch {
                    rejected += 1
                }
            }
        }
        #expect(rejected + decodedCount > 3000)
        #expect(rejected > decodedCount)
    }

    @Test("Random bytes and JSON-ish noise never crash the parser")
    func noise() {
        var rng = SplitMix64(seed: 77)
        let alphabet: [UInt8] = Array("{}[]\",:\\0123456789.eE-+ truefalsnul".utf8) + [0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0]
        for _ in 0..<3000 {
            let length = Int.random(in: 0...64, using: &rng)
            let bytes = (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
            _ = try? JSONValue.parse(bytes)
            _ = try? Event.decode(bytes)
        }
    }
}
