import LMDB

/// One way the stored log disagrees with itself, as found by `EventLog.verifyStorage`.
public enum StorageInconsistency: Sendable, Hashable, CustomStringConvertible {
    /// Seqs must run 1, 2, 3 …; the next key found was `found`.
    case seqGap(expected: UInt64, found: UInt64)
    /// The value stored under `seq` (a record, or a block of records from `seq` on) cannot be
    /// decoded (bad header, bad frame, lengths that do not add up, missing dictionary).
    case undecodable(seq: UInt64, reason: String)
    /// The id stored in record `seq` is not found through the id index.
    case missingIndexEntry(seq: UInt64, id: EventID)
    /// The id index sends the id of record `seq` to another seq.
    case indexPointsElsewhere(seq: UInt64, id: EventID, indexedSeq: UInt64)
    /// An index entry (`key` in hex) names a seq whose record is absent or carries another id.
    case danglingIndexEntry(key: String, seq: UInt64)
    /// Record `seq` carries the id of the earlier record `firstSeq` (found among the events
    /// the index does not cover yet).
    case repeatedID(seq: UInt64, id: EventID, firstSeq: UInt64)
    /// Re-hashing the canonical JSON of record `seq` does not give its stored id.
    case idMismatch(seq: UInt64, stored: EventID, recomputed: EventID?)
    /// A byte counter in the meta database disagrees with the records.
    case counterMismatch(name: String, recorded: UInt64, actual: UInt64)

    public var description: String {
        switch self {
        case .seqGap(let expected, let found):
            return "seq gap: expected \(expected), found \(found)"
        case .undecodable(let seq, let reason):
            return "event \(seq) cannot be decoded: \(reason)"
        case .missingIndexEntry(let seq, let id):
            return "event \(seq) (\(id)) is missing from the id index"
        case .indexPointsElsewhere(let seq, let id, let indexedSeq):
            return "event \(seq) (\(id)) is indexed as seq \(indexedSeq)"
        case .danglingIndexEntry(let key, let seq):
            return "id index entry \(key) points to seq \(seq), which does not hold that id"
        case .repeatedID(let seq, let id, let firstSeq):
            return "event \(seq) repeats the id \(id) of event \(firstSeq)"
        case .idMismatch(let seq, let stored, let recomputed):
            return "event \(seq) is stored as \(stored) but its content hashes to \(recomputed.map(\.hex) ?? "nothing (not a valid envelope)")"
        case .counterMismatch(let name, let recorded, let actual):
            return "meta counter \(name) says \(recorded), the records add up to \(actual)"
        }
    }
}

extension EventLog {
    /// Checks the whole log in one snapshot: seqs dense from 1, every record decodes, every
    /// record up to `indexedThrough` (and of the merging run up to its last merged key) is
    /// found through the id index, later ones are indexed correctly or not at all and carry
    /// distinct ids, every index entry names a record with
    /// that id, byte counters add up; with `rehash`, every record's content hashes to its id.
    /// Returns the problems found (empty when the log is sound).
    public func verifyStorage(rehash: (([UInt8]) -> EventID?)? = nil) throws -> [StorageInconsistency] {
        let store = try store()
        var problems: [StorageInconsistency] = []
        var decoder = try RecordDecoder(dictionaries: store.dictionaries, meta: store.meta)
        try store.read("verify storage") { txn in
            let lastSeq = try store.lastSeq(txn)
            let indexedThrough = try store.indexedThrough(txn)
            if indexedThrough > lastSeq {
                problems.append(.counterMismatch(name: "indexedThrough", recorded: indexedThrough, actual: lastSeq))
            }
            let progress = try store.indexMergeProgress(txn)
            if let progress, progress.runEnd <= indexedThrough || progress.runEnd > lastSeq {
                problems.append(.counterMismatch(name: "indexMerge", recorded: progress.runEnd, actual: lastSeq))
            }
            var unindexed = IDTable<UInt64>(capacity: Int(lastSeq - min(indexedThrough, lastSeq)))
            var expected: UInt64? = 1
            var storedBytes: UInt64 = 0
            var rawBytes: UInt64 = 0
            try txn.forEach(in: store.events) { key, value in
                guard let first = LogFormat.integer(key, as: UInt64.self) else {
                    problems.append(.undecodable(seq: 0, reason: "events key of \(key.count) bytes"))
                    return true
                }
                if let expected, first != expected { problems.append(.seqGap(expected: expected, found: first)) }
                storedBytes += UInt64(value.count)
                do {
                    try decoder.decode(first: first, value: value, reading: first, in: txn) { records in
                        expected = records.last + 1
                        _ = try records.forEach(from: first) { event in
                            let id = event.id
                            rawBytes += UInt64(event.canonicalJSON.count)
                            if let rehash {
                                let recomputed = rehash(Array(event.canonicalJSON))
                                if recomputed != id { problems.append(.idMismatch(seq: event.seq, stored: id, recomputed: recomputed)) }
                            }
                            switch try store.indexedSeq(of: event.idBytes, txn) {
                            case nil where event.seq <= indexedThrough || progress?.covers(IDKey(event.idBytes), seq: event.seq) == true:
                                problems.append(.missingIndexEntry(seq: event.seq, id: id))
                            case let indexed? where indexed != event.seq:
                                problems.append(.indexPointsElsewhere(seq: event.seq, id: id, indexedSeq: indexed))
                            case _:
                                break
                            }
                            if event.seq > indexedThrough, let firstSeq = unindexed.insert(IDKey(event.idBytes), event.seq) {
                                problems.append(.repeatedID(seq: event.seq, id: id, firstSeq: firstSeq))
                            }
                            return true
                        }
                    }
                } catch let error as EventLogError {
                    problems.append(.undecodable(seq: first, reason: error.underlying.map { "\(error.message): \($0)" } ?? error.message))
                    // How many records the damaged value held may be unknown: resume the
                    // gap check at the next value.
                    expected = nil
                }
                return true
            }
            for (database, isPrefix) in [(store.ids, true), (store.collisions, false)] {
                try txn.forEach(in: database) { key, value in
                    let keyHex = key.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
                    guard let seq = LogFormat.integer(value, as: UInt64.self) else {
                        problems.append(.danglingIndexEntry(key: keyHex, seq: 0))
                        return true
                    }
                    let matches: Bool
                    do {
                        matches = try store.withStoredID(at: seq, txn) { id in
                            guard let id else { return false }
                            return isPrefix ? id.starts(with: key) && key.count == LogFormat.idPrefixSize : id.elementsEqual(key)
                        }
                    } catch let error as EventLogError where error.code == .corrupted {
                        matches = false // the damaged value is reported as undecodable too
                    }
                    if !matches { problems.append(.danglingIndexEntry(key: keyHex, seq: seq)) }
                    return true
                }
            }
            let recordedStored = LogFormat.integer(try txn.get(LogFormat.MetaKey.storedBytes, in: store.meta), as: UInt64.self) ?? 0
            let recordedRaw = LogFormat.integer(try txn.get(LogFormat.MetaKey.rawBytes, in: store.meta), as: UInt64.self) ?? 0
            if recordedStored != storedBytes {
                problems.append(.counterMismatch(name: "storedBytes", recorded: recordedStored, actual: storedBytes))
            }
            if recordedRaw != rawBytes && !problems.contains(where: { if case .undecodable = $0 { true } else { false } }) {
                problems.append(.counterMismatch(name: "rawBytes", recorded: recordedRaw, actual: rawBytes))
            }
        }
        return problems
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
