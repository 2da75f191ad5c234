#if canImport(Glibc)
import Glibc
#endif

/// Hands memory that `free` kept in the allocator's pools back to the system.
///
/// glibc's `malloc` gives each thread that allocates an arena of its own and keeps what is
/// freed there for reuse, so a long run whose batches are built and dropped on several
/// threads holds the high-water mark of every arena resident. `malloc_trim(0)` releases the
/// free pages of all arenas. It is a glibc extension that Swift's Glibc module does not
/// declare, so it is looked up at run time; elsewhere this does nothing.
public enum FreedMemory {
    /// Releases free allocator pages; returns whether any memory was released.
    @discardableResult
    public static func release() -> Bool {
        guard let trim = mallocTrim else { return false }
        return trim(0) == 1
    }

    /// Releases free allocator pages once the resident set exceeds `limit` bytes (always when
    /// it cannot be read). Trimming after every batch hands back pages the next batch faults
    /// in and zeroes again, and walks every arena: a few percent of a rebuild's CPU.
    @discardableResult
    public static func release(whenResidentAbove limit: Int) -> Bool {
        if let resident = residentBytes(), resident <= limit { return false }
        return release()
    }

    /// The resident set in bytes, from the second field of `/proc/self/statm` (pages).
    static func residentBytes() -> Int? {
        #if canImport(Glibc)
        let descriptor = open("/proc/self/statm", O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let fields = buffer[..<count].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
        return nil
        #endif
    }

    private typealias MallocTrim = @convention(c) (Int) -> Int32

    private static let mallocTrim: MallocTrim? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: MallocTrim.self)
        #else
        return nil
        #endif
    }()
}
