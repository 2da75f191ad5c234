import LMDB
import Synchronization
import Zstd

/// The on-disk layout of the event log.
///
/// - `events`: seq (8 bytes, big-endian, appended in order) → record value.
/// - `ids`: first 16 id bytes → seq (8 bytes, big-endian), for every event up to the seq in
///   meta `indexedThrough` (and some after it). Prefixes collide with negligible probability;
///   a colliding id goes to `idCollisions`.
/// - `idCollisions`: full 32-byte id → seq, for ids whose prefix `ids` already maps elsewhere.
/// - `meta`: format version, dictionaries, byte counters, checkpoints, `indexedThrough` and
///   `indexMerge`.
///
/// Events after `indexedThrough` (format 3) are found through the ids their values store in
/// the clear; the writer merges them into `ids` in key order (see `UnindexedTail`). A log
/// without `indexedThrough` (formats 1 and 2) has every event in `ids`.
///
/// An `events` value holds one or more consecutive records, keyed by the seq of its first:
/// - a block (format 2, what this build writes): one format byte, the record count (2 bytes,
///   big-endian), every record's 32 id bytes, every record's canonical JSON length (4 bytes,
///   big-endian), then the JSONs back to back, raw or as one zstd frame (with or without
///   dictionary). Ids and lengths are readable without decompressing; one frame per block
///   compresses better and costs far less per record than one frame per record.
/// - a single record (format 1, still read and kept): one format byte, the 32 id bytes, then
///   the canonical JSON, raw or as its own zstd frame.
///
/// A log written before blocks existed keeps its single records; appending to it writes blocks
/// after them. The first append of this build raises the stored format to 3, which older
/// builds refuse to open: they would miss the events `ids` does not cover yet.
enum LogFormat {
    /// The format this build writes; bump on any incompatible change.
    static let version: UInt32 = 3
    /// The oldest format this build still reads (and appends to, upgrading it).
    static let oldestReadableVersion: UInt32 = 1

    static let eventsDatabase = "events"
    static let idsDatabase = "ids"
    static let collisionsDatabase = "idCollisions"
    static let metaDatabase = "meta"

    static let dataFile = "data.mdb"
    static let writerLockFile = "writer.lock"

    static let idPrefixSize = 16
    static let idSize = 32
    /// Format byte and id of a single record.
    static let recordHeaderSize = 1 + idSize
    /// Format byte and record count of a block.
    static let blockHeaderSize = 1 + 2
    /// Id and JSON length of each record of a block.
    static let blockEntrySize = idSize + 4
    /// Most records a block can hold (its count field is 2 bytes).
    static let maximumBlockRecords = Int(UInt16.max)
    /// Largest canonical JSON the log accepts: a block's lengths are 4 bytes, and readers
    /// refuse frames claiming more than a block of such records.
    static let maximumRecordSize = 1 << 30

    enum MetaKey {
        static let format = Array("format".utf8)
        static let createdBy = Array("createdBy".utf8)
        static let storedBytes = Array("storedBytes".utf8)
        static let rawBytes = Array("rawBytes".utf8)
        static let activeDictionary = Array("activeDictionary".utf8)
        static let dictionaryPrefix = Array("dictionary/".utf8)
        static let checkpointPrefix = Array("checkpoint/".utf8)
        /// Every event up to this seq (8 bytes, big-endian) is in `ids`.
        static let indexedThrough = Array("indexedThrough".utf8)
        /// The run being merged into `ids`: its last seq and the last id merged (see `UnindexedTail.Progress`).
        static let indexMerge = Array("indexMerge".utf8)

        static func dictionary(_ id: UInt32) -> [UInt8] { dictionaryPrefix + bigEndian(id) }
        static func checkpoint(_ name: String) -> [UInt8] { checkpointPrefix + Array(name.utf8) }
    }

    /// The first byte of every `events` value.
    enum RecordFormat: UInt8 {
        case raw = 0
        case zstd = 1
        case zstdDictionary = 2
        case rawBlock = 3
        case zstdBlock = 4
        case zstdDictionaryBlock = 5

        var isBlock: Bool {
            switch self {
            case .raw, .zstd, .zstdDictionary: false
            case .rawBlock, .zstdBlock, .zstdDictionaryBlock: true
            }
        }

        var compression: Compression {
            switch self {
            case .raw, .rawBlock: .none
            case .zstd, .zstdBlock: .zstd
            case .zstdDictionary, .zstdDictionaryBlock: .zstdDictionary
            }
        }
    }

    /// How a value's JSON payload is stored.
    enum Compression {
        case none
        case zstd
        case zstdDictionary
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

