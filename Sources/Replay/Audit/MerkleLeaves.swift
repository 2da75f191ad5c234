import Crypto

/// The digest of one leaf (one key-hash bucket): how many rows it holds and the XOR of
/// their 64-bit row hashes. The XOR is independent of row order, so a leaf is the same
/// whatever order rows were inserted or stored in; with the count, a changed, missing or
/// extra row changes the leaf except with probability ~2⁻⁶⁴.
struct Leaf: Hashable, Sendable {
    var count: Int64
    var xor: Int64
    /// Redis only: the wrapping sum of 64 further bits of each value's SHA-256, free to
    /// compute client side. PostgreSQL leaves skip it (a second aggregate costs ~30% there).
    var sum: UInt64?
}

/// The leaves of one table or key family at one level: bucket (the top `bits` bits of the
/// key hash, as a signed arithmetic shift) to leaf, plus the largest `seq` seen.
struct LeafLevel: Sendable {
    var bits: Int
    var leaves: [Int64: Leaf]
    var maxSeq: Int64?

    var rowCount: Int64 { leaves.values.reduce(0) { $0 + $1.count } }

    /// The Merkle root over this level: SHA-256 of the scheme, the level and every
    /// non-empty leaf in bucket order. Equal data gives an equal root at equal `bits`.
    func root(scheme: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("\(scheme) bits=\(bits)\n".utf8))
        for bucket in leaves.keys.sorted() {
            let leaf = leaves[bucket]!
            hasher.update(data: Array("\(bucket) \(leaf.count) \(leaf.xor)\(leaf.sum.map { " \($0)" } ?? "")\n".utf8))
        }
        return hasher.finalize().hexString
    }

    /// Buckets whose leaves differ between `self` and `other` (missing on one side included),
    /// in order.
    func differingBuckets(from other: LeafLevel) -> [Int64] {
        Set(leaves.keys).union(other.leaves.keys)
            .filter { leaves[$0] != other.leaves[$0] }
            .sorted()
    }

    /// Rows either side holds in `buckets`: what listing them would fetch.
    func rows(in buckets: [Int64]) -> Int64 {
        buckets.reduce(0) { $0 + (leaves[$1]?.count ?? 0) }
    }
}

extension Sequence where Element == UInt8 {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Splits `buckets` (with their row counts) into runs of at most `maxRows` rows each, so a
/// listing query never ships more than that per side (a single bucket may exceed it).
func batches(of buckets: [Int64], rows: (Int64) -> Int64, maxRows: Int) -> [[Int64]] {
    var result: [[Int64]] = []
    var current: [Int64] = []
    var currentRows: Int64 = 0
    for bucket in buckets {
        let count = rows(bucket)
        if !current.isEmpty && currentRows + count > Int64(maxRows) {
            result.append(current)
            current = []
            currentRows = 0
        }
        current.append(bucket)
        currentRows += count
    }
    if !current.isEmpty { result.append(current) }
    return result
}
