/// The writer's view of the events the `ids` index does not cover yet (seq > `indexedThrough`).
///
/// Inserting every appended id into the `ids` B-tree at once dirties about one random leaf page
/// per id: a batch of 10,000 rewrote most leaves of a 100k-event index, and the commit's copy
/// and fsync of those pages cost as much as the rest of the append (BENCHMARKS.md, "Event log").
/// So a new id stays out of `ids` at first: its block header already holds it durably, and the
/// writer keeps it here for dedup. Once `threshold` of them have gathered they are frozen as a
/// run sorted by index key, and each append transaction merges the run's next slice (5/4 as
/// many ids as it appends, so a run is merged before the next one fills): a slice covers one
/// key range, so its inserts share leaf pages. The transaction that merges a run's last slice
/// raises `indexedThrough` to the run's last seq.
///
/// After a restart the writer rebuilds it from the block headers past `indexedThrough`. A
/// run's progress is durable: each transaction that merges a slice records the run's last seq
/// and the last key merged (meta `indexMerge`), so the same run is formed again and resumes
/// after that key; short-lived writers (one per ingest run) still finish their runs.
struct UnindexedTail {
    struct Entry {
        let key: IDKey
        let seq: UInt64
    }

    /// Where a run's merge stands: the run is the unindexed events up to `runEnd`, and every
    /// one of them whose id sorts at or before `lastMerged` is in the index.
    struct Progress: Equatable {
        let runEnd: UInt64
        let lastMerged: IDKey

        /// Whether the unindexed event `seq` with id `key` is in the index by now.
        func covers(_ key: IDKey, seq: UInt64) -> Bool {
            seq <= runEnd && !UnindexedTail.keyOrder(lastMerged, key)
        }

        /// The meta value: the seq, then the 32 id bytes.
        var bytes: [UInt8] {
            LogFormat.bigEndian(runEnd) + lastMerged.withBytes { Array($0) }
        }

        init(runEnd: UInt64, lastMerged: IDKey) {
            self.runEnd = runEnd
            self.lastMerged = lastMerged
        }

        init?(_ bytes: [UInt8]) {
            guard bytes.count == 8 + LogFormat.idSize else { return nil }
            (runEnd, lastMerged) = bytes.withUnsafeBytes {
                (UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)), IDKey(UnsafeRawBufferPointer(rebasing: $0[8...])))
            }
        }
    }

    /// Every event up to this seq is in `ids`.
    private(set) var indexedThrough: UInt64
    /// The frozen run being merged, sorted by index key, and its ids for lookups.
    private var run: [Entry] = []
    private var runIDs = IDTable<UInt64>(capacity: 0)
    private var runEnd: UInt64 = 0
    /// How many of `run` are merged.
    private var merged = 0
    /// The events after the run, in seq order.
    private var recent: IDTable<UInt64>
    /// Unindexed events that make a run, at least; see `threshold`.
    let minimumRun: Int

    /// Largest `minimumRun`: its runs and tables stay far below what `IDTable` can index.
    static let largestMinimumRun = 1 << 24

    init(indexedThrough: UInt64, minimumRun: Int) {
        self.indexedThrough = indexedThrough
        self.minimumRun = min(max(1, minimumRun), Self.largestMinimumRun)
        recent = IDTable(capacity: min(self.minimumRun, 1 << 16))
    }

    /// Ids gathered before a run freezes: a quarter of the indexed events, so that a run
    /// brings many new keys to each leaf it touches as the index grows, within 1–8 times
    /// `minimumRun` to bound the memory it takes (about 50 bytes an id in the tables, and 40
    /// more for an id of the sorted run).
    var threshold: Int {
        min(max(minimumRun, Int(clamping: indexedThrough / 4)), 8 * minimumRun)
    }

    /// Where the unindexed event `key` is, if this tail holds it.
    func seq(of key: IDKey) -> UInt64? {
        runIDs[key] ?? recent[key]
    }

    /// Records a newly stored event; `seq` must follow every seq recorded before.
    mutating func record(_ key: IDKey, seq: UInt64) {
        _ = recent.insert(key, seq)
    }

    /// Called once every event of the tail is recorded: continues the run `progress` names,
    /// or freezes a new one when due.
    mutating func resume(_ progress: Progress?) {
        guard let progress, let end = recent.values.lastIndex(where: { $0 <= progress.runEnd }) else {
            committedSlice(of: 0)
            return
        }
        let (keys, values) = (recent.keys, recent.values)
        freeze(through: end)
        recent = IDTable(capacity: max(threshold, keys.count - end - 1))
        for i in (end + 1)..<keys.count { _ = recent.insert(keys[i], values[i]) }
        merged = run.firstIndex { Self.keyOrder(progress.lastMerged, $0.key) } ?? run.count
        committedSlice(of: 0)
    }

    /// A slice the next transaction merges: its entries, and what that transaction records.
    struct Slice {
        let entries: ArraySlice<Entry>
        /// The run's progress after the slice, or nil when the slice ends the run (or is empty).
        let progress: Progress?
        /// What `indexedThrough` becomes when the slice ends the run.
        let completes: UInt64?
        /// Whether the slice is the whole tail (which is then empty).
        var wholeTail = false
    }

    /// What a transaction that stores `stored` (new ids, ending at seq `last`) merges: with
    /// two runs' worth of them, the whole tail and them, sorted (as local as a run's slices,
    /// and a bulk load leaves no huge tail; at one run's worth, sorting the whole tail each
    /// time cost more than pacing); otherwise the run's next slice.
    func nextSlice(storing stored: [(IDKey, UInt64)], through last: UInt64) -> Slice {
        stored.count >= 2 * threshold ? wholeTail(adding: stored, through: last) : nextSlice(appended: stored.count)
    }

    /// Every unmerged entry and those of `added`, as one slice that completes the index
    /// through `last`.
    func wholeTail(adding added: [(IDKey, UInt64)] = [], through last: UInt64) -> Slice {
        Slice(entries: allEntriesSorted(adding: added)[...], progress: nil, completes: last, wholeTail: true)
    }

    /// The entries the next transaction merges when it appends `appended` events: 5/4 of
    /// that, so that a run is merged before the next one fills while each transaction carries
    /// little more merging than it must (a run that is late only makes the next one larger).
    func nextSlice(appended: Int) -> Slice {
        guard !run.isEmpty, appended > 0 else { return Slice(entries: run[run.count...], progress: nil, completes: nil) }
        let end = merged + min(run.count - merged, appended + (appended + 3) / 4)
        return end == run.count
            ? Slice(entries: run[merged..<end], progress: nil, completes: runEnd)
            : Slice(entries: run[merged..<end], progress: Progress(runEnd: runEnd, lastMerged: run[end - 1].key), completes: nil)
    }

    /// Takes note that `count` entries of `nextSlice` were committed; drops a finished run and
    /// freezes the next one when due.
    mutating func committedSlice(of count: Int) {
        merged += count
        if !run.isEmpty && merged == run.count {
            indexedThrough = runEnd
            run = []
            runIDs = IDTable(capacity: 0)
            merged = 0
        }
        if run.isEmpty && recent.count > 0 && recent.count >= threshold { freeze() }
    }

    /// Forgets every entry: all of them are in the index now, through `indexedThrough`.
    mutating func indexedAll(through seq: UInt64) {
        self = UnindexedTail(indexedThrough: seq, minimumRun: minimumRun)
    }

    /// Every unmerged entry and those of `added` (events not recorded here), sorted by index key.
    private func allEntriesSorted(adding added: [(IDKey, UInt64)] = []) -> [Entry] {
        var entries = Array(run[merged...])
        entries.reserveCapacity(entries.count + recent.count + added.count)
        entries += zip(recent.keys, recent.values).map { Entry(key: $0, seq: $1) }
        entries += added.map { Entry(key: $0, seq: $1) }
        entries.sort(by: Self.keyOrder)
        return entries
    }

    /// Whole ids in byte order: the index's key order, with ids that share a prefix ordered
    /// too, so that a run's progress names an exact position.
    static func keyOrder(_ a: IDKey, _ b: IDKey) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }

    private static func keyOrder(_ a: Entry, _ b: Entry) -> Bool { keyOrder(a.key, b.key) }

    /// Makes the recorded events up to entry `last` (all of them by default) the run.
    private mutating func freeze(through last: Int? = nil) {
        let end = last ?? recent.count - 1
        run = (0...end).map { Entry(key: recent.keys[$0], seq: recent.values[$0]) }
        run.sort(by: Self.keyOrder)
        runEnd = recent.values[end]
        if end == recent.count - 1 {
            runIDs = recent
        } else {
            runIDs = IDTable(capacity: run.count)
            for entry in run { _ = runIDs.insert(entry.key, entry.seq) }
        }
        recent = IDTable(capacity: min(threshold, 1 << 16))
        merged = 0
    }
}
