import CZstd

/// A trained dictionary, digested once for compression and decompression.
///
/// Digesting costs far more than a small record's compression, so build one per dictionary
/// and share it between compressors and decompressors, across threads.
public final class ZstdDictionary: @unchecked Sendable {
    // Safe to share: zstd documents ZSTD_CDict and ZSTD_DDict as read-only after creation
    // and usable from several threads at once.

    /// The dictionary as trained (what to store to rebuild it).
    public let bytes: [UInt8]
    /// The id zstd writes into frames compressed with this dictionary.
    public let id: UInt32
    /// The level the compression side was digested for.
    public let compressionLevel: Int

    let compressionDictionary: OpaquePointer
    let decompressionDictionary: OpaquePointer

    /// Digests `bytes` (from `Zstd.trainDictionary`) for compression at `compressionLevel`.
    public init(bytes: [UInt8], compressionLevel: Int = 3) throws {
        let id = bytes.withUnsafeBytes { ZSTD_getDictID_fromDict($0.baseAddress, $0.count) }
        guard id != 0 else {
            throw ZstdError(code: .invalidDictionary, operation: "ZSTD_getDictID_fromDict(\(bytes.count) bytes)",
                            message: "not a trained zstd dictionary (no dictionary header)")
        }
        guard let cdict = bytes.withUnsafeBytes({ ZSTD_createCDict($0.baseAddress, $0.count, Int32(compressionLevel)) }) else {
            throw ZstdError(code: .invalidDictionary, operation: "ZSTD_createCDict", message: "dictionary rejected")
        }
        guard let ddict = bytes.withUnsafeBytes({ ZSTD_createDDict($0.baseAddress, $0.count) }) else {
            ZSTD_freeCDict(cdict)
            throw ZstdError(code: .invalidDictionary, operation: "ZSTD_createDDict", message: "dictionary rejected")
        }
        self.bytes = bytes
        self.id = id
        self.compressionLevel = compressionLevel
        self.compressionDictionary = cdict
        self.decompressionDictionary = ddict
    }

    deinit {
        ZSTD_freeCDict(compressionDictionary)
        ZSTD_freeDDict(decompressionDictionary)
    }
}
