import Foundation
import LMDB

/// The ids of the unindexed events (past `indexedThrough`) that `seq(of:)` has looked
/// through, kept between lookups of one open log.
///
/// Ids and seqs never change, so what an earlier snapshot saw stays true for later ones: the
/// cache only grows by the events since, and starts over once the index has overtaken half of
/// it. Lookups wait for each other rather than each building its own copy.
final class TailIDCache: @unchecked Sendable {
    // Safe to share: every stored property is touched only while holding `lock`.
    private let lock = NSLock()
    /// The cached ids are those of events `first...through`.
    private var first: UInt64 = 1
    private var through: UInt64 = 0
    private var ids = IDTable<UInt64>(capacity: 0)

    /// Where the event `key` is among events `indexedThrough + 1 ... last` of `txn`'s snapshot.
    func seq(of key: IDKey, indexedThrough: UInt64, last: UInt64, in store: LogStore, _ txn: LMDBReadTransaction) throws -> UInt64? {
        lock.lock()
        defer { lock.unlock() }
        if indexedThrough + 1 < first {
            // A snapshot older than the cache's start: what the cache lacks, looked through once.
            var found: UInt64?
            try store.forEachStoredID(from: indexedThrough + 1, through: min(first - 1, last), skippingDamaged: true, txn) { seq, id in
                if found == nil && IDKey(id) == key { found = seq }
            }
            if let found { return found }
        } else if indexedThrough + 1 - first > UInt64(ids.count / 2) {
            (first, through) = (indexedThrough + 1, indexedThrough)
            ids = IDTable(capacity: Int(min(last - indexedThrough, 1 << 20)))
        }
        if through < last {
            try store.forEachStoredID(from: max(through + 1, first), through: last, skippingDamaged: true, txn) { seq, id in
                _ = ids.insert(IDKey(id), seq)
            }
            through = last
        }
        return ids[key].flatMap { $0 <= last ? $0 : nil }
    }
}
