import Dispatch
import Foundation
import Synchronization
import Zstd

/// An event id as four big-endian words: hashed and compared without per-byte work, and
/// ordered like the id bytes (so sorting by the first two words sorts index keys).
struct IDKey: Equatable {
    let w0, w1, w2, w3: UInt64

    init(_ bytes: UnsafeRawBufferPointer) {
        w0 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
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

/// A run of consecutive records of one append call, encoded as stored values (format byte,
/// id, payload) in one contiguous buffer.
struct EncodedBatch: Sendable {
    /// Every stored value back to back; value `i` ends at `ends[i]`.
    var values: [UInt8] = []
    var ends: [Int] = []

    var count: Int { ends.count }

    func withValue<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let start = index == 0 ? 0 : ends[index - 1]
        return try values.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<ends[index]])) }
    }
}

/// One append call on its way to the writer: ids and sizes are known at once, the stored
/// values arrive part by part as the caller compresses them. The writer dedups and indexes
/// the call's ids while its records are still being compressed, and waits for a part only
/// when it stores that part's records.
final class PendingAppend: @unchecked Sendable {
    // Safe to share: `parts` is read and written only while holding `arrived`; the rest is immutable.

    let ids: [IDKey]
    /// Canonical JSON size of each record, for the raw-bytes counter.
    let rawSizes: [Int]
    /// Records per part; part `p` holds records `p * partSize ..< (p + 1) * partSize`.
    let partSize: Int
    private var parts: [Result<EncodedBatch, EventLogError>?]
    private let arrived = NSCondition()

    init(_ records: [LogRecord], partSize: Int) {
        ids = records.map { $0.id.bytes.withUnsafeBytes(IDKey.init) }
        rawSizes = records.map(\.canonicalJSON.count)
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

/// Encodes records into stored values with one zstd context; used by one thread at a time.
final class RecordEncoder: @unchecked Sendable {
    // Safe to send: an encoder is only used by the thread that took it from the pool,
    // until it gives it back.

    /// Without a dictionary, shorter records are stored raw: zstd on a ~300-byte JSON record
    /// saves ~20% for ~7 µs compress + ~3 µs decompress here (its per-frame entropy tables
    /// dominate), while with a trained dictionary it saves ~70% at ~2 µs + ~0.6 µs.
    static let minimumPlainCompressionSize = 1024

    let dictionary: ZstdDictionary?
    private let compressor: ZstdCompressor?
    private let format: LogFormat.RecordFormat

    init(level: Int?, dictionary: ZstdDictionary?) throws {
        self.dictionary = dictionary
        self.compressor = try level.map { try ZstdCompressor(level: $0, dictionary: dictionary, checksum: true) }
        self.format = dictionary == nil ? .zstd : .zstdDictionary
    }

    /// Encodes `records` into one buffer sized for the worst case up front, so that no record
    /// costs a reallocation, a zero fill or a trim.
    func encode(_ records: ArraySlice<LogRecord>) throws -> EncodedBatch {
        var ends: [Int] = []
        ends.reserveCapacity(records.count)
        let capacity = records.reduce(0) { $0 + LogFormat.recordHeaderSize + Zstd.compressBound($1.canonicalJSON.count) }
        let values = try [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            let output = UnsafeMutableRawBufferPointer(buffer)
            for record in records {
                initialized += try encode(record, into: UnsafeMutableRawBufferPointer(rebasing: output[initialized...]))
                ends.append(initialized)
            }
        }
        return EncodedBatch(values: values, ends: ends)
    }

    /// Writes `record`'s stored value at the start of `output` (room for its header and
    /// `Zstd.compressBound` of its JSON) and returns its size.
    private func encode(_ record: LogRecord, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        record.id.bytes.withUnsafeBytes { id in
            UnsafeMutableRawBufferPointer(rebasing: output[1..<LogFormat.recordHeaderSize]).copyMemory(from: id)
        }
        let payload = UnsafeMutableRawBufferPointer(rebasing: output[LogFormat.recordHeaderSize...])
        return try record.canonicalJSON.withUnsafeBytes { json in
            if let compressor, dictionary != nil || json.count >= Self.minimumPlainCompressionSize {
                let size = try compressor.compress(json, into: payload)
                if size < json.count {
                    output[0] = format.rawValue
                    return LogFormat.recordHeaderSize + size
                }
            }
            output[0] = LogFormat.RecordFormat.raw.rawValue
            payload.copyMemory(from: json)
            return LogFormat.recordHeaderSize + json.count
        }
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
    /// cores finish the last parts together.
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

    private func encode(_ records: ArraySlice<LogRecord>) throws -> EncodedBatch {
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

/// A hash table from ids to values for one write transaction's dedup: open addressing over
/// an id word mixed with a per-process secret, far cheaper than SipHashing every id (ids are
/// SHA-256 digests, so their words are already uniform).
struct IDTable<Value> {
    private static var seed: UInt64 { idTableSeed }

    private var slots: [Int32]
    private var keys: [IDKey] = []
    private var values: [Value] = []
    private var shift: UInt64

    init(capacity: Int) {
        var size = 16
        var bits: UInt64 = 4
        while size < 2 * capacity + 2 {
            size <<= 1
            bits += 1
        }
        slots = [Int32](repeating: -1, count: size)
        shift = 64 - bits
        keys.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
    }

    subscript(key: IDKey) -> Value? {
        var slot = index(key)
        while true {
            let entry = Int(slots[slot])
            if entry < 0 { return nil }
            if keys[entry] == key { return values[entry] }
            slot = (slot + 1) & (slots.count - 1)
        }
    }

    /// Stores `value` under `key` unless present; returns the value already there, if any.
    /// At most `capacity` keys fit (the table stays at most half full).
    mutating func insert(_ key: IDKey, _ value: Value) -> Value? {
        precondition(2 * (keys.count + 1) <= slots.count, "IDTable sized for fewer ids")
        var slot = index(key)
        while true {
            let entry = Int(slots[slot])
            if entry < 0 {
                slots[slot] = Int32(keys.count)
                keys.append(key)
                values.append(value)
                return nil
            }
            if keys[entry] == key { return values[entry] }
            slot = (slot + 1) & (slots.count - 1)
        }
    }

    @inline(__always)
    private func index(_ key: IDKey) -> Int {
        Int(truncatingIfNeeded: ((key.w2 ^ Self.seed) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }
}

private let idTableSeed = UInt64.random(in: .min ... .max)
