/// Commands encoded in RESP (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) back to back in one growable
/// buffer, handed to hiredis in one piece. Encoding here instead of through
/// `redisAppendCommandArgv` saves hiredis's per-command format string work and allocations,
/// which dominate a deep pipeline.
///
/// Owns raw memory: the owner calls `deallocate()` exactly once.
struct RedisCommandBuffer {
    private(set) var bytes: UnsafeMutableRawPointer
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        bytes = .allocate(byteCount: capacity, alignment: 1)
    }

    func deallocate() { bytes.deallocate() }

    mutating func removeAll() { count = 0 }

    /// Appends one command: an array of bulk strings.
    mutating func encode(_ arguments: [any RedisArgument]) {
        appendHeader(UInt8(ascii: "*"), arguments.count)
        for argument in arguments {
            argument.withRedisBytes { argument in
                appendHeader(UInt8(ascii: "$"), argument.count)
                append(argument)
                appendLineEnd()
            }
        }
    }

    /// `*<n>\r\n` or `$<n>\r\n`.
    private mutating func appendHeader(_ marker: UInt8, _ value: Int) {
        reserve(24)
        bytes.storeBytes(of: marker, toByteOffset: count, as: UInt8.self)
        count += 1
        var digits = 1
        var rest = value / 10
        while rest > 0 { digits += 1; rest /= 10 }
        var remaining = value
        for position in stride(from: count + digits - 1, through: count, by: -1) {
            bytes.storeBytes(of: UInt8(ascii: "0") + UInt8(remaining % 10), toByteOffset: position, as: UInt8.self)
            remaining /= 10
        }
        count += digits
        appendLineEnd()
    }

    private mutating func appendLineEnd() {
        reserve(2)
        bytes.storeBytes(of: UInt8(ascii: "\r"), toByteOffset: count, as: UInt8.self)
        bytes.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: count + 1, as: UInt8.self)
        count += 2
    }

    private mutating func append(_ source: UnsafeRawBufferPointer) {
        guard let base = source.baseAddress, !source.isEmpty else { return }
        reserve(source.count)
        (bytes + count).copyMemory(from: base, byteCount: source.count)
        count += source.count
    }

    private mutating func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: max(capacity * 2, count + extra), alignment: 1)
        grown.copyMemory(from: bytes, byteCount: count)
        bytes.deallocate()
        bytes = grown
        capacity = max(capacity * 2, count + extra)
    }
}
