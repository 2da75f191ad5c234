import LMDB
import Zstd

/// The parts of an `events` value readable without decompressing: how many records it holds,
/// their ids and (in a block) their JSON lengths, and the payload holding the JSON.
struct StoredValue {
    let format: LogFormat.RecordFormat
    /// Records held: 1 for a single record.
    let count: Int
    /// `count` ids of 32 bytes each.
    let ids: UnsafeRawBufferPointer
    /// `count` big-endian 4-byte JSON lengths (empty for a single record).
    let lengths: UnsafeRawBufferPointer
    /// The records' JSON back to back, raw or as one zstd frame.
    let payload: UnsafeRawBufferPointer

    /// Parses the value stored under `first`; a malformed one fails as `.corrupted` with
    /// `operation` (built only then).
    init(_ value: UnsafeRawBufferPointer, first: UInt64, operation: @autoclosure () -> String) throws(EventLogError) {
        guard let byte = value.first, let format = LogFormat.RecordFormat(rawValue: byte) else {
            throw EventLogError(.corrupted, operation: operation(), message: value.isEmpty
                ? "the value stored under seq \(first) is empty"
                : "the value stored under seq \(first) has unknown format byte 0x\(String(value[0], radix: 16))")
        }
        self.format = format
        guard format.isBlock else {
            guard value.count >= LogFormat.recordHeaderSize else {
                throw EventLogError(.corrupted, operation: operation(),
                                    message: "record \(first) is \(value.count) bytes, shorter than its \(LogFormat.recordHeaderSize)-byte header")
            }
            count = 1
            ids = UnsafeRawBufferPointer(rebasing: value[1..<LogFormat.recordHeaderSize])
            lengths = UnsafeRawBufferPointer(start: nil, count: 0)
            payload = UnsafeRawBufferPointer(rebasing: value[LogFormat.recordHeaderSize...])
            return
        }
        let count = value.count >= LogFormat.blockHeaderSize ? Int(UInt16(bigEndian: value.loadUnaligned(fromByteOffset: 1, as: UInt16.self))) : 0
        let idsEnd = LogFormat.blockHeaderSize + count * LogFormat.idSize
        let tableEnd = LogFormat.blockHeaderSize + count * LogFormat.blockEntrySize
        guard count > 0 else {
            throw EventLogError(.corrupted, operation: operation(),
                                message: "the block stored under seq \(first) is \(value.count) bytes and states no records")
        }
        guard value.count >= tableEnd else {
            throw EventLogError(.corrupted, operation: operation(),
                                message: "the block stored under seq \(first) is \(value.count) bytes, too short for the ids and lengths of its \(count) records")
        }
        self.count = count
        ids = UnsafeRawBufferPointer(rebasing: value[LogFormat.blockHeaderSize..<idsEnd])
        lengths = UnsafeRawBufferPointer(rebasing: value[idsEnd..<tableEnd])
        payload = UnsafeRawBufferPointer(rebasing: value[tableEnd...])
    }

    /// The id of record `index` (0-based within the value).
    func id(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: ids[index * LogFormat.idSize..<(index + 1) * LogFormat.idSize])
    }

    /// The stated JSON length of block record `index`.
    func length(_ index: Int) -> Int {
        Int(UInt32(bigEndian: lengths.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
    }

    /// What the block's JSON lengths add up to (a block holds at most 65,535 lengths below 2³²:
    /// no overflow).
    var blockJSONSize: Int {
        var total = 0
        for index in 0..<count { total += length(index) }
        return total
    }

    /// "event 7" or "the block of events 65–128" (the value stored under `first`), for messages.
    func describe(first: UInt64) -> String {
        format.isBlock ? "the block of events \(first)–\(first + UInt64(count) - 1)" : "event \(first)"
    }
}

/// The records of one stored value with their JSON at hand (decompressed or lent from the map).
struct DecodedRecords {
    let first: UInt64
    let stored: StoredValue
    /// Every record's JSON back to back; its size matches the stated lengths.
    let json: UnsafeRawBufferPointer

    var last: UInt64 { first + UInt64(stored.count) - 1 }

    /// Lends the records from `seq` (at least `first`) through the value's last, in order, while
    /// `body` returns true; returns false when `body` stopped.
    func forEach(from seq: UInt64, _ body: (StoredEventView) throws -> Bool) rethrows -> Bool {
        guard stored.format.isBlock else {
            return try body(StoredEventView(seq: first, idBytes: stored.ids, canonicalJSON: json))
        }
        let start = Int(max(seq, first) - first)
        var offset = 0
        for index in 0..<start { offset += stored.length(index) }
        for index in start..<stored.count {
            let end = offset + stored.length(index)
            let view = StoredEventView(seq: first + UInt64(index), idBytes: stored.id(index),
                                       canonicalJSON: UnsafeRawBufferPointer(rebasing: json[offset..<end]))
            guard try body(view) else { return false }
            offset = end
        }
        return true
    }
}

/// Turns stored values back into ids and canonical JSON; one per reading call (it owns a
/// decompression context and a reusable output buffer). A block is decompressed once for all
/// its records.
struct RecordDecoder {
    private let decompressor: ZstdDecompressor
    private let dictionaries: DictionaryCache
    private let meta: LMDBDatabase
    /// Decompressed values land here; only the first `length` bytes are the current one's.
    private var buffer: [UInt8] = []
    private var length = 0
    /// The dictionary the previous value needed: almost always the next one's too.
    private var recent: ZstdDictionary?

    init(dictionaries: DictionaryCache, meta: LMDBDatabase) throws {
        self.decompressor = try ZstdDecompressor(maximumOutputSize: LogFormat.maximumRecordSize + RecordEncoder.blockBytes)
        self.dictionaries = dictionaries
        self.meta = meta
    }

    /// Where a decoder finds a dictionary its cache lacks.
    enum DictionarySource {
        /// The snapshot being read: dictionaries another process stored since are loaded.
        case snapshot(LMDBReadTransaction)
        /// Nowhere: the caller loaded every dictionary the values need beforehand (a decoder
        /// on a helper thread, which must not touch the caller's transaction).
        case cacheOnly
    }

    /// Lends the records of `value`, stored under `first`; `seq` is the one the caller is
    /// after, named in errors.
    mutating func decode<R>(
        first: UInt64,
        value: UnsafeRawBufferPointer,
        reading seq: UInt64,
        in txn: LMDBReadTransaction,
        _ body: (DecodedRecords) throws -> R
    ) throws -> R {
        try decode(first: first, value: value, reading: seq, dictionaries: .snapshot(txn), body)
    }

    /// `decode(first:value:reading:in:_:)`, finding missing dictionaries in `source`.
    mutating func decode<R>(
        first: UInt64,
        value: UnsafeRawBufferPointer,
        reading seq: UInt64,
        dictionaries source: DictionarySource,
        _ body: (DecodedRecords) throws -> R
    ) throws -> R {
        let stored = try StoredValue(value, first: first, operation: "read event \(seq)")
        switch stored.format.compression {
        case .none:
            if stored.format.isBlock && stored.payload.count != stored.blockJSONSize {
                throw corrupted(stored, first: first, seq: seq,
                                "its payload is \(stored.payload.count) bytes, its records' lengths add up to \(stored.blockJSONSize)")
            }
            return try body(DecodedRecords(first: first, stored: stored, json: stored.payload))
        case .zstd:
            try decompress(stored, dictionary: nil, first: first, seq: seq)
        case .zstdDictionary:
            guard let id = Zstd.dictionaryID(ofFrame: stored.payload) else {
                throw corrupted(stored, first: first, seq: seq, "it is marked dictionary-compressed but its frame names no dictionary")
            }
            if recent?.id != id { recent = try dictionary(id, stored: stored, first: first, seq: seq, source: source) }
            try decompress(stored, dictionary: recent, first: first, seq: seq)
        }
        let length = self.length
        return try buffer.withUnsafeBytes { buffer in
            try body(DecodedRecords(first: first, stored: stored, json: UnsafeRawBufferPointer(rebasing: buffer[..<length])))
        }
    }

    /// Decompresses the value's frame into the buffer, checking its size against the frame
    /// header, a block's stated lengths and zstd's checksum.
    private mutating func decompress(_ stored: StoredValue, dictionary: ZstdDictionary?, first: UInt64, seq: UInt64) throws {
        let frame = stored.payload
        do {
            let size = try decompressor.decompressedSize(of: frame)
            if stored.format.isBlock && size != stored.blockJSONSize {
                throw corrupted(stored, first: first, seq: seq,
                                "its frame decompresses to \(size) bytes, its records' lengths add up to \(stored.blockJSONSize)")
            }
            if buffer.count < size {
                buffer = [UInt8](repeating: 0, count: max(size, 2 * buffer.count))
            }
            let decompressor = self.decompressor
            let written = try buffer.withUnsafeMutableBytes {
                try decompressor.decompress(frame, using: dictionary, into: UnsafeMutableRawBufferPointer(rebasing: $0[..<size]))
            }
            guard written == size else {
                throw corrupted(stored, first: first, seq: seq, "its frame decoded to \(written) bytes, its header states \(size)")
            }
            length = size
        } catch let error as ZstdError {
            throw EventLogError(.corrupted, operation: "read event \(seq)",
                                message: "\(stored.describe(first: first)) does not decompress",
                                underlying: error)
        }
    }

    private func corrupted(_ stored: StoredValue, first: UInt64, seq: UInt64, _ problem: String) -> EventLogError {
        EventLogError(.corrupted, operation: "read event \(seq)",
                      message: "\(stored.describe(first: first)) is damaged: \(problem)")
    }

    /// The dictionary `id`, loading dictionaries another process stored since this one looked.
    private func dictionary(_ id: UInt32, stored: StoredValue, first: UInt64, seq: UInt64, source: DictionarySource) throws -> ZstdDictionary {
        if let dictionary = dictionaries[id: id] { return dictionary }
        if case .snapshot(let txn) = source { try dictionaries.load(from: txn, meta: meta) }
        guard let dictionary = dictionaries[id: id] else {
            throw EventLogError(.corrupted, operation: "read event \(seq)",
                                message: "\(stored.describe(first: first)) needs zstd dictionary \(id), which the log's meta does not hold")
        }
        return dictionary
    }
}
