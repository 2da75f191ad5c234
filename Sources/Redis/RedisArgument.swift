/// A value that can be sent as one argument of a Redis command: its bytes are sent as they
/// are (binary safe), so keys and values may contain NUL, CR and LF.
public protocol RedisArgument {
    /// Lends the argument's bytes to `body`, valid only during the call.
    func withRedisBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension String: RedisArgument {
    public func withRedisBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var text = self
        return try text.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}

extension Substring: RedisArgument {
    public func withRedisBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var text = self
        return try text.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}

extension Array: RedisArgument where Element == UInt8 {
    public func withRedisBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension ArraySlice: RedisArgument where Element == UInt8 {
    public func withRedisBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension Int: RedisArgument {
    /// Sent as decimal text, as Redis expects numbers.
    public func withRedisBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try String(self).withRedisBytes(body)
    }
}

extension Int64: RedisArgument {
    /// Sent as decimal text, as Redis expects numbers.
    public func withRedisBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try String(self).withRedisBytes(body)
    }
}
