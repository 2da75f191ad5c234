import CZstd

/// Library-wide zstd facts and dictionary training.
public enum Zstd {
    /// The linked libzstd version, e.g. "1.5.4".
    public static var versionString: String { String(cString: ZSTD_versionString()) }

    /// Largest frame `ZstdCompressor` can produce for `size` input bytes.
    public static func compressBound(_ size: Int) -> Int { ZSTD_compressBound(size) }

    /// The dictionary a frame was compressed with, or nil for none (or an unreadable header).
    public static func dictionaryID(ofFrame frame: UnsafeRawBufferPointer) -> UInt32? {
        let id = ZSTD_getDictID_fromFrame(frame.baseAddress, frame.count)
        return id == 0 ? nil : id
    }

    /// Whether a zstd frame carries a content checksum (its header descriptor's bit 2, RFC 8878
    /// §3.1.1.1.1.3); false for anything that is not a zstd frame.
    public static func hasContentChecksum(frame: UnsafeRawBufferPointer) -> Bool {
        guard frame.count >= 5, frame.loadUnaligned(as: UInt32.self).littleEndian == 0xFD2F_B528 else { return false }
        return frame[4] & 0x04 != 0
    }

    /// Trains a dictionary of at most `capacity` bytes from typical small records
    /// (`ZDICT_trainFromBuffer`). Needs a few hundred samples or more to succeed.
    public static func trainDictionary(samples: [[UInt8]], capacity: Int = 16 * 1024) throws -> [UInt8] {
        var joined: [UInt8] = []
        joined.reserveCapacity(samples.reduce(0) { $0 + $1.count })
        var sizes: [Int] = []
        sizes.reserveCapacity(samples.count)
        for sample in samples {
            joined.append(contentsOf: sample)
            sizes.append(sample.count)
        }
        var dictionary = [UInt8](repeating: 0, count: capacity)
        let result = dictionary.withUnsafeMutableBytes { dict in
            joined.withUnsafeBytes { joined in
                ZDICT_trainFromBuffer(dict.baseAddress, dict.count, joined.baseAddress, sizes, UInt32(sizes.count))
            }
        }
        if ZDICT_isError(result) != 0 {
            throw ZstdError(
                code: .trainingFailed,
                operation: "ZDICT_trainFromBuffer(\(samples.count) samples, \(joined.count) bytes)",
                message: String(cString: ZDICT_getErrorName(result))
            )
        }
        dictionary.removeLast(capacity - result)
        return dictionary
    }
}

/// A failed zstd call: its kind, the operation, and zstd's own error text.
public struct ZstdError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The failure kinds callers act on.
    public enum Code: Hashable, Sendable {
        /// The input is not a valid zstd frame or its content is damaged.
        case corruptedFrame
        /// The frame's checksum does not match its decoded content.
        case checksumMismatch
        /// The frame needs another dictionary than the one given (or none was given).
        case wrongDictionary
        /// The bytes given as a dictionary are not a usable dictionary.
        case invalidDictionary
        /// The decoded size exceeds the decompressor's limit.
        case sizeLimit
        /// The frame header does not state its decoded size.
        case unknownContentSize
        /// The destination buffer is too small.
        case destinationTooSmall
        /// Dictionary training failed (typically: too few or too uniform samples).
        case trainingFailed
        /// Any other zstd error, by its `ZSTD_ErrorCode`.
        case other(Int)
    }

    public let code: Code
    /// The zstd operation that failed.
    public let operation: String
    /// zstd's error text (or a precise explanation when the wrapper detected the problem).
    public let message: String

    public var description: String { "zstd \(operation) failed: \(message)" }

    init(code: Code, operation: String, message: String) {
        self.code = code
        self.operation = operation
        self.message = message
    }

    /// Builds the error for a `size_t` result that `ZSTD_isError` flagged.
    init(result: Int, operation: String) {
        let errorCode = Int(bitPattern: 0 &- UInt(bitPattern: result))
        switch errorCode {
        case 10, 20, 24, 72: code = .corruptedFrame  // prefix_unknown, corruption, literals header, srcSize_wrong
        case 22: code = .checksumMismatch
        case 32: code = .wrongDictionary
        case 30, 34: code = .invalidDictionary
        case 70: code = .destinationTooSmall
        default: code = .other(errorCode)
        }
        self.operation = operation
        self.message = String(cString: ZSTD_getErrorName(result))
    }
}

/// Returns `result` as a byte count, or throws the zstd error it encodes.
@inline(__always)
func checked(_ result: Int, _ operation: @autoclosure () -> String) throws(ZstdError) -> Int {
    if ZSTD_isError(result) != 0 { throw ZstdError(result: result, operation: operation()) }
    return result
}

/// Resizes `buffer` to `count` bytes, keeping its capacity and zero-filling only growth.
@inline(__always)
func resize(_ buffer: inout [UInt8], to count: Int) {
    if buffer.count > count {
        buffer.removeLast(buffer.count - count)
    } else if buffer.count < count {
        buffer.append(contentsOf: repeatElement(0, count: count - buffer.count))
    }
}
