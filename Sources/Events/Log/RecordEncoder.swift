import Dispatch
import Foundation
import Synchronization
import Zstd

/// An event id as four big-endian words: hashed and compared without per-byte work, and
/// ordered like the id bytes (so sorting by the first two words sorts index keys).
struct IDKey: Equatable, Sendable {
    let w0, w1, w2, w3: UInt64

    init(_ bytes: UnsafeRawBufferPointer) {
        w0 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// An `ids` database key (16 bytes): the prefix words, the rest zero.
    init(prefix bytes: UnsafeRawBufferPointer) {
        w0 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        (w2, w3) = (0, 0)
    }

    /// The `ids` database key: the first 16 id bytes.
    func withPrefix<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: (w0.bigEndian, w1.bigEndian), body)
    }

    /// The full 32 id bytes.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian), body)
    }
}

/// A run of consecutive records of one append call, encoded as stored blocks in one
/// contiguous buffer.
struct EncodedBatch: Sendable {
    /// Every block back to back; block `i` ends at byte `ends[i]`.
    var values: [UInt8] = []
    var ends: [Int] = []
    /// Block `i` holds the run's records from `recordEnds[i - 1]` (0 for the first) up to `recordEnds[i]`.
    var recordEnds: [Int] = []

    var count: Int { ends.count }

    func withValue<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let start = index == 0 ? 0 : ends[index - 1]
        return try values.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<ends[index]])) }
    }
}

/// One append call on its way to the writer: ids and sizes are known at once, the stored
/// blocks arrive part by part as the caller compresses them. The writer dedups and indexes
/// the call's ids while its records are still being compressed, and waits for a part only
/// when it stores that part's records.
final class PendingAppend: @unchecked Sendable {
    // Safe to share: `parts` is read and written only while holding `arrived`; the rest is immutable.

    let records: [LogRecord]
    let ids: [IDKey]
    /// Records per part; part `p` holds records `p * partSize ..< (p + 1) * partSize`.
    let partSize: Int
    private var parts: [Result<EncodedBatch, EventLogError>?]
    private let arrived = NSCondition()

    init(_ records: [LogRecord], partSize: Int) {
        self.records = records
        ids = records.map { $0.id.withUnsafeBytes { IDKey($0) } }
        self.partSize = partSize
        parts = Array(repeating: nil, count: (records.count + partSize - 1) / partSize)
    }

    var count: Int { ids.count }
    var partCount: Int { parts.count }

    func range(ofPart part: Int) -> Range<Int> { part * partSize..<min(count, (part + 1) * partSize) }

    /// Hands over part `part`; every part must be fulfilled exactly once, or the writer waits forever.
    func fulfill(_ part: Int, _ result: Result<EncodedBatch, EventLogError>) {
        arrived.lock()
        parts[part] = result
        arrived.broadcast()
        arrived.unlock()
    }

    /// Part `part`, waiting until it has been encoded.
    func part(_ part: Int) throws(EventLogError) -> EncodedBatch {
        arrived.lock()
        defer { arrived.unlock() }
        while parts[part] == nil { arrived.wait() }
        return try parts[part]!.get()
    }

    /// Why encoding a part failed, if one did (among the parts encoded so far).
    var encodingFailure: EventLogError? {
        arrived.lock()
        defer { arrived.unlock() }
        for case .failure(let error)? in parts { return error }
        return nil
    }
}

/// Encodes records into stored blocks with one zstd context; used by one thread at a time.
final class RecordEncoder: @unchecked Sendable {
    // Safe to send: an encoder is only used by the thread that took it from the pool,
    // until it gives it back.

    /// Most records per block. On 460-byte envelopes with a trained dictionary one frame per 64
    /// records compresses about twice and decompresses about three times as fast per record as
    /// one frame per record, and ~20 % smaller; 128 saves under 0.1 µs more per record and
    /// doubles what `event(at:)` decompresses (BENCHMARKS.md, "Event log").
    static let blockRecords = 64
    /// A block closes once its records' JSON reaches this size, so that large records do not
    /// make blocks that random reads must decompress whole at great cost.
    static let blockBytes = 64 << 10
    /// Without a dictionary, blocks with less JSON are stored raw: zstd's per-frame entropy
    /// tables cost more than they save on a few hundred bytes.
    static let minimumPlainCompressionSize = 1024

    let dictionary: ZstdDictionary?
    private let compressor: ZstdCompressor?
    private let format: LogFormat.RecordFormat
    /// A block's JSON gathered into one input for the compressor; reused.
    private var joined: [UInt8] = []

    init(level: Int?, dictionary: ZstdDictionary?) throws {
        self.dictionary = dictionary
        self.compressor = try level.map { try ZstdCompressor(level: $0, dictionary: dictionary, checksum: true) }
        self.format = dictionary == nil ? .zstdBlock : .zstdDictionaryBlock
    }

    /// Encodes `records` into blocks of up to `blockRecords` records (and about `blockBytes`
    /// of JSON), in one buffer sized for the worst case up front, so that no block costs a
    /// reallocation, a zero fill or a trim.
    func encode(_ records: ArraySlice<LogRecord>) throws -> EncodedBatch {
        var recordEnds: [Int] = []
        recordEnds.reserveCapacity(records.count / Self.blockRecords + 1)
        var capacity = 0
        var start = records.startIndex
        while start < records.endIndex {
            var end = start
            var bytes = 0
            while end < records.endIndex && end - start < Self.blockRecords && bytes < Self.blockBytes {
                bytes += records[end].canonicalJSON.count
                end += 1
            }
            recordEnds.append(end - records.startIndex)
            capacity += LogFormat.blockHeaderSize + (end - start) * LogFormat.blockEntrySize + Zstd.compressBound(bytes)
            start = end
        }
        var ends: [Int] = []
        ends.reserveCapacity(recordEnds.count)
        let values = try [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            let output = UnsafeMutableRawBufferPointer(buffer)
            var start = records.startIndex
            for end in recordEnds {
                let block = records[start..<records.startIndex + end]
                initialized += try encode(block, into: UnsafeMutableRawBufferPointer(rebasing: output[initialized...]))
                ends.append(initialized)
                start = block.endIndex
            }
        }
        return EncodedBatch(values: values, ends: ends, recordEnds: recordEnds)
    }

    /// Writes the block of `records` at the start of `output` (room for its header, ids,
    /// lengths and `Zstd.compressBound` of its JSON) and returns its size.
    private func encode(_ records: ArraySlice<LogRecord>, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        output.storeBytes(of: UInt16(records.count).bigEndian, toByteOffset: 1, as: UInt16.self)
        var idAt = LogFormat.blockHeaderSize
        var lengthAt = LogFormat.blockHeaderSize + records.count * LogFormat.idSize
        var size = 0
        for record in records {
            record.id.withUnsafeBytes { id in
                UnsafeMutableRawBufferPointer(rebasing: output[idAt..<idAt + LogFormat.idSize]).copyMemory(from: id)
            }
            output.storeBytes(of: UInt32(record.canonicalJSON.count).bigEndian, toByteOffset: lengthAt, as: UInt32.self)
            idAt += LogFormat.idSize
            lengthAt += 4
            size += record.canonicalJSON.count
        }
        let payload = UnsafeMutableRawBufferPointer(rebasing: output[lengthAt...])
        if let compressor, dictionary != nil || size >= Self.minimumPlainCompressionSize {
            joined.removeAll(keepingCapacity: true)
            for record in records { joined.append(contentsOf: record.canonicalJSON) }
            let compressed = try joined.withUnsafeBytes { try compressor.compress($0, into: payload) }
            if compressed < size {
                output[0] = format.rawValue
                return lengthAt + compressed
            }
        }
        output[0] = LogFormat.RecordFormat.rawBlock.rawValue
        var at = 0
        for record in records {
            record.canonicalJSON.withUnsafeBytes { json in
                UnsafeMutableRawBufferPointer(rebasing: payload[at..<at + json.count]).copyMemory(from: json)
            }
            at += record.canonicalJSON.count
        }
        return lengthAt + size
    }
}

/// Idle encoders for the current dictionary, so appends never create zstd contexts on the
/// hot path; switching dictionaries drops the old ones.
final class EncoderPool: Sendable {
    private struct State {
        var dictionary: ZstdDictionary?
        var idle: [RecordEncoder] = []
    }

    private let level: Int?
    private let state: Mutex<State>

    init(level: Int?, dictionary: ZstdDictionary?) {
        self.level = level
        self.state = Mutex(State(dictionary: dictionary))
    }

    /// The dictionary new records are compressed with.
    var dictionary: ZstdDictionary? { state.withLock { $0.dictionary } }

    /// Compresses every later record with `dictionary`.
    func use(_ dictionary: ZstdDictionary) {
        state.withLock { state in
            state.dictionary = dictionary
            state.idle.removeAll()
        }
    }

    /// Records per part when a large call is encoded on several threads: small enough that the
    /// writer stores the first parts while later ones are still being compressed, and that the
    /// cores finish the last parts together; a multiple of `RecordEncoder.blockRecords`, so that
    /// only a call's last part ends in a short block.
    static let partSize = 1_024

    /// Encodes every part of `pending` on the calling thread, spreading large calls over all cores.
    func encodeBlocking(_ records: [LogRecord], into pending: PendingAppend) {
        guard pending.partCount > 1 else { return pending.fulfill(0, encodeResult(records[...])) }
        DispatchQueue.concurrentPerform(iterations: pending.partCount) { part in
            pending.fulfill(part, encodeResult(records[pending.range(ofPart: part)]))
        }
    }

    /// Encodes every part of `pending` from async code, spreading large calls over the cooperative pool.
    func encode(_ records: [LogRecord], into pending: PendingAppend) async {
        guard pending.partCount > 1 else { return pending.fulfill(0, encodeResult(records[...])) }
        await withTaskGroup(of: Void.self) { group in
            for part in 0..<pending.partCount {
                group.addTask { pending.fulfill(part, self.encodeResult(records[pending.range(ofPart: part)])) }
            }
        }
    }

    private func encodeResult(_ records: ArraySlice<LogRecord>) -> Result<EncodedBatch, EventLogError> {
        Result { try encode(records) }.mapError { EventLogError.wrap($0, operation: "compress records") }
    }

    /// Encodes `records` into blocks on the calling thread.
    func encode(_ records: ArraySlice<LogRecord>) throws -> EncodedBatch {
        let (encoder, dictionary) = state.withLock { state in (state.idle.popLast(), state.dictionary) }
        let used = try encoder ?? RecordEncoder(level: level, dictionary: dictionary)
        defer {
            state.withLock { state in
                if used.dictionary === state.dictionary && state.idle.count < 8 { state.idle.append(used) }
            }
        }
        do {
            return try used.encode(records)
        } catch let error as ZstdError {
            throw EventLogError(.storage, operation: "compress records", message: error.message, underlying: error)
        }
    }
}

/// A hash table from ids to values: a write transaction's dedup and the ids the index does
/// not cover yet. Open addressing over an id word mixed with a per-process secret, far cheaper
/// than SipHashing every id (ids are SHA-256 digests, so their words are already uniform).
struct IDTable<Value: Sendable>: Sendable {
    private static var seed: UInt64 { idTableSeed }

    /// Per slot: 0 when empty, else a 32-bit fingerprint of the key above the entry index + 1,
    /// so that a probe for an absent key mostly reads the slot alone, not the key it names.
    private var slots: [UInt64]
    /// The keys and values in insertion order.
    private(set) var keys: [IDKey] = []
    private(set) var values: [Value] = []
    private var shift: UInt64

    init(capacity: Int) {
        var size = 16
        var bits: UInt64 = 4
        while size < 2 * capacity + 2 {
            size <<= 1
            bits += 1
        }
        slots = [UInt64](repeating: 0, count: size)
        shift = 64 - bits
        keys.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
    }

    var count: Int { keys.count }

    subscript(key: IDKey) -> Value? {
        let print = Self.fingerprint(key)
        var slot = index(key)
        while true {
            let entry = slots[slot]
            if entry == 0 { return nil }
            if entry >> 32 == print, keys[Int(entry & 0xFFFF_FFFF) - 1] == key { return values[Int(entry & 0xFFFF_FFFF) - 1] }
            slot = (slot + 1) & (slots.count - 1)
        }
    }

    /// Stores `value` under `key` unless present; returns the value already there, if any.
    /// The table doubles whenever it would become more than half full.
    mutating func insert(_ key: IDKey, _ value: Value) -> Value? {
        if 2 * (keys.count + 1) > slots.count { rehash(slotCount: 2 * slots.count) }
        let print = Self.fingerprint(key)
        var slot = index(key)
        while true {
            let entry = slots[slot]
            if entry == 0 {
                slots[slot] = print << 32 | UInt64(keys.count + 1)
                keys.append(key)
                values.append(value)
                return nil
            }
            if entry >> 32 == print, keys[Int(entry & 0xFFFF_FFFF) - 1] == key { return values[Int(entry & 0xFFFF_FFFF) - 1] }
            slot = (slot + 1) & (slots.count - 1)
        }
    }

    private mutating func rehash(slotCount: Int) {
        precondition(keys.count < Int(UInt32.max), "IDTable cannot hold more ids")
        slots = [UInt64](repeating: 0, count: slotCount)
        shift = UInt64(64 - slotCount.trailingZeroBitCount)
        for (entry, key) in keys.enumerated() {
            var slot = index(key)
            while slots[slot] != 0 { slot = (slot + 1) & (slotCount - 1) }
            slots[slot] = Self.fingerprint(key) << 32 | UInt64(entry + 1)
        }
    }

    @inline(__always)
    private func index(_ key: IDKey) -> Int {
        Int(truncatingIfNeeded: ((key.w2 ^ Self.seed) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    @inline(__always)
    private static func fingerprint(_ key: IDKey) -> UInt64 { key.w3 >> 32 }
}

private let idTableSeed = UInt64.random(in: .min ... .max)
