/// One reply from the server, as RESP2 defines them. Error replies are values here, so a
/// pipeline can report one failed command among thousands that succeeded.
public enum RedisReply: Sendable, Hashable {
    case status(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RedisReply])

    /// The text of a status or bulk reply (bulk bytes decoded as UTF-8).
    public var string: String? {
        switch self {
        case .status(let text): text
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .error, .integer, .null, .array: nil
        }
    }

    /// The bytes of a bulk reply, or of a status reply's text.
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let bytes): bytes
        case .status(let text): Array(text.utf8)
        case .error, .integer, .null, .array: nil
        }
    }

    /// The value of an integer reply.
    public var integer: Int64? {
        if case .integer(let value) = self { value } else { nil }
    }

    /// The elements of an array reply.
    public var array: [RedisReply]? {
        if case .array(let elements) = self { elements } else { nil }
    }

    /// The message of an error reply.
    public var errorMessage: String? {
        if case .error(let message) = self { message } else { nil }
    }

    public var isNull: Bool { self == .null }
}
