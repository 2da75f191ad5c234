import Crypto
import Foundation

/// Compresses quarantined bodies. The CLI passes zstd; the protocol keeps this module free
/// of the C library.
public protocol BodyCompressor: Sendable {
    /// The file name suffix of compressed bodies (`.zst`).
    var fileExtension: String { get }
    func compress(_ bytes: [UInt8]) throws -> [UInt8]
}

/// Where responses that could not become events are kept for inspection: one compressed file
/// per distinct body, named by the body's SHA-256, so a body rejected twice is stored once.
public struct Quarantine: Sendable {
    public let directory: String
    public let compressor: any BodyCompressor

    public init(directory: String, compressor: any BodyCompressor) {
        self.directory = directory
        self.compressor = compressor
    }

    /// Lowercase hex SHA-256 of `body`: the name under which it is kept.
    public static func sha256(_ body: [UInt8]) -> String {
        SHA256.hash(data: body).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
        }.joined()
    }

    /// The file holding the body with this hash.
    public func path(forSHA256 hash: String) -> String { "\(directory)/\(hash)\(compressor.fileExtension)" }

    /// Keeps `body` (already redacted by the caller) under its hash; returns the hash.
    @discardableResult
    public func keep(_ body: [UInt8]) throws -> String {
        let hash = Self.sha256(body)
        let path = path(forSHA256: hash)
        if FileManager.default.fileExists(atPath: path) { return hash }
        // Like the log: bodies are redacted, but they are still fetched data, for this user only.
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            try AtomicFile.write(try compressor.compress(body), to: path, permissions: 0o600)
        } catch let error as AtomicFileError {
            throw QuarantineError(path: path, detail: error.detail)
        }
        return hash
    }
}

/// A quarantine file that could not be written.
public struct QuarantineError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let detail: String
    public var description: String { "quarantine \(path): \(detail)" }
}
