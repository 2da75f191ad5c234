import Crypto
import Events
import Foundation
import Testing

@Suite("make v1 fixture")
struct MakeV1Fixture {
    @Test("write", .enabled(if: ProcessInfo.processInfo.environment["TICKFOLD_WRITE_V1_FIXTURE"] != nil))
    func write() throws {
        let path = ProcessInfo.processInfo.environment["TICKFOLD_WRITE_V1_FIXTURE"]!
        var samples = EventSamples(seed: 0x5eed_0001)
        let events = try samples.events(300)
        let sizes = try events.map { try $0.canonicalBytes().count }
        print("sizes min \(sizes.min()!) max \(sizes.max()!) avg \(sizes.reduce(0, +) / sizes.count) over1k \(sizes.filter { $0 >= 1024 }.count)")
        let log = try EventLog(directory: path, options: EventLogOptions(dictionaryTrainingThreshold: nil))
        var at = 0
        for size in [1, 49, 100] {
            _ = try log.appendBlocking(events: Array(events[at..<at + size]))
            at += size
        }
        // Duplicates inside and across calls.
        _ = try log.appendBlocking(events: [events[3], events[3]])
        let dictionary = try log.trainDictionary(sampleCount: 150, capacity: 4 << 10)
        print("dictionary \(dictionary)")
        for size in [1, 99, 50] {
            _ = try log.appendBlocking(events: Array(events[at..<at + size] + [events[0]]))
            at += size
        }
        try log.setCheckpointBlocking(named: "relay", seq: 123)
        #expect(try log.verify().isEmpty)
        var hasher = SHA256()
        try log.forEach(from: 1) { event in
            withUnsafeBytes(of: event.seq.bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(bufferPointer: event.idBytes)
            withUnsafeBytes(of: UInt64(event.canonicalJSON.count).bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(bufferPointer: event.canonicalJSON)
        }
        print("digest \(hasher.finalize().map { String(format: "%02x", $0) }.joined()) count \(try log.count()) stats \(try log.stats())")
        log.close()
    }
}
