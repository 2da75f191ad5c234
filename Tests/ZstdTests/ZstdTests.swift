import Events
import Testing
import Zstd

@Suite("zstd")
struct ZstdTests {
    /// Small JSON records shaped like event envelopes: shared keys, varying values.
    static func jsonRecords(_ count: Int, seed: UInt64 = 1) -> [[UInt8]] {
        var rng = SplitMix64(seed: seed)
        let symbols = ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOG", "META", "BTC", "ETH"]
        return (0..<count).map { i in
            let s = symbols[Int(rng.next() % UInt64(symbols.count))]
            let close = Double(rng.next() % 100_000) / 100
            let json = #"{"id":"\#(String(rng.next(), radix: 16))\#(String(rng.next(), radix: 16))","observedAt":"2026-11-23T08:\#(i % 60):00.000Z","occurredAt":"2026-11-2\#(i % 10)T00:00:00.000Z","payload":{"close":"\#(close)","high":"\#(close + 1)","low":"\#(close - 1)","open":"\#(close)","volume":"\#(rng.next() % 9_000_000)"},"source":"yahoo","subject":"\#(s)","type":"bar.daily","version":1}"#
            return Array(json.utf8)
        }
    }

    @Test("random and JSON-like data round-trip without a dictionary")
    func roundTrip() throws {
        let compressor = try ZstdCompressor(level: 3)
        let decompressor = try ZstdDecompressor()
        var rng = SplitMix64(seed: 7)
        let random = (0..<10_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for input in [random, [], [42]] + Self.jsonRecords(50) {
            let frame = try compressor.compress(input)
            #expect(try decompressor.decompress(frame) == input)
        }
        let json = Self.jsonRecords(1)[0]
        #expect(try compressor.compress(json).count < json.count)
        #expect(Zstd.versionString.hasPrefix("1."))
    }

    @Test("a trained dictionary round-trips and measurably improves the ratio on small JSON records")
    func dictionary() throws {
        let training = Self.jsonRecords(2000, seed: 1)
        let samples = Self.jsonRecords(500, seed: 2)
        let dictionary = try ZstdDictionary(bytes: Zstd.trainDictionary(samples: training, capacity: 8 * 1024), compressionLevel: 3)
        let plain = try ZstdCompressor(level: 3)
        let withDictionary = try ZstdCompressor(dictionary: dictionary, checksum: true)
        let decompressor = try ZstdDecompressor(dictionary: dictionary)
        var raw = 0, plainSize = 0, dictionarySize = 0
        var output: [UInt8] = []
        for sample in samples {
            let frame = try withDictionary.compress(sample)
            #expect(frame.withUnsafeBytes { Zstd.dictionaryID(ofFrame: $0) } == dictionary.id)
            try frame.withUnsafeBytes { try decompressor.decompress($0, into: &output) }
            #expect(output == sample)
            raw += sample.count
            plainSize += try plain.compress(sample).count
            dictionarySize += frame.count
        }
        let plainRatio = Double(raw) / Double(plainSize)
        let dictionaryRatio = Double(raw) / Double(dictionarySize)
        #expect(dictionaryRatio > plainRatio * 1.5, "plain \(plainRatio), dictionary \(dictionaryRatio)")
    }

    @Test("corrupted frames, a wrong or missing dictionary and size limits give precise errors")
    func errors() throws {
        let training = Self.jsonRecords(2000, seed: 3)
        let a = try ZstdDictionary(bytes: Zstd.trainDictionary(samples: training, capacity: 4096))
        let b = try ZstdDictionary(bytes: Zstd.trainDictionary(samples: Self.jsonRecords(2000, seed: 4), capacity: 2048))
        #expect(a.id != b.id)
        let record = Self.jsonRecords(1, seed: 5)[0]
        let frame = try ZstdCompressor(dictionary: a, checksum: true).compress(record)

        let wrong = #expect(throws: ZstdError.self) { try ZstdDecompressor(dictionary: b).decompress(frame) }
        #expect(wrong?.code == .wrongDictionary)
        #expect(wrong?.description.contains("dictionary \(a.id)") == true)
        let missing = #expect(throws: ZstdError.self) { try ZstdDecompressor().decompress(frame) }
        #expect(missing?.code == .wrongDictionary)

        var damaged = frame
        damaged[damaged.count / 2] ^= 0xFF
        damaged[damaged.count / 2 + 1] ^= 0x5A
        let corrupted = #expect(throws: ZstdError.self) { try ZstdDecompressor(dictionary: a).decompress(damaged) }
        #expect(corrupted?.code == .corruptedFrame || corrupted?.code == .checksumMismatch)

        let notAFrame = #expect(throws: ZstdError.self) { try ZstdDecompressor().decompress(Array("hello world".utf8)) }
        #expect(notAFrame?.code == .corruptedFrame)
        let truncated = #expect(throws: ZstdError.self) { try ZstdDecompressor(dictionary: a).decompress(Array(frame.prefix(frame.count - 6))) }
        #expect(truncated?.code == .corruptedFrame)

        let big = try ZstdCompressor().compress([UInt8](repeating: 1, count: 1 << 20))
        let limited = #expect(throws: ZstdError.self) { try ZstdDecompressor(maximumOutputSize: 1 << 16).decompress(big) }
        #expect(limited?.code == .sizeLimit)

        let notADictionary = #expect(throws: ZstdError.self) { _ = try ZstdDictionary(bytes: Array("plain text".utf8)) }
        #expect(notADictionary?.code == .invalidDictionary)
        let tooFew = #expect(throws: ZstdError.self) { _ = try Zstd.trainDictionary(samples: [[1, 2, 3]], capacity: 4096) }
        #expect(tooFew?.code == .trainingFailed)
    }

    @Test("a frame says whether it carries a content checksum; other bytes do not")
    func contentChecksumFlag() throws {
        let record = Array(#"{"id":"x","payload":{"close":"603.55"}}"#.utf8)
        for checksum in [true, false] {
            let frame = try ZstdCompressor(level: 1, checksum: checksum).compress(record)
            #expect(frame.withUnsafeBytes { Zstd.hasContentChecksum(frame: $0) } == checksum)
        }
        for bytes: [UInt8] in [[], [0x28, 0xb5, 0x2f, 0xfd], record, [0x28, 0xb5, 0x2f, 0xfe, 0x04]] {
            #expect(!bytes.withUnsafeBytes { Zstd.hasContentChecksum(frame: $0) })
        }
    }
}
