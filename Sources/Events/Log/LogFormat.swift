import LMDB
import Synchronization
import Zstd

/// The on-disk layout of the event log.
///
/// - `events`: seq (8 bytes, big-endian, appended in order) → record value.
/// - `ids`: first 16 id bytes → seq (8 bytes, big-endian). Prefixes collide with negligible
///   probability; a colliding id goes to `idCollisions`.
/// - `idCollisions`: full 32-byte id → seq, for ids whose prefix `ids` already maps elsewhere.
/// - `meta`: format version, dictionaries, byte counters, checkpoints.
///
/// A record value is one format byte, the 32 id bytes (readable without decompressing), then
/// the payload: the canonical JSON itself, or a zstd frame of it (with or without dictionary).
enum LogFormat {
    /// The format this build writes and reads; bump on any incompatible change.
    static let version: UInt32 = 1

    static let eventsDatabase = "events"
    static let idsDatabase = "ids"
    static let collisionsDatabase = "idCollisions"
    static let metaDatabase = "meta"

    static let dataFile = "data.mdb"
    static let writerLockFile = "writer.lock"

    static let idPrefixSize = 16
    static let recordHeaderSize = 1 + 32

    enum MetaKey {
        static let format = Array("format".utf8)
        static let createdBy = Array("createdBy".utf8)
        static let storedBytes = Array("storedBytes".utf8)
        static let rawBytes = Array("rawBytes".utf8)
        static let activeDictionary = Array("activeDictionary".utf8)
        static let dictionaryPrefix = Array("dictionary/".utf8)
        static let checkpointPrefix = Array("checkpoint/".utf8)

        static func dictionary(_ id: UInt32) -> [UInt8] { dictionaryPrefix + bigEndian(id) }
        static func checkpoint(_ name: String) -> [UInt8] { checkpointPrefix + Array(name.utf8) }
    }

    /// The first byte of every record value.
    enum RecordFormat: UInt8 {
        case raw = 0
        case zstd = 1
        case zstdDictionary = 2
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
    static func bigEndian(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

    /// Reads a big-endian integer of exactly `T`'s size, or nil for any other length.
    static func integer<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, as: T.Type = T.self) -> T? {
        guard bytes.count == MemoryLayout<T>.size else { return nil }
        return T(bigEndian: bytes.loadUnaligned(as: T.self))
    }

    static func integer<T: FixedWidthInteger>(_ bytes: [UInt8]?, as: T.Type = T.self) -> T? {
        bytes.flatMap { $0.withUnsafeBytes { integer($0, as: T.self) } }
    }

    /// Lends the 8-byte big-endian key of `seq`.
    @inline(__always)
    static func withSeqKey<R>(_ seq: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: seq.bigEndian, body)
    }
}

/// The dictionaries a log has stored, by id, digested once and shared by readers and writer.
final class DictionaryCache: Sendable {
    /// The level the compression side of every dictionary is digested for.
    let compressionLevel: Int
    private let dictionaries = Mutex<[UInt32: ZstdDictionary]>([:])

    init(compressionLevel: Int) {
        self.compressionLevel = compressionLevel
    }

    subscript(id id: UInt32) -> ZstdDictionary? { dictionaries.withLock { $0[id] } }

    func insert(_ dictionary: ZstdDictionary) { dictionaries.withLock { $0[dictionary.id] = dictionary } }

    /// Digests every dictionary stored in `meta` that is not cached yet.
    func load(from txn: LMDBReadTransaction, meta: LMDBDatabase) throws {
        var found: [(UInt32, [UInt8])] = []
        try txn.forEach(in: meta, from: LogFormat.MetaKey.dictionaryPrefix) { key, value in
            guard key.starts(with: LogFormat.MetaKey.dictionaryPrefix) else { return false }
            let idBytes = UnsafeRawBufferPointer(rebasing: key[LogFormat.MetaKey.dictionaryPrefix.count...])
            if let id = LogFormat.integer(idBytes, as: UInt32.self), self[id: id] == nil {
                found.append((id, Array(value)))
            }
            return true
        }
        for (id, bytes) in found {
            let dictionary = try ZstdDictionary(bytes: bytes, compressionLevel: compressionLevel)
            guard dictionary.id == id else {
                throw EventLogError(.corrupted, operation: "load dictionaries",
                                    message: "meta key for dictionary \(id) holds dictionary \(dictionary.id)")
            }
            insert(dictionary)
        }
    }
}

/// Turns stored record values back into id and canonical JSON; one per reading call
/// (it owns a decompression context and a reusable output buffer).
struct RecordDecoder {
    private let decompressor: ZstdDecompressor
    private let dictionaries: DictionaryCache
    private let meta: LMDBDatabase
    /// Decompressed records land here; only the first `length` bytes are the current one.
    private var buffer = [UInt8](repeating: 0, count: Self.minimumBufferSize)
    private var length = 0
    /// The dictionary the previous record needed: almost always the next one's too.
    private var recent: ZstdDictionary?

    /// Room kept for decompressed records, so that almost every record decodes straight into
    /// the buffer without asking its frame for its size first; small, because every read call
    /// (a single `event(at:)` too) makes a decoder. Larger records grow the buffer as they come.
    static let minimumBufferSize = 4 << 10

    init(dictionaries: DictionaryCache, meta: LMDBDatabase) throws {
        self.decompressor = try ZstdDecompressor(maximumOutputSize: 1 << 30)
        self.dictionaries = dictionaries
        self.meta = meta
    }

    /// Lends the id bytes and canonical JSON of the record `value` stored at `seq`.
    mutating func decode<R>(
        seq: UInt64,
        value: UnsafeRawBufferPointer,
        in txn: LMDBReadTransaction,
        _ body: (_ id: UnsafeRawBufferPointer, _ json: UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        guard value.count >= LogFormat.recordHeaderSize else {
            throw EventLogError(.corrupted, operation: "read event \(seq)",
                                message: "record is \(value.count) bytes, shorter than its \(LogFormat.recordHeaderSize)-byte header")
        }
        let id = UnsafeRawBufferPointer(rebasing: value[1..<LogFormat.recordHeaderSize])
        let payload = UnsafeRawBufferPointer(rebasing: value[LogFormat.recordHeaderSize...])
        switch LogFormat.RecordFormat(rawValue: value[0]) {
        case .raw:
            return try body(id, payload)
        case .zstd:
            try decompress(seq: seq, payload, dictionary: nil)
        case .zstdDictionary:
            if let recent, decompressInPlace(payload, dictionary: recent) {
                break
            }
            guard let dictionaryID = Zstd.dictionaryID(ofFrame: payload) else {
                throw EventLogError(.corrupted, operation: "read event \(seq)",
                                    message: "record is marked dictionary-compressed but its frame names no dictionary")
            }
            let dictionary = try dictionary(dictionaryID, seq: seq, txn: txn)
            try decompress(seq: seq, payload, dictionary: dictionary)
            recent = dictionary
        case nil:
            throw EventLogError(.corrupted, operation: "read event \(seq)",
                                message: "record has unknown format byte 0x\(String(value[0], radix: 16))")
        }
        return try buffer.withUnsafeBytes { try body(id, UnsafeRawBufferPointer(rebasing: $0[..<length])) }
    }

    private mutating func decompress(seq: UInt64, _ frame: UnsafeRawBufferPointer, dictionary: ZstdDictionary?) throws {
        if decompressInPlace(frame, dictionary: dictionary) { return }
        // Too large for the buffer, or damaged: the checked path sizes the buffer from the
        // frame header and says what is wrong.
        do {
            try decompressor.decompress(frame, using: dictionary, into: &buffer)
        } catch let error as ZstdError {
            throw EventLogError(.corrupted, operation: "read event \(seq)", message: "stored record does not decompress",
                                underlying: error)
        }
        length = buffer.count
        if buffer.count < Self.minimumBufferSize {
            buffer.append(contentsOf: repeatElement(0, count: Self.minimumBufferSize - buffer.count))
        }
    }

    /// Decompresses `frame` into the buffer as it stands (zstd checks the decoded size against
    /// the frame header, and the checksum); false when it does not fit or fails.
    private mutating func decompressInPlace(_ frame: UnsafeRawBufferPointer, dictionary: ZstdDictionary?) -> Bool {
        let decompressor = self.decompressor
        guard let size = buffer.withUnsafeMutableBytes({ try? decompressor.decompress(frame, using: dictionary, into: $0) }) else {
            return false
        }
        length = size
        return true
    }

    /// The dictionary `id`, loading dictionaries another process stored since this one looked.
    private func dictionary(_ id: UInt32, seq: UInt64, txn: LMDBReadTransaction) throws -> ZstdDictionary {
        if let dictionary = dictionaries[id: id] { return dictionary }
        try dictionaries.load(from: txn, meta: meta)
        guard let dictionary = dictionaries[id: id] else {
            throw EventLogError(.corrupted, operation: "read event \(seq)",
                                message: "record needs zstd dictionary \(id), which the log's meta does not hold")
        }
        return dictionary
    }
}
