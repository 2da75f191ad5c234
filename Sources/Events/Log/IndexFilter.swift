/// A Bloom filter over the prefixes in `ids`, kept by the writer so that dedup searches the
/// index only for ids it may hold. Most appended ids are new, and on a large log each search
/// misses the cache on every level of the B-tree (~0.6 µs an id at a million events); a query
/// here reads one 64-bit word.
///
/// Register-blocked: an id's word is chosen by one id word and six bits within it by the other;
/// at 16 to 32 bits a key (segments are sized for twice their keys, in powers of two) 1–2 % of
/// absent ids still take the search, or fewer. It only ever answers
/// "maybe" for a key it was given (inserts happen in the transaction that writes the key, so a
/// rolled-back transaction leaves extra keys, never missing ones). When it fills past its
/// capacity it adds a segment for three times as many keys rather than rescanning the index.
struct IndexFilter {
    private var segments: [Segment] = []
    private var count = 0
    private var capacity = 0

    private struct Segment {
        var words: [UInt64]
        let shift: UInt64

        init(keys: Int) {
            var bits: UInt64 = 10
            while (1 << bits) < max(1, keys / 4) { bits += 1 } // 64 bits a word, 16 a key
            words = [UInt64](repeating: 0, count: 1 << Int(bits))
            shift = 64 - bits
        }

        @inline(__always)
        func contains(_ key: IDKey) -> Bool {
            let mask = IndexFilter.mask(key.w0)
            return words[Int(truncatingIfNeeded: key.w1 >> shift)] & mask == mask
        }

        @inline(__always)
        mutating func insert(_ key: IDKey) {
            words[Int(truncatingIfNeeded: key.w1 >> shift)] |= IndexFilter.mask(key.w0)
        }
    }

    /// A filter sized for `expected` keys (at least 2^20, 2 MiB) before its first extra segment.
    init(expected: Int) {
        capacity = max(expected, 1 << 20)
        segments = [Segment(keys: capacity)]
    }

    /// Whether `ids` may hold `key`'s prefix.
    @inline(__always)
    func mayContain(_ key: IDKey) -> Bool {
        for segment in segments where segment.contains(key) { return true }
        return false
    }

    mutating func insert(_ key: IDKey) {
        if count == capacity {
            // Each segment costs every query a word read: grow fourfold, so that few exist.
            segments.append(Segment(keys: 3 * capacity))
            capacity *= 4
        }
        segments[segments.count - 1].insert(key)
        count += 1
    }

    /// Six bit positions from six 6-bit fields of an id word (ids are SHA-256 digests: every
    /// word is uniform and independent of the others).
    @inline(__always)
    private static func mask(_ word: UInt64) -> UInt64 {
        var mask: UInt64 = 0
        var bits = word
        for _ in 0..<6 {
            mask |= 1 << (bits & 63)
            bits >>= 6
        }
        return mask
    }
}
