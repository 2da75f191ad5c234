import CZstd

/// Compresses whole buffers into single zstd frames, reusing one context across calls.
///
/// Not thread-safe: give each thread its own compressor (they are cheap once warmed up).
public final class ZstdCompressor {
    /// The level used when no dictionary is set (the dictionary's own level wins otherwise).
    public let level: Int
    /// The dictionary every frame is compressed with, if any.
    public let dictionary: ZstdDictionary?

    private let context: OpaquePointer

    /// - Parameters:
    ///   - level: 1 (fastest) … 19; 1–3 suit per-record compression on a hot path.
    ///   - dictionary: compresses every frame with this dictionary; frames then record its id.
    ///   - checksum: appends a 4-byte content checksum so damage is detected on decompression.
    public init(level: Int = 3, dictionary: ZstdDictionary? = nil, checksum: Bool = false) throws {
        guard let context = ZSTD_createCCtx() else {
            throw ZstdError(code: .other(64), operation: "ZSTD_createCCtx", message: "out of memory")
        }
        self.context = context
        self.level = level
        self.dictionary = dictionary
        _ = try checked(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)), "set compression level \(level)")
        _ = try checked(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, checksum ? 1 : 0), "set checksum flag")
        if let dictionary {
            _ = try checked(ZSTD_CCtx_refCDict(context, dictionary.compressionDictionary), "ZSTD_CCtx_refCDict")
        }
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `input` into `destination` (make it `Zstd.compressBound(input.count)`
    /// bytes to never fail for space); returns the frame's size.
    public func compress(_ input: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        try checked(
            ZSTD_compress2(context, destination.baseAddress, destination.count, input.baseAddress, input.count),
            "ZSTD_compress2(\(input.count) bytes)"
        )
    }

    /// Replaces `output`'s contents with the frame for `input`, reusing its capacity.
    public func compress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        resize(&output, to: Zstd.compressBound(input.count))
        let size = try output.withUnsafeMutableBytes { try compress(input, into: $0) }
        resize(&output, to: size)
    }

    /// The frame for `input`.
    public func compress(_ input: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        try input.withUnsafeBytes { try compress($0, into: &output) }
        return output
    }
}

/// Decompresses single zstd frames, reusing one context across calls.
///
/// Not thread-safe: give each thread its own decompressor.
public final class ZstdDecompressor {
    /// The dictionary used when a call names none.
    public let dictionary: ZstdDictionary?
    /// Frames claiming a larger decoded size are refused (`.sizeLimit`) before any allocation.
    public let maximumOutputSize: Int

    private let context: OpaquePointer

    public init(dictionary: ZstdDictionary? = nil, maximumOutputSize: Int = 64 << 20) throws {
        guard let context = ZSTD_createDCtx() else {
            throw ZstdError(code: .other(64), operation: "ZSTD_createDCtx", message: "out of memory")
        }
        self.context = context
        self.dictionary = dictionary
        self.maximumOutputSize = maximumOutputSize
    }

    deinit { ZSTD_freeDCtx(context) }

    /// The decoded size the frame header states, checked against `maximumOutputSize`.
    public func decompressedSize(of frame: UnsafeRawBufferPointer) throws -> Int {
        let size = ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
        switch size {
        case contentSizeError:
            throw ZstdError(code: .corruptedFrame, operation: "ZSTD_getFrameContentSize(\(frame.count) bytes)",
                            message: "not a zstd frame (bad magic number or truncated header)")
        case contentSizeUnknown:
            throw ZstdError(code: .unknownContentSize, operation: "ZSTD_getFrameContentSize",
                            message: "the frame header does not state its decoded size")
        default:
            guard size <= UInt64(maximumOutputSize) else {
                throw ZstdError(code: .sizeLimit, operation: "ZSTD_getFrameContentSize",
                                message: "frame decodes to \(size) bytes, over the limit of \(maximumOutputSize)")
            }
            return Int(size)
        }
    }

    /// Decompresses `frame` into `destination` with `dictionary` (nil: no dictionary);
    /// returns the decoded size. A frame that names no dictionary ignores the one given.
    public func decompress(
        _ frame: UnsafeRawBufferPointer,
        using dictionary: ZstdDictionary?,
        into destination: UnsafeMutableRawBufferPointer
    ) throws -> Int {
        let result = ZSTD_decompress_usingDDict(context, destination.baseAddress, destination.count, frame.baseAddress, frame.count,
                                                dictionary?.decompressionDictionary)
        guard ZSTD_isError(result) != 0 else { return result }
        let error = ZstdError(result: result, operation: "ZSTD_decompress_usingDDict(\(frame.count) bytes)")
        guard error.code == .wrongDictionary else { throw error }
        let needed = ZSTD_getDictID_fromFrame(frame.baseAddress, frame.count)
        throw ZstdError(
            code: .wrongDictionary, operation: error.operation,
            message: "frame was compressed with dictionary \(needed), decoder has \(dictionary.map { "dictionary \($0.id)" } ?? "no dictionary")"
        )
    }

    /// Replaces `output`'s contents with the decoded `frame`, reusing its capacity.
    public func decompress(_ frame: UnsafeRawBufferPointer, using dictionary: ZstdDictionary?, into output: inout [UInt8]) throws {
        let size = try decompressedSize(of: frame)
        resize(&output, to: size)
        let written = try output.withUnsafeMutableBytes { try decompress(frame, using: dictionary, into: $0) }
        guard written == size else {
            throw ZstdError(code: .corruptedFrame, operation: "ZSTD_decompress_usingDDict",
                            message: "frame decoded to \(written) bytes, its header states \(size)")
        }
    }

    /// Replaces `output`'s contents with the decoded `frame`, using `dictionary`.
    public func decompress(_ frame: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        try decompress(frame, using: dictionary, into: &output)
    }

    /// The decoded `frame`, using `dictionary`.
    public func decompress(_ frame: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        try frame.withUnsafeBytes { try decompress($0, using: dictionary, into: &output) }
        return output
    }
}

private let contentSizeUnknown: UInt64 = 0 &- 1
private let contentSizeError: UInt64 = 0 &- 2
