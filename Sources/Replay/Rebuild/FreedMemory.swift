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
